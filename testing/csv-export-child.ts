/**
 * The standalone host in its own process, serving only the findings export (the production handler, registration
 * options and HTTP host) over a TableSweepStore on the parent's Azurite, with the store's reads counted and the
 * process's memory sampled, so the parent can tell when bytes arrive relative to the store reads and how much memory
 * the export costs this process alone (sampled every 10 ms, or after a full GC every 100 ms to see what it keeps). Driven over IPC by testing/csv-export.ts.
 */
import { createTableClient } from '../shared/adapters/table-clients';
import { TableSweepStore } from '../shared/adapters/table-sweep-store';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { SweepStore } from '../shared/ports/sweep-store';
import { hostOutsideAzureFunctions } from '../shared/triggers/register-functions';
import { readStandaloneSettings, StandaloneHost } from '../host/standalone-host';

/** `collectGarbage`: a full GC before each sample, so the samples show what the export keeps alive, not garbage V8 has yet to collect. */
export type CsvExportParentMessage = { type: 'probe' } | { type: 'startSampling'; collectGarbage?: boolean } | { type: 'stopSampling' };

export interface MemoryPeak {
  /** Growth over the baseline taken (after a full GC) when sampling started, at the worst sample. */
  heapUsedBytes: number;
  /** heapUsed + external + arrayBuffers: Buffers live outside the JS heap. */
  heapAndBuffersBytes: number;
  rssBytes: number;
  samples: number;
}

export type CsvExportChildMessage =
  | { type: 'ready'; httpUrl: string }
  | { type: 'rowsRead'; rows: number; pages: number }
  | { type: 'memory'; peak: MemoryPeak }
  | { type: 'failed'; error: string };

function send(message: CsvExportChildMessage): void {
  process.send?.(message);
}

const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => process.stderr.write(`WARN ${message} ${JSON.stringify(fields ?? {})}\n`),
  error: (message, fields) => process.stderr.write(`ERROR ${message} ${JSON.stringify(fields ?? {})}\n`),
};

/** Counts the finding rows the store has handed out (the export's only source of rows). */
function countingStore(inner: SweepStore, counter: { rows: number; pages: number }): SweepStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'listFindings') {
        return async (query: Parameters<SweepStore['listFindings']>[0]) => {
          const page = await target.listFindings(query);
          counter.rows += page.rows.length;
          counter.pages += 1;
          return page;
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function memoryTotals(): { heapUsed: number; heapAndBuffers: number; rss: number } {
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, heapAndBuffers: usage.heapUsed + usage.external + usage.arrayBuffers, rss: usage.rss };
}

async function main(): Promise<void> {
  const env = process.env;
  const connectionString = env['AzureWebJobsStorage'];
  const runsTable = env['CSV_EXPORT_RUNS_TABLE'];
  const findingsTable = env['CSV_EXPORT_FINDINGS_TABLE'];
  if (!connectionString || !runsTable || !findingsTable) throw new Error('AzureWebJobsStorage and CSV_EXPORT_*_TABLE are required');
  // Before the function module loads: it registers itself, which outside Azure Functions must do nothing.
  hostOutsideAzureFunctions();
  const { findingsOptions, makeFindingsHandler } = await import('../functions/compliance-findings');
  const counter = { rows: 0, pages: 0 };
  const store = countingStore(
    new TableSweepStore(createTableClient({ connectionString }, runsTable), createTableClient({ connectionString }, findingsTable), {
      retryBudgetMs: 10_000,
    }),
    counter,
  );
  const host = new StandaloneHost({
    env,
    settings: readStandaloneSettings(env),
    logger,
    registrations: [
      {
        kind: 'http',
        name: 'compliance-findings',
        options: { ...findingsOptions, handler: makeFindingsHandler(() => Promise.resolve({ sweeps: store })) },
      },
    ],
  });

  let sampler: NodeJS.Timeout | undefined;
  let baseline = memoryTotals();
  let peak: MemoryPeak = { heapUsedBytes: 0, heapAndBuffersBytes: 0, rssBytes: 0, samples: 0 };
  let collectGarbage = false;
  const sample = (): void => {
    if (collectGarbage) (globalThis as { gc?: () => void }).gc?.();
    const now = memoryTotals();
    peak = {
      heapUsedBytes: Math.max(peak.heapUsedBytes, now.heapUsed - baseline.heapUsed),
      heapAndBuffersBytes: Math.max(peak.heapAndBuffersBytes, now.heapAndBuffers - baseline.heapAndBuffers),
      rssBytes: Math.max(peak.rssBytes, now.rss - baseline.rss),
      samples: peak.samples + 1,
    };
  };
  process.on('message', (message: CsvExportParentMessage) => {
    if (message.type === 'probe') send({ type: 'rowsRead', rows: counter.rows, pages: counter.pages });
    else if (message.type === 'startSampling') {
      (globalThis as { gc?: () => void }).gc?.();
      baseline = memoryTotals();
      peak = { heapUsedBytes: 0, heapAndBuffersBytes: 0, rssBytes: 0, samples: 0 };
      collectGarbage = message.collectGarbage === true;
      sampler = setInterval(sample, collectGarbage ? 100 : 10);
      counter.rows = 0;
      counter.pages = 0;
      send({ type: 'rowsRead', rows: 0, pages: 0 });
    } else if (message.type === 'stopSampling') {
      clearInterval(sampler);
      sample();
      send({ type: 'memory', peak });
    }
  });
  process.once('SIGTERM', () => {
    host.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.once('disconnect', () => process.exit(0));
  await host.start();
  send({ type: 'ready', httpUrl: host.httpUrl! });
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: errorMessage(err) });
  process.exit(1);
});
