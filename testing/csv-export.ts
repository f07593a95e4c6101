/**
 * The findings CSV export measured end to end, for test/integration/csv-export-streaming.test.ts (20,000 rows) and
 * bench/csv-export.bench.ts (200,000 rows): findings written with TableSweepStore.writeFindings for a completed run,
 * then downloaded over HTTP from the standalone host in its own process (testing/csv-export-child.ts), whose store
 * reads are counted and whose memory is sampled every 10 ms during the download.
 *
 * The client reads the first chunk and stops reading: the store rows the host had read by then show the first bytes
 * arrived long before the last row was read, and the rows read once the host has stopped (backpressure: the socket
 * and stream buffers are full) show a paused client stops the reads. Then it reads the rest and counts the rows.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import * as path from 'node:path';
import { createTableClient, ensureTables } from '../shared/adapters/table-clients';
import { TableSweepStore } from '../shared/adapters/table-sweep-store';
import type { FindingRecord, SweepRun } from '../shared/ports/sweep-store';
import type { CsvExportChildMessage, CsvExportParentMessage, MemoryPeak } from './csv-export-child';
import { REPO_ROOT } from './external-service';

const KEY = 'csv-export-function-key-0123456789';

export interface SeededExport {
  sweepId: string;
  runsTable: string;
  findingsTable: string;
  rows: number;
}

/** Writes `rows` findings over `shards` shard partitions for a completed sweep; `messageBytes` pads each message. */
export async function seedFindings(
  connectionString: string,
  options: { rows: number; shards: number; messageBytes: number; suffix: string },
): Promise<SeededExport> {
  const runsTable = `CsvRuns${options.suffix}`;
  const findingsTable = `CsvFindings${options.suffix}`;
  const runs = createTableClient({ connectionString }, runsTable);
  const findings = createTableClient({ connectionString }, findingsTable);
  await ensureTables([runs, findings]);
  const store = new TableSweepStore(runs, findings, { retryBudgetMs: 30_000 });
  const sweepId = `20260101T000000Z-csv${options.suffix.toLowerCase()}`;
  const run: SweepRun = {
    sweepId,
    trigger: 'api',
    dryRun: true,
    status: 'completed',
    startedAt: '2026-01-01T00:00:00.000Z',
    completedAt: '2026-01-01T00:10:00.000Z',
    plan: {
      splits: [],
      shards: options.shards,
      buckets: options.shards,
      fleetSize: options.rows,
      estimatedMissingModules: 0,
      bulkImport: false,
    },
  };
  await store.createRun(run);
  const padding = 'x'.repeat(Math.max(0, options.messageBytes - 40));
  const batch: FindingRecord[] = [];
  const flush = async (): Promise<void> => {
    await Promise.all([0, 1, 2, 3].map((part) => store.writeFindings(batch.filter((_, i) => i % 4 === part))));
    batch.length = 0;
  };
  for (let i = 0; i < options.rows; i++) {
    batch.push({
      sweepId,
      shard: i % options.shards,
      bucket: 0,
      deviceId: `device-${String(i).padStart(7, '0')}`,
      ruleId: i % 3 === 0 ? 'module-missing' : 'agent-stale',
      severity: i % 3 === 0 ? 'critical' : 'medium',
      status: 'violation',
      message: `finding ${i}: no security module report ${padding}`,
    });
    if (batch.length === 8_000) await flush();
  }
  await flush();
  return { sweepId, runsTable, findingsTable, rows: options.rows };
}

export interface CsvExportMeasurement {
  /** Data rows received (lines after the header). */
  rows: number;
  bytes: number;
  /** Store rows read when the client held the first bytes (it stopped reading there). */
  rowsReadAtFirstByte: number;
  /** Store rows read once the host stopped reading while the client did not read. */
  rowsReadWhilePaused: number;
  firstByteMs: number;
  totalMs: number;
  memory: MemoryPeak;
}

interface Child {
  process: ChildProcess;
  next(type: CsvExportChildMessage['type']): Promise<CsvExportChildMessage>;
  send(message: CsvExportParentMessage): void;
}

function startChild(connectionString: string, seeded: SeededExport): Promise<{ child: Child; httpUrl: string }> {
  const fromSources = __filename.endsWith('.ts');
  const entry = path.join(__dirname, fromSources ? 'csv-export-child.ts' : 'csv-export-child.js');
  const execArgv = ['--expose-gc', ...(fromSources ? ['-r', path.join(REPO_ROOT, 'test', 'support', 'ts-register.js')] : [])];
  const proc = fork(entry, [], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      AzureWebJobsStorage: connectionString,
      CSV_EXPORT_RUNS_TABLE: seeded.runsTable,
      CSV_EXPORT_FINDINGS_TABLE: seeded.findingsTable,
      STANDALONE_HTTP_PORT: '0',
      STANDALONE_FUNCTION_KEY: KEY,
    },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting: { type: string; resolve: (m: CsvExportChildMessage) => void; reject: (e: Error) => void }[] = [];
  proc.on('message', (message: CsvExportChildMessage) => {
    if (message.type === 'failed') {
      for (const w of waiting.splice(0)) w.reject(new Error(`export host failed: ${message.error}`));
      return;
    }
    const index = waiting.findIndex((w) => w.type === message.type);
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve(message);
  });
  proc.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`export host exited with ${code}`));
  });
  const child: Child = {
    process: proc,
    next: (type) => new Promise((resolve, reject) => waiting.push({ type, resolve, reject })),
    send: (message) => proc.send(message),
  };
  return child.next('ready').then((ready) => ({ child, httpUrl: (ready as { httpUrl: string }).httpUrl }));
}

async function rowsRead(child: Child): Promise<number> {
  const answer = child.next('rowsRead');
  child.send({ type: 'probe' });
  return ((await answer) as { rows: number }).rows;
}

/** Polls the host's read count until it has not moved for `quietPolls` polls in a row: the reads have stopped. */
async function rowsWhenReadsStop(child: Child, timeoutMs: number, quietPolls = 5, intervalMs = 100): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = await rowsRead(child);
  let quiet = 0;
  while (quiet < quietPolls) {
    if (Date.now() > deadline) throw new Error(`the host kept reading the store for ${timeoutMs} ms while the client read nothing`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const now = await rowsRead(child);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  return last;
}

function download(
  url: string,
  onFirstChunk: () => Promise<void>,
): Promise<{ status: number; bytes: number; lines: number; firstByteMs: number; totalMs: number; header: string }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { 'x-functions-key': KEY } }, (res) => {
      let bytes = 0;
      let lines = 0;
      let header = '';
      let firstByteMs = -1;
      res.on('data', (chunk: Buffer) => {
        if (firstByteMs < 0) {
          firstByteMs = Date.now() - started;
          header = chunk.subarray(0, chunk.indexOf('\r\n')).toString('utf8');
          res.pause();
          onFirstChunk().then(
            () => res.resume(),
            (err: unknown) => {
              req.destroy();
              reject(err instanceof Error ? err : new Error(String(err)));
            },
          );
        }
        bytes += chunk.length;
        for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) lines++;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, bytes, lines, firstByteMs, totalMs: Date.now() - started, header }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

/**
 * Runs one export of a seeded sweep through a fresh host process and measures it. With `collectGarbage` the host
 * runs a full GC before each memory sample (every 100 ms): the growth is then what the export keeps alive; without,
 * it includes garbage V8 has not collected yet (which depends on how large the heap already was).
 */
export async function measureCsvExport(
  connectionString: string,
  seeded: SeededExport,
  options: { collectGarbage?: boolean } = {},
): Promise<CsvExportMeasurement> {
  const { child, httpUrl } = await startChild(connectionString, seeded);
  try {
    const url = `${httpUrl}/api/compliance/findings?format=csv&sweepId=${encodeURIComponent(seeded.sweepId)}`;
    // Warm-up (SDK modules, connections, JIT) outside the measured part: a one-row JSON page.
    const warm = await fetch(`${httpUrl}/api/compliance/findings?limit=1&sweepId=${encodeURIComponent(seeded.sweepId)}`, {
      headers: { 'x-functions-key': KEY },
    });
    if (warm.status !== 200) throw new Error(`warm-up answered ${warm.status}: ${await warm.text()}`);
    const sampling = child.next('rowsRead');
    child.send({ type: 'startSampling', collectGarbage: options.collectGarbage === true });
    await sampling;
    let rowsReadAtFirstByte = -1;
    let rowsReadWhilePaused = -1;
    const result = await download(url, async () => {
      rowsReadAtFirstByte = await rowsRead(child);
      rowsReadWhilePaused = await rowsWhenReadsStop(child, 20_000);
    });
    const memory = child.next('memory');
    child.send({ type: 'stopSampling' });
    if (result.status !== 200) throw new Error(`export answered ${result.status}`);
    if (result.header !== 'deviceId,ruleId,severity,status,message,suppressionId,repairAction,repairResult,managedBy,mitigations')
      throw new Error(`unexpected CSV header ${result.header}`);
    return {
      rows: result.lines - 1,
      bytes: result.bytes,
      rowsReadAtFirstByte,
      rowsReadWhilePaused,
      firstByteMs: result.firstByteMs,
      totalMs: result.totalMs,
      memory: ((await memory) as { peak: MemoryPeak }).peak,
    };
  } finally {
    await new Promise<void>((resolve) => {
      if (child.process.exitCode !== null) return resolve();
      child.process.once('exit', () => resolve());
      child.process.kill('SIGTERM');
      setTimeout(() => child.process.kill('SIGKILL'), 5000).unref();
    });
  }
}
