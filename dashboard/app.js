// The dashboard's router: one page per hash (#/overview, #/findings, #/device/<id>, #/sweeps, #/sweeps/<id>,
// #/dead-letters). Each page module exports render(view, params) and may return a stop() for its timers.
import { ApiError, forgetKey, getKey, NoKeyError, setKey } from './api.js';
import { h, replaceChildren } from './dom.js';
import { renderDeadLetters } from './dead-letters.js';
import { renderDevice } from './device.js';
import { renderFindings } from './findings.js';
import { renderOverview } from './overview.js';
import { renderSweep, renderSweeps } from './sweeps.js';

const view = document.getElementById('view');
const statusLine = document.getElementById('status');
let stopPage;

function route() {
  const [hash, search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [page, ...rest] = hash.split('/');
  const query = new URLSearchParams(search);
  const param = rest.length > 0 ? safeDecode(rest.join('/')) : undefined;
  switch (page) {
    case 'findings':
      return { name: 'findings', render: (target) => renderFindings(target, query) };
    case 'device':
      return { name: 'findings', render: (target) => renderDevice(target, param) };
    case 'sweeps':
      return param ? { name: 'sweeps', render: (target) => renderSweep(target, param) } : { name: 'sweeps', render: renderSweeps };
    case 'dead-letters':
      return { name: 'dead-letters', render: renderDeadLetters };
    default:
      return { name: 'overview', render: renderOverview };
  }
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function showStatus(text) {
  statusLine.textContent = text;
}

/** What a page shows when its data could not be read. */
export function failure(error) {
  if (error instanceof NoKeyError)
    return h('p', { class: 'notice' }, 'Enter the function key above to see data. The key stays in this tab only.');
  if (error instanceof ApiError && error.status === 401) {
    forgetKey();
    showKeyState();
    return h('p', { class: 'notice error' }, 'The function key was refused. Enter it again.');
  }
  return h('p', { class: 'notice error' }, `Could not load: ${error.message}`);
}

async function render() {
  stopPage?.();
  stopPage = undefined;
  const current = route();
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.page === current.name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  replaceChildren(view, h('p', { class: 'loading' }, 'Loading…'));
  view.dataset.ready = 'false';
  try {
    stopPage = await current.render(view);
  } catch (error) {
    replaceChildren(view, failure(error));
  }
  view.dataset.ready = 'true';
}

function showKeyState() {
  const has = Boolean(getKey());
  document.getElementById('key-form').hidden = has;
  document.getElementById('key-set').hidden = !has;
}

document.getElementById('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('key-input');
  if (!input.value) return;
  setKey(input.value);
  input.value = '';
  showKeyState();
  void render();
});
document.getElementById('key-forget').addEventListener('click', () => {
  forgetKey();
  showKeyState();
  void render();
});
// A new page moves keyboard focus to its content, so Tab continues there and not in the navigation left behind.
window.addEventListener('hashchange', () => void render().then(() => view.focus({ preventScroll: true })));
showKeyState();
void render();
