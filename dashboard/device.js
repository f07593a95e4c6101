// One device: latest posture, desired vs reported side by side (drifted keys marked), agent state, the last
// sweep's findings and the history as a timeline, newest first, paged.
import { api, ApiError } from './api.js';
import { badge, formatTime, h, json, replaceChildren, table } from './dom.js';

const HISTORY_PAGE = 20;

function configurationRows(posture) {
  const desired = posture.desired ?? {};
  const reported = posture.reported ?? {};
  const drifted = new Set(posture.driftedKeys ?? []);
  const keys = [...new Set([...Object.keys(desired), ...Object.keys(reported)])].sort();
  return keys.map((key) => {
    const isDrifted = drifted.has(key);
    return h(
      'tr',
      { class: isDrifted ? 'drifted' : undefined, dataset: { key } },
      h('th', { scope: 'row' }, key),
      h('td', {}, h('code', {}, key in desired ? json(desired[key]) : '—')),
      h('td', {}, h('code', {}, key in reported ? json(reported[key]) : '—')),
      h('td', {}, isDrifted ? badge('warn', 'drifted') : key in desired ? badge('ok', 'matches') : ''),
    );
  });
}

function timelineItem(entry) {
  return h(
    'li',
    { class: 'timeline-item' },
    h('time', { datetime: entry.at }, formatTime(entry.at)),
    h('span', { class: 'kind' }, entry.kind),
    h('span', { class: 'summary' }, entry.summary),
    h('span', { class: 'hint' }, `configuration ${entry.posture?.configurationState ?? '—'}, agent ${entry.posture?.agentState ?? '—'}`),
  );
}

export async function renderDevice(view, deviceId) {
  if (!deviceId) {
    replaceChildren(view, h('p', { class: 'notice error' }, 'No device id in the address.'));
    return;
  }
  const path = `devices/${encodeURIComponent(deviceId)}/posture`;
  let posture;
  try {
    posture = await api(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replaceChildren(
        view,
        h('h1', {}, 'Device ', h('span', { class: 'device-id' }, deviceId)),
        h('p', { class: 'notice' }, 'No posture recorded for this device.'),
      );
      return;
    }
    throw error;
  }
  const compliant =
    posture.compliant === undefined
      ? badge('muted', 'not evaluated yet')
      : posture.compliant
        ? badge('ok', 'compliant')
        : badge('bad', 'not compliant');
  const facts = h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'Compliance'),
    h('dd', {}, compliant, posture.lastSweepId ? ` (sweep ${posture.lastSweepId})` : ''),
    h('dt', {}, 'Security module'),
    h('dd', {}, posture.modulePresent ? badge('ok', `${posture.moduleId} present`) : badge('bad', `${posture.moduleId} missing`)),
    h('dt', {}, 'Configuration'),
    h('dd', {}, posture.configurationState),
    h('dt', {}, 'Agent state'),
    h(
      'dd',
      { id: 'agent-state' },
      posture.agentState === 'failed'
        ? badge('bad', 'failed')
        : posture.agentState
          ? badge('ok', posture.agentState)
          : badge('muted', 'not reported'),
    ),
    h('dt', {}, 'Invalid fields'),
    h('dd', { id: 'invalid-fields' }, (posture.invalidFields ?? []).length > 0 ? posture.invalidFields.join(', ') : 'none'),
    h('dt', {}, 'Authentication'),
    h('dd', {}, posture.authType ?? '—'),
    h('dt', {}, 'Updated'),
    h('dd', {}, formatTime(posture.updatedAt)),
  );
  const findings = (posture.findings ?? []).map((finding) =>
    h(
      'li',
      {},
      finding.status === 'violation' ? badge('bad', finding.ruleId) : badge('muted', `${finding.ruleId} (suppressed)`),
      ` ${finding.severity}: ${finding.message}`,
    ),
  );
  const timeline = h('ol', { class: 'timeline', reversed: true });
  const more = h('div', { class: 'pager' });
  let token;
  const loadHistory = async () => {
    const page = await api(`${path}/history`, { query: { limit: HISTORY_PAGE, continuationToken: token } });
    for (const entry of page.entries) timeline.append(timelineItem(entry));
    token = page.continuationToken ?? undefined;
    replaceChildren(
      more,
      token
        ? h('button', { type: 'button', class: 'secondary', id: 'older', onclick: () => void loadHistory() }, 'Older entries')
        : h('span', { class: 'hint' }, timeline.children.length === 0 ? 'No history.' : 'Start of history.'),
    );
  };
  replaceChildren(
    view,
    h('h1', {}, 'Device ', h('span', { class: 'device-id' }, deviceId)),
    h(
      'div',
      { class: 'columns' },
      h('section', { class: 'panel' }, h('h2', {}, 'Latest posture'), facts),
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Last sweep’s findings'),
        findings.length > 0
          ? h('ul', { class: 'device-findings' }, findings)
          : h('p', {}, posture.compliant === undefined ? 'Not evaluated by a sweep yet.' : 'No findings.'),
      ),
    ),
    h(
      'section',
      { class: 'panel' },
      table('Desired and reported configuration', ['Key', 'Desired', 'Reported', ''], configurationRows(posture), {
        class: 'configuration',
      }),
    ),
    h('section', { class: 'panel' }, h('h2', {}, 'History (newest first)'), timeline, more),
  );
  await loadHistory();
}
