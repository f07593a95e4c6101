/**
 * The findings CSV export streams through the standalone host (issue 9, item 3): 20,000 findings written to Azurite
 * with TableSweepStore.writeFindings, downloaded over HTTP from the host in its own process (testing/csv-export.ts).
 * 20,000 rather than 200,000 rows keeps `npm test` fast (writing 200,000 rows into Azurite alone takes ~25 s);
 * bench/csv-export.bench.ts runs the 200,000-row export with its own bounds. Rows carry ~600-byte messages so the
 * export (13 MB) is larger than what the socket buffers can hold while the client pauses.
 */
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { measureCsvExport, seedFindings } from '../../testing/csv-export';

const ROWS = 20_000;
const MiB = 1024 * 1024;

let azurite: EmbeddedAzurite;

beforeAll(async () => {
  azurite = await startEmbeddedAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

it('streams 20,000 findings as CSV: first bytes before the last row is read, reads stop while the client pauses, memory bounded', async () => {
  const seeded = await seedFindings(azurite.connectionString, { rows: ROWS, shards: 8, messageBytes: 600, suffix: 'Stream' });
  const measured = await measureCsvExport(azurite.connectionString, seeded);

  expect(measured.rows).toBe(ROWS);
  expect(measured.bytes).toBeGreaterThan(12 * MiB);
  // Buffering (the old host, or Functions without enableHttpStream) reads every row before the first byte goes out.
  expect(measured.rowsReadAtFirstByte).toBeLessThanOrEqual(ROWS / 4);
  // While the client reads nothing, the host stops reading once the socket and stream buffers are full.
  expect(measured.rowsReadWhilePaused).toBeLessThan(ROWS * 0.75);
  // Measured: streaming ≈ 57 MiB heap + buffers (mostly page garbage awaiting GC), ≈ 25 MiB RSS; buffering ≈ 133 and 48.
  expect(measured.memory.heapAndBuffersBytes).toBeLessThan(96 * MiB);
  expect(measured.memory.samples).toBeGreaterThan(10);
}, 60_000);
