/**
 * The compliance API's input bounds against real Table storage (Azurite through @azure/data-tables): findings
 * tokens are range-checked before any query (defect 2), ids that cannot be table keys never reach the service
 * (defect 5: Azurite answered those with a 500 that the retry layer held for its whole budget), and a suppression
 * too large for an entity is refused up front (defect 3: PropertyValueTooLarge).
 */
import type { TableClient } from '@azure/data-tables';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { makeDeleteSuppressionHandler } from '../../functions/suppressions-delete';
import { makeGetSweepHandler } from '../../functions/sweeps-get';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { createTableClient, ensureTables } from '../../shared/adapters/table-clients';
import { TableSuppressionStore } from '../../shared/adapters/table-suppression-store';
import { encodeFindingsToken, TableSweepStore } from '../../shared/adapters/table-sweep-store';
import { listFindingsPage } from '../../shared/services/findings-api';
import { createSuppression } from '../../shared/services/suppressions-api';
import type { FindingRecord } from '../../shared/ports/sweep-store';

const SWEEP = 'sw-20261123T020000Z-sched';
const SHARDS = 4;
const NOW = new Date('2026-11-23T10:00:00Z');
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const context = (): InvocationContext => new InvocationContext({ logHandler: () => undefined });

/** Counts the HTTP requests a Table client sends. */
function countRequests(client: TableClient): () => number {
  let count = 0;
  client.pipeline.addPolicy({
    name: 'count-requests',
    sendRequest: (request, next) => {
      count++;
      return next(request);
    },
  });
  return () => count;
}

describe('API input bounds on Azurite', () => {
  let azurite: EmbeddedAzurite;
  let sweeps: TableSweepStore;
  let suppressions: TableSuppressionStore;
  let findingRequests: () => number;
  let runRequests: () => number;
  let suppressionRequests: () => number;

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite();
    const suffix = Math.random().toString(36).slice(2, 8);
    const runs = createTableClient({ connectionString: azurite.connectionString }, `Runs${suffix}`);
    const findings = createTableClient({ connectionString: azurite.connectionString }, `Findings${suffix}`);
    const suppressionTable = createTableClient({ connectionString: azurite.connectionString }, `Sup${suffix}`);
    await ensureTables([runs, findings, suppressionTable]);
    // A retry budget long enough that a 500 treated as transient (the old behaviour for `a/b`) shows up as slow.
    sweeps = new TableSweepStore(runs, findings, { retryBudgetMs: 10_000 });
    suppressions = new TableSuppressionStore(suppressionTable, { retryBudgetMs: 10_000 });
    await sweeps.createRun({
      sweepId: SWEEP,
      trigger: 'schedule',
      dryRun: true,
      status: 'completed',
      startedAt: NOW.toISOString(),
      plan: { splits: [], shards: SHARDS, buckets: SHARDS, fleetSize: 40, estimatedMissingModules: 0, bulkImport: false },
    });
    const rows: FindingRecord[] = Array.from({ length: 40 }, (_, i) => ({
      sweepId: SWEEP,
      shard: i % SHARDS,
      bucket: i % SHARDS,
      deviceId: `dev#${String(i).padStart(2, '0')}?`,
      ruleId: 'module-missing',
      severity: 'critical',
      status: 'violation',
      message: 'no module',
    }));
    await sweeps.writeFindings(rows);
    findingRequests = countRequests(findings);
    runRequests = countRequests(runs);
    suppressionRequests = countRequests(suppressionTable);
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('pages through every shard with the tokens it hands out, table tokens included', async () => {
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const page = await listFindingsPage({ sweepId: SWEEP, limit: '3', ...(token === null ? {} : { continuationToken: token }) }, sweeps);
      expect(page.status).toBe(200);
      const body = page.body as { findings: FindingRecord[]; continuationToken: string | null };
      seen.push(...body.findings.map((f) => f.deviceId));
      token = body.continuationToken;
      pages++;
    } while (token !== null);
    expect(seen).toHaveLength(40);
    expect(new Set(seen).size).toBe(40);
    expect(pages).toBeGreaterThanOrEqual(14);
  });

  it.each<[string, string]>([
    ['{"s":-10000}', b64('{"s":-10000}')],
    ['{"s":-1e7}', b64('{"s":-1e7}')],
    ['{"s":1.5}', b64('{"s":1.5}')],
    ['{"s":99999}', b64('{"s":99999}')],
    ['{"s":0,"t":"junk"}', b64('{"s":0,"t":"junk"}')],
    ['a table token that is not JSON', encodeFindingsToken(0, b64('{"nextPartitionKey":'))],
  ])('answers %s with 400 before sending a single query', async (_name, continuationToken) => {
    const before = findingRequests();
    const started = Date.now();
    const answer = await listFindingsPage({ sweepId: SWEEP, continuationToken }, sweeps);
    expect(answer).toEqual({
      status: 400,
      body: { error: 'BadRequest', message: 'continuationToken is not a token returned by a previous page' },
    });
    expect(findingRequests() - before).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers a well-formed table token the service does not know with a page or a 400, never a 500', async () => {
    const token = encodeFindingsToken(1, b64(JSON.stringify({ nextPartitionKey: `${SWEEP}_001`, nextRowKey: 'zzz' })));
    const answer = await listFindingsPage({ sweepId: SWEEP, continuationToken: token }, sweeps);
    expect([200, 400]).toContain(answer.status);
  });

  it('answers GET /api/sweeps/a%2Fb with 400 at once, never asking the table', async () => {
    const before = runRequests();
    const started = Date.now();
    const response = await makeGetSweepHandler(() => Promise.resolve({ sweeps }))(
      new HttpRequest({ method: 'GET', url: 'http://localhost/api/sweeps/a%2Fb', params: { id: 'a/b' } }),
      context(),
    );
    expect(response.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(runRequests() - before).toBe(0);
  });

  it('answers DELETE /api/suppressions/a%2Fb with 400 at once, never asking the table', async () => {
    const before = suppressionRequests();
    const started = Date.now();
    const response = await makeDeleteSuppressionHandler(() => Promise.resolve({ suppressions }))(
      new HttpRequest({ method: 'DELETE', url: 'http://localhost/api/suppressions/a%2Fb', params: { id: 'a/b' } }),
      context(),
    );
    expect(response.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(suppressionRequests() - before).toBe(0);
  });

  it('refuses a valid 58,886-character selector with 400 instead of failing in storage, and stores the largest allowed one', async () => {
    const term = "tags.site = 'lab-0000'";
    const selector = (length: number): string => {
      let text = term;
      while (text.length + term.length + 4 <= length) text += ` OR ${term}`;
      return text;
    };
    const tooLong = await createSuppression({ ruleId: '*', selector: selector(58_886), reason: 'lab' }, suppressions, NOW);
    expect(tooLong.status).toBe(400);
    const largest = await createSuppression({ ruleId: '*', selector: selector(4096), reason: 'é'.repeat(1000) }, suppressions, NOW);
    expect(largest.status).toBe(201);
    const stored = await suppressions.get((largest.body as { id: string }).id);
    expect(stored?.selector).toBe(selector(4096));
  });
});
