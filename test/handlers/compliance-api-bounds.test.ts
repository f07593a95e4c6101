/**
 * The compliance API's input bounds (issue 9, defects 2, 3 and 5) through the function handlers with in-memory
 * stores: paging tokens, ids used as table keys, suppression selectors and body depth all answer 400 with a message
 * before any store is asked, and the in-memory store checks its tokens exactly as the table store does.
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { makeFindingsHandler } from '../../functions/compliance-findings';
import { makeDeleteSuppressionHandler } from '../../functions/suppressions-delete';
import { makeSuppressionsHandler } from '../../functions/suppressions';
import { makeGetSweepHandler } from '../../functions/sweeps-get';
import { makeStartSweepHandler } from '../../functions/sweeps-start';
import { MemorySuppressionStore } from '../../shared/adapters/memory/memory-suppression-store';
import { MemorySweepQueue } from '../../shared/adapters/memory/memory-sweep-queue';
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { MAX_CONDITION_DEPTH } from '../../shared/domain/iothub-query/twin-condition';
import { MAX_REASON_LENGTH, MAX_SELECTOR_LENGTH } from '../../shared/services/suppressions-api';
import type { FindingRecord } from '../../shared/ports/sweep-store';

const NOW = new Date('2026-11-23T10:00:00Z');
const SWEEP = 'sw-20261123T020000Z-sched';
const base64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');
const context = (): InvocationContext => new InvocationContext({ logHandler: () => undefined });

function request(
  method: string,
  path: string,
  options: { params?: Record<string, string>; query?: Record<string, string>; body?: string } = {},
) {
  return new HttpRequest({
    method,
    url: `http://localhost/api/${path}`,
    params: options.params ?? {},
    query: options.query ?? {},
    ...(options.body === undefined ? {} : { body: { string: options.body }, headers: { 'content-type': 'application/json' } }),
  });
}

function message(response: HttpResponseInit): string {
  return (response.jsonBody as { message?: string } | undefined)?.message ?? '';
}

/** A planned sweep of 3 shards with 5 findings in each, and a store that counts its listFindings calls. */
async function sweeps(): Promise<{ store: MemorySweepStore; calls: () => number }> {
  const store = new MemorySweepStore();
  await store.createRun({
    sweepId: SWEEP,
    trigger: 'schedule',
    dryRun: true,
    status: 'completed',
    startedAt: NOW.toISOString(),
    plan: { splits: [], shards: 3, buckets: 3, fleetSize: 15, estimatedMissingModules: 0, bulkImport: false },
  });
  const rows: FindingRecord[] = Array.from({ length: 15 }, (_, i) => ({
    sweepId: SWEEP,
    shard: i % 3,
    bucket: i % 3,
    deviceId: `dev-${String(i).padStart(2, '0')}`,
    ruleId: 'module-missing',
    severity: 'critical',
    status: 'violation',
    message: 'no module',
  }));
  await store.writeFindings(rows);
  let calls = 0;
  const list = store.listFindings.bind(store);
  store.listFindings = (query) => {
    calls++;
    return list(query);
  };
  return { store, calls: () => calls };
}

describe('GET /api/compliance/findings continuation tokens (defect 2)', () => {
  const findings = async (store: MemorySweepStore, query: Record<string, string>): Promise<HttpResponseInit> =>
    makeFindingsHandler(() => Promise.resolve({ sweeps: store }))(
      request('GET', 'compliance/findings', { query: { sweepId: SWEEP, ...query } }),
      context(),
    );

  it('pages through every shard with the tokens it hands out', async () => {
    const { store } = await sweeps();
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const response = await findings(store, { limit: '4', ...(token === null ? {} : { continuationToken: token }) });
      expect(response.status).toBe(200);
      const body = response.jsonBody as { findings: FindingRecord[]; continuationToken: string | null };
      seen.push(...body.findings.map((f) => f.deviceId));
      token = body.continuationToken;
    } while (token !== null);
    expect(seen.sort()).toEqual(Array.from({ length: 15 }, (_, i) => `dev-${String(i).padStart(2, '0')}`));
  });

  it.each<[string, string]>([
    ['a negative shard', base64({ shard: -10000, after: '' })],
    ['a shard of -1e7', base64({ shard: -1e7, after: '' })],
    ['a fractional shard', base64({ shard: 1.5, after: '' })],
    ['a shard past the plan', base64({ shard: 99999, after: '' })],
    ['a shard equal to the shard count', base64({ shard: 3, after: '' })],
    ['a shard as a string', base64({ shard: '0', after: '' })],
    ['a missing position', base64({ shard: 0 })],
    ['an unknown field', base64({ shard: 0, after: '', s: 1 })],
    ['an oversized position', base64({ shard: 0, after: 'x'.repeat(5000) })],
    ["the table store's shape", base64({ s: 0, t: 'junk' })],
    ['JSON that is not an object', base64([0, ''])],
    ['base64 of something that is not JSON', Buffer.from('{"shard":0,').toString('base64')],
    ['non-base64 text', 'not a token!'],
    ['URL-safe base64', base64({ shard: 0, after: '~~~~~~' }).replace(/\+/g, '-').replace(/\//g, '_')],
    ['a token over 4,096 characters', 'A'.repeat(4100)],
  ])('answers %s with 400 and a clear message, without reading a page', async (_name, continuationToken) => {
    const { store, calls } = await sweeps();
    const started = Date.now();
    const response = await findings(store, { continuationToken });
    expect(response.status).toBe(400);
    expect(response.jsonBody).toEqual({ error: 'BadRequest', message: 'continuationToken is not a token returned by a previous page' });
    expect(calls()).toBeLessThanOrEqual(1); // the store is asked once and refuses the token before reading anything
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers a sweepId that cannot be a table key with 400, without asking the store', async () => {
    const { store, calls } = await sweeps();
    const response = await findings(store, { sweepId: 'a/b' });
    expect(response.status).toBe(400);
    expect(message(response)).toMatch(/^sweepId must be 1–100 ASCII letters, digits/);
    expect(calls()).toBe(0);
  });
});

describe('ids used as table keys (defect 5)', () => {
  it.each(['a/b', 'a\\b', 'a#b', 'a?b', 'a b', '~recent', '-leading', 'é', 'x'.repeat(101), 'a\u0000b'])(
    'GET /api/sweeps/%j answers 400 without asking the store',
    async (id) => {
      const store = new MemorySweepStore();
      store.getRun = () => Promise.reject(new Error('the store must not be asked'));
      const response = await makeGetSweepHandler(() => Promise.resolve({ sweeps: store }))(
        request('GET', `sweeps/${encodeURIComponent(id)}`, { params: { id } }),
        context(),
      );
      expect(response.status).toBe(400);
      expect(message(response)).toMatch(/^sweep id must be 1–100 ASCII letters, digits, '-', '_' or '.'/);
    },
  );

  it.each(['a/b', 'sup-1?x', 'a#b', "it's", 'x'.repeat(101)])(
    'DELETE /api/suppressions/%j answers 400 without asking the store',
    async (id) => {
      const store = new MemorySuppressionStore();
      store.delete = () => Promise.reject(new Error('the store must not be asked'));
      const response = await makeDeleteSuppressionHandler(() => Promise.resolve({ suppressions: store }))(
        request('DELETE', `suppressions/${encodeURIComponent(id)}`, { params: { id } }),
        context(),
      );
      expect(response.status).toBe(400);
      expect(message(response)).toMatch(/^suppression id must be 1–100 ASCII letters/);
    },
  );

  it('still finds what TwinGuard created: a sweep started through the API and a suppression', async () => {
    const sweepStore = new MemorySweepStore();
    const started = await makeStartSweepHandler(() =>
      Promise.resolve({ sweeps: sweepStore, queue: new MemorySweepQueue(), now: () => NOW }),
    )(request('POST', 'sweeps', { body: '{"dryRun": true}' }), context());
    expect(started.status).toBe(202);
    const sweepId = (started.jsonBody as { sweepId: string }).sweepId;
    const got = await makeGetSweepHandler(() => Promise.resolve({ sweeps: sweepStore }))(
      request('GET', `sweeps/${sweepId}`, { params: { id: sweepId } }),
      context(),
    );
    expect(got.status).toBe(200);

    const suppressions = new MemorySuppressionStore();
    const created = await makeSuppressionsHandler(() => Promise.resolve({ suppressions, now: () => NOW }))(
      request('POST', 'suppressions', { body: JSON.stringify({ ruleId: '*', deviceId: 'dev-1', reason: 'lab' }) }),
      context(),
    );
    const id = (created.jsonBody as { id: string }).id;
    const deleted = await makeDeleteSuppressionHandler(() => Promise.resolve({ suppressions }))(
      request('DELETE', `suppressions/${id}`, { params: { id } }),
      context(),
    );
    expect(deleted.status).toBe(204);
  });
});

describe('POST /api/suppressions bounds (defect 3)', () => {
  async function post(body: unknown): Promise<{ response: HttpResponseInit; stored: number }> {
    const suppressions = new MemorySuppressionStore();
    const response = await makeSuppressionsHandler(() => Promise.resolve({ suppressions, now: () => NOW }))(
      request('POST', 'suppressions', { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      context(),
    );
    return { response, stored: (await suppressions.list()).length };
  }

  /** A valid condition of exactly `length` characters: `tags.site = 'lab-0000' OR … OR tags.site = 'xx…'`. */
  function longSelector(length: number): string {
    const term = "tags.site = 'lab-0000'";
    const last = (pad: number): string => ` OR tags.site = '${'x'.repeat(pad)}'`;
    let text = term;
    while (text.length + term.length + 4 + last(1).length <= length) text += ` OR ${term}`;
    const selector = text + last(length - text.length - last(0).length);
    expect(selector).toHaveLength(length);
    return selector;
  }

  it.each<[string, string, RegExp]>([
    [
      '20,000 nested parentheses',
      `${'('.repeat(20_000)}tags.a = 1${')'.repeat(20_000)}`,
      /^selector is \d+ characters long; the limit is 4096$/,
    ],
    ['NOT × 20,000', `${'NOT '.repeat(20_000)}tags.a = 1`, /^selector is 80010 characters long; the limit is 4096$/],
    ['a valid 58,886-character selector', longSelector(58_886), /^selector is 58886 characters long; the limit is 4096$/],
    [
      `${MAX_CONDITION_DEPTH + 1} nested parentheses within the length limit`,
      `${'('.repeat(MAX_CONDITION_DEPTH + 1)}tags.a = 1${')'.repeat(MAX_CONDITION_DEPTH + 1)}`,
      /^selector is not a valid condition: Condition nests parentheses and NOT more than 32 levels deep \(at position 32\)$/,
    ],
    [
      `NOT × ${MAX_CONDITION_DEPTH + 1} within the length limit`,
      `${'NOT '.repeat(MAX_CONDITION_DEPTH + 1)}tags.a = 1`,
      /^selector is not a valid condition: Condition nests parentheses and NOT more than 32 levels deep/,
    ],
  ])('%s → 400 with the reason, nothing stored', async (_name, selector, expected) => {
    const { response, stored } = await post({ ruleId: '*', selector, reason: 'lab' });
    expect(response.status).toBe(400);
    expect(message(response)).toMatch(expected);
    expect(stored).toBe(0);
  });

  it(`accepts a selector of exactly ${MAX_SELECTOR_LENGTH} characters and ${MAX_CONDITION_DEPTH} levels`, async () => {
    expect((await post({ ruleId: '*', selector: longSelector(MAX_SELECTOR_LENGTH), reason: 'lab' })).response.status).toBe(201);
    const nested = `${'NOT ('.repeat(MAX_CONDITION_DEPTH / 2)}tags.a = 1${')'.repeat(MAX_CONDITION_DEPTH / 2)}`;
    expect((await post({ ruleId: '*', selector: nested, reason: 'lab' })).response.status).toBe(201);
  });

  it.each<[string, unknown, RegExp]>([
    [
      'a reason over the limit',
      { ruleId: '*', deviceId: 'd', reason: 'r'.repeat(MAX_REASON_LENGTH + 1) },
      /reason is required \(1–1000 characters\)/,
    ],
    ['a device id over 128 characters', { ruleId: '*', deviceId: 'd'.repeat(129), reason: 'r' }, /deviceId is not a legal device id/],
    ['a ruleId that is an object', { ruleId: { deep: [[[1]]] }, deviceId: 'd', reason: 'r' }, /ruleId must be \*/],
    ['a selector that is an array', { ruleId: '*', selector: ['tags.a = 1'], reason: 'r' }, /selector must be a twin condition string/],
  ])('%s → 400', async (_name, body, expected) => {
    const { response, stored } = await post(body);
    expect(response.status).toBe(400);
    expect(message(response)).toMatch(expected);
    expect(stored).toBe(0);
  });

  it('answers a body nested 100,000 levels deep with 400, not a stack overflow', async () => {
    const deep = `{"ruleId":"*","deviceId":"d","reason":"r","extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const { response, stored } = await post(deep);
    expect(response.status).toBe(400);
    expect(message(response)).toBe('body must not nest objects or arrays more than 16 levels deep');
    expect(stored).toBe(0);
  });

  it('ignores a shallow extra field', async () => {
    expect((await post({ ruleId: '*', deviceId: 'd', reason: 'r', note: { by: 'ops' } })).response.status).toBe(201);
  });
});

describe('POST /api/sweeps body depth', () => {
  it('answers a deeply nested body with 400 and starts nothing', async () => {
    const store = new MemorySweepStore();
    const queue = new MemorySweepQueue();
    const response = await makeStartSweepHandler(() => Promise.resolve({ sweeps: store, queue, now: () => NOW }))(
      request('POST', 'sweeps', { body: `{"dryRun":true,"x":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}` }),
      context(),
    );
    expect(response.status).toBe(400);
    expect(message(response)).toBe('body must not nest objects or arrays more than 16 levels deep');
    expect(await store.listRecentRuns(10)).toEqual([]);
  });
});
