// Dead letters: why each event could not be processed, where it was in the stream, and the start of its payload.
import { api } from './api.js';
import { deviceLink, formatTime, h, replaceChildren, table } from './dom.js';
import { TokenPager } from './token-pager.js';

const PAGE_SIZE = 25;

export async function renderDeadLetters(view) {
  const results = h('div', {});
  const load = async () => {
    const page = await api('dead-letters', { query: { limit: PAGE_SIZE, preview: 600, continuationToken: pager.token } });
    const rows = page.deadLetters.map((letter) =>
      h(
        'tr',
        { class: 'dead-letter' },
        h('td', {}, formatTime(letter.recordedAt)),
        h('td', {}, letter.reason),
        h(
          'td',
          {},
          `partition ${letter.partitionId}, sequence ${letter.sequenceNumber}, offset ${letter.offset}`,
          h('br'),
          `enqueued ${formatTime(letter.enqueuedTime)}`,
        ),
        h('td', {}, letter.deviceId ? deviceLink(letter.deviceId) : '—', letter.source ? h('div', { class: 'hint' }, letter.source) : null),
        h(
          'td',
          {},
          h('pre', { class: 'payload' }, letter.rawPreview),
          h('span', { class: 'hint' }, `${letter.rawSize} bytes${letter.rawPreviewTruncated ? ', preview cut' : ''}`),
        ),
      ),
    );
    replaceChildren(
      results,
      rows.length > 0
        ? table(null, ['Recorded', 'Reason', 'Position', 'Device', 'Payload (preview)'], rows, { class: 'dead-letters' })
        : h('p', { class: 'notice' }, 'No dead letters.'),
    );
    pager.update(page.continuationToken);
  };
  const pager = new TokenPager(load);
  replaceChildren(view, h('h1', {}, 'Dead letters'), results, pager.element);
  await load();
}
