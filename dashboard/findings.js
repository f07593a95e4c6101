// Findings of the last completed sweep, filtered and paged over the API's continuation tokens (one page in memory).
import { api, downloadCsv } from './api.js';
import { badge, deviceLink, h, replaceChildren, table } from './dom.js';
import { TokenPager } from './token-pager.js';
import { RULE_IDS } from './rule-ids.js';

const PAGE_SIZE = 25;

function select(name, label, options, value) {
  const id = `filter-${name}`;
  return h(
    'label',
    { for: id },
    label,
    h(
      'select',
      { id, name },
      h('option', { value: '' }, 'any'),
      options.map((option) => h('option', { value: option, selected: option === value }, option)),
    ),
  );
}

function suppressForm(finding, cell) {
  const reason = h('input', {
    name: 'reason',
    required: true,
    maxlength: 1000,
    'aria-label': `Reason to suppress ${finding.ruleId} on ${finding.deviceId}`,
  });
  const expires = h('input', { name: 'expires', type: 'date', 'aria-label': 'Expires (optional)' });
  const message = h('span', { class: 'form-message', role: 'status' });
  const form = h(
    'form',
    {
      class: 'suppress-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { ruleId: finding.ruleId, deviceId: finding.deviceId, reason: reason.value };
        if (expires.value) body.expiresAt = `${expires.value}T23:59:59Z`;
        try {
          const created = await api('suppressions', { method: 'POST', body });
          replaceChildren(cell, badge('ok', `suppressed as ${created.id}`), h('span', { class: 'hint' }, ' (applies from the next sweep)'));
        } catch (error) {
          message.textContent = error.message;
        }
      },
    },
    reason,
    expires,
    h('button', { type: 'submit' }, 'Suppress'),
    h('button', { type: 'button', class: 'secondary', onclick: () => replaceChildren(cell, suppressButton(finding, cell)) }, 'Cancel'),
    message,
  );
  return form;
}

function suppressButton(finding, cell) {
  return h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        replaceChildren(cell, suppressForm(finding, cell));
        cell.querySelector('input')?.focus();
      },
    },
    'Suppress…',
  );
}

function findingRow(finding) {
  const action = h('td', {});
  if (finding.status === 'violation') action.append(suppressButton(finding, action));
  else action.append(h('span', { class: 'hint' }, finding.suppressionId ?? ''));
  const status = finding.status === 'violation' ? badge('bad', 'violation') : badge('muted', 'suppressed');
  return h(
    'tr',
    { class: 'finding' },
    h('td', {}, deviceLink(finding.deviceId)),
    h('td', {}, finding.ruleId),
    h('td', {}, finding.severity),
    h('td', {}, status),
    h('td', {}, finding.message),
    h('td', {}, ...actionLines(finding)),
    action,
  );
}

// What the sweep did about the finding: its repair and each mitigation, one line each.
function actionLines(finding) {
  const lines = [];
  if (finding.repairAction) lines.push(`${finding.repairAction}: ${finding.repairResult ?? ''}`);
  for (const { action, result } of finding.mitigations ?? []) lines.push(`${action}: ${result}`);
  return lines.map((line) => h('div', {}, line));
}

export async function renderFindings(view, initial = new URLSearchParams()) {
  const filters = {
    rule: initial.get('rule') ?? '',
    status: initial.get('status') ?? '',
    severity: initial.get('severity') ?? '',
    device: initial.get('device') ?? '',
  };
  const results = h('div', { class: 'results' });
  const deviceInput = h('input', { id: 'filter-device', name: 'device', value: filters.device, maxlength: 128, spellcheck: 'false' });
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(form);
        for (const name of Object.keys(filters)) filters[name] = String(data.get(name) ?? '');
        pager.reset();
        void load();
      },
    },
    select('rule', 'Rule ', RULE_IDS, filters.rule),
    select('status', 'Status ', ['violation', 'suppressed'], filters.status),
    select('severity', 'Severity ', ['critical', 'high', 'medium', 'low'], filters.severity),
    h('label', { for: 'filter-device' }, 'Device id starts with ', deviceInput),
    h('button', { type: 'submit' }, 'Apply'),
    h('button', { type: 'button', class: 'secondary', id: 'export-csv', onclick: () => void exportCsv() }, 'Export CSV'),
  );
  let sweepId;
  const exportCsv = async () => {
    try {
      await downloadCsv('compliance/findings', { ...filters }, `findings-${sweepId ?? 'latest'}.csv`);
    } catch (error) {
      results.prepend(h('p', { class: 'notice error' }, `Export failed: ${error.message}`));
    }
  };
  const load = async () => {
    results.dataset.ready = 'false';
    let page;
    try {
      page = await api('compliance/findings', { query: { ...filters, limit: PAGE_SIZE, continuationToken: pager.token } });
    } catch (error) {
      replaceChildren(
        results,
        h('p', { class: 'notice error' }, error.status === 404 ? 'No sweep has completed yet.' : `Could not load: ${error.message}`),
      );
      results.dataset.ready = 'true';
      return;
    }
    sweepId = page.sweepId;
    const rows = page.findings.map(findingRow);
    replaceChildren(
      results,
      h('p', { class: 'hint' }, `Sweep ${page.sweepId}, page ${pager.pageNumber}`),
      rows.length > 0
        ? table(null, ['Device', 'Rule', 'Severity', 'Status', 'Message', 'Repair / mitigations', ''], rows, { class: 'findings' })
        : h('p', { class: 'notice' }, 'No findings match.'),
    );
    pager.update(page.continuationToken);
    results.dataset.ready = 'true';
  };
  const pager = new TokenPager(load);
  replaceChildren(view, h('h1', {}, 'Findings'), form, results, pager.element);
  await load();
}
