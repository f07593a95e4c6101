/**
 * The client side of the registry-scale benchmark: the real azure-iothub `Registry` paging through a
 * query with `createQuery(sql, pageSize)`. Used in the benchmark's own process and, forked, as a separate
 * client process (how a real client runs: another process, in reality on another machine).
 */
import { closeRegistryClient, createRegistryClient } from '../shared/adapters/registry-client';

/** `nextAsTwin`: rows become SDK `Twin` objects (lodash merge per row); `next`: the parsed JSON rows. */
export type PagingMode = 'nextAsTwin' | 'next';

export interface PagingTarget {
  connectionString: string;
  serviceEndpoint: string;
  sql: string;
  pageSize: number;
}

export interface PagingRun {
  mode: PagingMode;
  twins: number;
  pages: number;
  /** First request sent → last page received and handed to the caller, on the client's own clock. */
  seconds: number;
  /** CPU time (user + system) of the client's whole process meanwhile; in the same process it includes the server. */
  cpuSeconds: number;
}

/** Pages through the whole result of `target.sql` once; the client is created and closed here. */
export async function pageThrough(target: PagingTarget, mode: PagingMode): Promise<PagingRun> {
  const registry = createRegistryClient({ connectionString: target.connectionString, serviceEndpoint: target.serviceEndpoint });
  try {
    const query = registry.createQuery(target.sql, target.pageSize);
    let twins = 0;
    let pages = 0;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    while (query.hasMoreResults) {
      // next() without an argument restarts from the first page (SDK quirk); pass the token explicitly.
      const page = mode === 'nextAsTwin' ? await query.nextAsTwin() : await query.next(query.continuationToken);
      twins += (page.result as unknown[]).length;
      pages++;
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { mode, twins, pages, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    closeRegistryClient(registry);
  }
}

/** Messages a forked client sends its parent. */
export type ClientMessage = { type: 'result'; run: PagingRun } | { type: 'failed'; error: string };

function isPagingMode(value: string): value is PagingMode {
  return value === 'nextAsTwin' || value === 'next';
}

// Forked by the benchmark: argv is [connectionString, serviceEndpoint, sql, pageSize, modes (comma-separated)].
// Runs the modes one after the other, reports each over the IPC channel, then disconnects.
if (require.main === module && process.send !== undefined) {
  const send = (message: ClientMessage): void => void process.send?.(message);
  const [connectionString = '', serviceEndpoint = '', sql = '', pageSize = '1000', modes = 'nextAsTwin'] = process.argv.slice(2);
  (async () => {
    for (const mode of modes.split(',')) {
      if (!isPagingMode(mode)) throw new Error(`unknown paging mode ${mode}`);
      send({ type: 'result', run: await pageThrough({ connectionString, serviceEndpoint, sql, pageSize: Number(pageSize) }, mode) });
    }
  })()
    .catch((error: unknown) => {
      send({ type: 'failed', error: String(error) });
      process.exitCode = 1;
    })
    .finally(() => process.disconnect());
}
