/**
 * Findings pages over real Table storage (Azurite): a page is filled across shard partitions and the Table service's
 * own pages, only the last page may be short, nothing is skipped or repeated, and a rule whose findings are rare (or
 * absent) is answered without walking the shards one after another.
 */
import type { TableClient } from '@azure/data-tables';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { createTableClient, ensureTables } from '../../shared/adapters/table-clients';
import { TableSweepStore } from '../../shared/adapters/table-sweep-store';
import type { FindingRecord } from '../../shared/ports/sweep-store';

const SWEEP = 'sw-20261203T020000Z-sched';
const SHARDS = 16;

/** The most requests this client had in flight at once. */
function peakConcurrency(client: TableClient): { peak(): number; reset(): void } {
  let inFlight = 0;
  let peak = 0;
  client.pipeline.addPolicy({
    name: 'peak-concurrency',
    sendRequest: async (request, next) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        return await next(request);
      } finally {
        inFlight--;
      }
    },
  });
  return { peak: () => peak, reset: () => void (peak = 0) };
}

function finding(i: number, shard: number, ruleId: FindingRecord['ruleId']): FindingRecord {
  return {
    sweepId: SWEEP,
    shard,
    bucket: shard,
    deviceId: `dev-${String(i).padStart(4, '0')}`,
    ruleId,
    severity: 'high',
    status: 'violation',
    message: ruleId,
  };
}

describe('findings paging on Azurite', () => {
  let azurite: EmbeddedAzurite;
  let sweeps: TableSweepStore;
  let concurrency: ReturnType<typeof peakConcurrency>;

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite();
    const suffix = Math.random().toString(36).slice(2, 8);
    const runs = createTableClient({ connectionString: azurite.connectionString }, `Runs${suffix}`);
    const findings = createTableClient({ connectionString: azurite.connectionString }, `Findings${suffix}`);
    await ensureTables([runs, findings]);
    sweeps = new TableSweepStore(runs, findings, { retryBudgetMs: 10_000 });
    // 203 agent-failed findings spread unevenly over the shards (none in shards 5 and 6), one module-auth-weak
    // finding in the last shard.
    const rows = Array.from({ length: 203 }, (_, i) =>
      finding(i, [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15][i % 14]!, 'agent-failed'),
    );
    rows.push(finding(9999, SHARDS - 1, 'module-auth-weak'));
    await sweeps.writeFindings(rows);
    concurrency = peakConcurrency(findings);
  });

  afterAll(async () => {
    await azurite.stop();
  });

  it('fills every page but the last and returns each finding once', async () => {
    const sizes: number[] = [];
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await sweeps.listFindings({
        sweepId: SWEEP,
        shards: SHARDS,
        ruleId: 'agent-failed',
        limit: 25,
        continuationToken: token,
      });
      sizes.push(page.rows.length);
      seen.push(...page.rows.map((row) => row.deviceId));
      token = page.continuationToken;
    } while (token !== undefined);
    expect(new Set(seen).size).toBe(203);
    expect(seen).toHaveLength(203);
    expect(sizes.slice(0, -1).every((size) => size === 25)).toBe(true);
    expect(sizes.at(-1)).toBe(203 % 25);
  });

  it('finds a rare rule in the last shard in one page, reading the other shards at once', async () => {
    concurrency.reset();
    const page = await sweeps.listFindings({ sweepId: SWEEP, shards: SHARDS, ruleId: 'module-auth-weak', limit: 25 });
    expect(page.rows.map((row) => row.deviceId)).toEqual(['dev-9999']);
    expect(page.continuationToken).toBeUndefined();
    expect(concurrency.peak()).toBeGreaterThan(1);
  });

  it('answers a rule without findings with an empty last page', async () => {
    const page = await sweeps.listFindings({ sweepId: SWEEP, shards: SHARDS, ruleId: 'identity-disabled', limit: 25 });
    expect(page).toEqual({ rows: [] });
  });
});
