/** Registry queries the sweep reads: every page of a query, and the count a `SELECT COUNT() AS n` query returns. */
import type { JsonObject } from '../../domain/types';
import type { DeviceRegistry } from '../../ports/device-registry';

export async function allPages(
  registry: DeviceRegistry,
  query: string,
  pageSize: number,
  onRows: (rows: JsonObject[]) => void,
): Promise<void> {
  let token: string | undefined;
  do {
    const page = await registry.queryTwins(query, pageSize, token);
    onRows(page.items);
    token = page.continuationToken;
  } while (token !== undefined);
}

export async function countOf(registry: DeviceRegistry, query: string): Promise<number> {
  const page = await registry.queryTwins(query, 1);
  const value = page.items[0]?.['n'];
  return typeof value === 'number' ? value : 0;
}
