/**
 * The per-attempt timeout of the @azure/core-rest-pipeline clients (@azure/data-tables): a pipeline policy that aborts
 * a request with no complete answer (headers and body) within OUTBOUND_TIMEOUT_MS and turns the abort into an
 * OutboundTimeoutError, which retryTransient retries like any transient failure.
 *
 * Installed through `additionalPolicies` with position `perRetry` (core-client's AdditionalPolicyConfig: "applied ...
 * each time the operation is retried"); with the SDK retry off there is exactly one try per call. The abort goes
 * through `request.abortSignal`, which the Node HTTP client of core-rest-pipeline 1.24 (@typespec/ts-http-runtime
 * nodeHttpClient) listens to for the whole exchange, response body included; `request.timeout` alone would stop
 * counting once the headers arrived.
 */
import type { TableServiceClientOptions } from '@azure/data-tables';
import { OutboundTimeoutError } from '../errors';

/** The pipeline policy type, as @azure/data-tables' options name it (core-rest-pipeline's PipelinePolicy). */
export type PipelinePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

/** OUTBOUND_TIMEOUT_MS's default, for clients built without a configuration (tests, tools). */
export const DEFAULT_OUTBOUND_TIMEOUT_MS = 10_000;

export function outboundTimeoutPolicy(timeoutMs: number, service: string): PipelinePolicy {
  return {
    name: 'twinguardOutboundTimeout',
    async sendRequest(request, next) {
      const callerSignal = request.abortSignal;
      const controller = new AbortController();
      let timedOut = false;
      const onCallerAbort = (): void => controller.abort();
      if (callerSignal?.aborted) controller.abort();
      else callerSignal?.addEventListener('abort', onCallerAbort);
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      request.abortSignal = controller.signal;
      try {
        return await next(request);
      } catch (err) {
        if (timedOut) throw new OutboundTimeoutError(`${service} ${request.method} request`, timeoutMs, { cause: err });
        throw err;
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
        request.abortSignal = callerSignal;
      }
    },
  };
}
