/**
 * The findings CSV export at 200,000 rows (issue 9, item 3): written to Azurite with TableSweepStore.writeFindings,
 * downloaded over HTTP from the standalone host in its own process (testing/csv-export.ts), which samples its memory
 * every 10 ms, then again in a second download with a full GC before each sample. Rows are realistic (~150 bytes of
 * CSV each, 29 MiB in all).
 * Run: `npm run build && node dist/bench/csv-export.bench.js` (or `npm run bench -- csv-export`).
 */
import { startEmbeddedAzurite } from '../host/embedded-azurite';
import { measureCsvExport, seedFindings } from '../testing/csv-export';
import { type BenchResult, runIfMain } from './bench-result';

const ROWS = Number(process.env['BENCH_CSV_ROWS'] ?? 200_000);
const MiB = 1024 * 1024;
/**
 * The bounds the issue asks to state, on the host process's growth during the download. Peak: what the OS and V8 see,
 * uncollected page garbage included (measured ≈ 69 MiB RSS, ≈ 60 MiB heap + buffers; buffering the body: ≈ 119 and
 * ≈ 178). Kept: sampled after full GCs, what the export holds (≈ 5 MiB; buffering ≈ 61).
 */
const BOUND_MIB = 96;
const KEPT_BOUND_MIB = 32;

export async function run(): Promise<BenchResult[]> {
  const azurite = await startEmbeddedAzurite();
  try {
    const seeded = await seedFindings(azurite.connectionString, { rows: ROWS, shards: 8, messageBytes: 100, suffix: 'Bench' });
    const m = await measureCsvExport(azurite.connectionString, seeded);
    const kept = await measureCsvExport(azurite.connectionString, seeded, { collectGarbage: true });
    const mib = (bytes: number): number => Math.round((bytes / MiB) * 10) / 10;
    return [
      { name: `CSV export: rows received (of ${ROWS})`, value: m.rows, unit: 'rows', target: `= ${ROWS}`, pass: m.rows === ROWS },
      { name: 'CSV export: size', value: mib(m.bytes), unit: 'MiB' },
      { name: 'CSV export: time to first byte', value: m.firstByteMs, unit: 'ms' },
      { name: 'CSV export: total time', value: m.totalMs, unit: 'ms' },
      {
        name: 'store rows read when the first bytes arrived',
        value: m.rowsReadAtFirstByte,
        unit: 'rows',
        target: `< ${ROWS}`,
        pass: m.rowsReadAtFirstByte < ROWS,
      },
      {
        name: 'store rows read while the client paused (backpressure)',
        value: m.rowsReadWhilePaused,
        unit: 'rows',
        target: `< ${ROWS}`,
        pass: m.rowsReadWhilePaused < ROWS,
      },
      {
        name: 'host RSS growth during the download',
        value: mib(m.memory.rssBytes),
        unit: 'MiB',
        target: `< ${BOUND_MIB} MiB`,
        pass: m.memory.rssBytes < BOUND_MIB * MiB,
      },
      {
        name: 'host heap + buffers growth during the download',
        value: mib(m.memory.heapAndBuffersBytes),
        unit: 'MiB',
        target: `< ${BOUND_MIB} MiB`,
        pass: m.memory.heapAndBuffersBytes < BOUND_MIB * MiB,
      },
      {
        name: 'kept alive by the export: heap + buffers growth after full GCs',
        value: mib(kept.memory.heapAndBuffersBytes),
        unit: 'MiB',
        target: `< ${KEPT_BOUND_MIB} MiB`,
        pass: kept.memory.heapAndBuffersBytes < KEPT_BOUND_MIB * MiB,
      },
      { name: 'kept alive by the export: RSS growth with full GCs', value: mib(kept.memory.rssBytes), unit: 'MiB' },
    ];
  } finally {
    await azurite.stop();
  }
}

runIfMain(module, run);
