/**
 * The HTTP API's views of the service graph: the read API's posture reader and the sweep's HTTP functions (runs,
 * findings, suppressions, POST /api/sweeps). They use the graph's stores built for the API (`graph.api`): the same
 * SDK clients, retried within API_RETRY_BUDGET_MS, so storage trouble fails a request with TransientError in seconds.
 */
import type { DeadLetterReader } from '../ports/dead-letter-store';
import type { SweepStore } from '../ports/sweep-store';
import type { PostureReader } from '../services/posture-queries';
import type { SweepServices } from '../services/sweep/sweep-services';
import type { ServiceGraph } from './service-graph';

export type SweepApiServices = Pick<SweepServices, 'sweeps' | 'suppressions' | 'queue' | 'now'>;

export function postureReaderOf(graph: ServiceGraph): { posture: PostureReader } {
  return { posture: graph.api.posture };
}

export function sweepApiServicesOf(graph: ServiceGraph): SweepApiServices {
  return {
    sweeps: graph.api.sweeps,
    suppressions: graph.api.suppressions,
    // Resolved on use: only POST /api/sweeps needs AzureWebJobsStorage, the reads work without it.
    queue: { send: (message, visibilityDelaySeconds) => graph.api.queue().send(message, visibilityDelaySeconds) },
    now: graph.now,
  };
}

/** The reads behind the dashboard's overview, sweeps and dead-letter pages. */
export interface OperatorApiServices {
  sweeps: SweepStore;
  deadLetters: DeadLetterReader;
}

export function operatorApiServicesOf(graph: ServiceGraph): OperatorApiServices {
  return { sweeps: graph.api.sweeps, deadLetters: graph.api.deadLetters };
}
