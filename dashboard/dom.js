// DOM building without markup strings: every value goes in as text (textContent) or as an attribute set through
// the DOM, so a device-supplied string can never become markup or script.

/** h('td', { class: 'num' }, 'text', child) — attributes by name; `on*` keys add listeners; children are strings or nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** The link to a device's page; the id is percent-encoded into the hash, whatever characters it holds. */
export function deviceLink(deviceId) {
  return h('a', { href: `#/device/${encodeURIComponent(deviceId)}`, class: 'device' }, deviceId);
}

export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? String(iso)
    : date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function percent(share) {
  return share === null || share === undefined ? '—' : `${(share * 100).toFixed(1)} %`;
}

/** A status shown by text and symbol, not by colour alone (the class only adds the colour). */
export function badge(kind, text) {
  const symbols = { ok: '✔', bad: '✖', warn: '▲', muted: '○', info: '●' };
  return h('span', { class: `badge badge-${kind}` }, h('span', { 'aria-hidden': 'true' }, symbols[kind] ?? '●'), ` ${text}`);
}

export function table(caption, headings, rows, attributes = {}) {
  return h(
    'table',
    attributes,
    caption ? h('caption', {}, caption) : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headings.map((heading) => h('th', { scope: 'col' }, heading)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

export function json(value) {
  return value === undefined ? '—' : JSON.stringify(value);
}
