/**
 * The one retry layer of the Table adapters: clients are built with createTableClient (SDK retry off,
 * OUTBOUND_TIMEOUT_MS per attempt), so each store call is retried here, within the store's budget.
 */
import type { Logger } from '../logger';
import { retryTransient } from '../retry';

export interface TableRetryOptions {
  retryBudgetMs: number;
  /** Each retry is logged here at WARN; none by default. */
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export function retryTableCall<T>(options: TableRetryOptions, operationName: string, call: () => Promise<T>): Promise<T> {
  const { retryBudgetMs: budgetMs, sleep, logger } = options;
  return retryTransient(call, { budgetMs, operationName, sleep, logger, retryMessage: 'table storage call retried' });
}
