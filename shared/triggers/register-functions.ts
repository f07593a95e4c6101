/**
 * One description of each function, used twice: registered with the Azure Functions host, and read
 * by the standalone host, which runs the same handlers with the same options outside Azure.
 */
import {
  app,
  type EventHubFunctionOptions,
  type HttpFunctionOptions,
  type StorageQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';
import { closeServices } from '../container';
import { bindInvocationTrace } from '../telemetry/invocation-trace';

export type FunctionRegistration =
  | { kind: 'eventHub'; name: string; options: EventHubFunctionOptions & { dataType?: 'string' | 'binary' } }
  | { kind: 'http'; name: string; options: HttpFunctionOptions }
  | { kind: 'timer'; name: string; options: TimerFunctionOptions }
  | { kind: 'storageQueue'; name: string; options: StorageQueueFunctionOptions };

let outsideFunctionsHost = false;

/**
 * Called by the standalone host before it loads the function modules: registering with `app` there
 * would only print the library's "test mode" warnings, since that host reads `registrations` itself.
 */
export function hostOutsideAzureFunctions(): void {
  outsideFunctionsHost = true;
}

/** True in the standalone host, whose HTTP server sets the caller's key name itself (shared/triggers/caller-identity.ts). */
export function isOutsideAzureFunctions(): boolean {
  return outsideFunctionsHost;
}

let terminateHookRegistered = false;
let streamingEnabled = false;

/**
 * Registers each function with the Azure Functions host. Once per worker, before that, it enables HTTP streaming and
 * registers an `appTerminate` hook that closes the service graph (the standalone host does neither: it never reaches
 * this point, streams bodies itself and closes the graph on its own stop).
 */
export function registerFunctions(registrations: readonly FunctionRegistration[]): void {
  if (outsideFunctionsHost) return;
  if (!streamingEnabled) {
    // HTTP streams (https://learn.microsoft.com/azure/azure-functions/node-http-stream): without this the library
    // buffers every request and response body, the CSV export included. It needs @azure/functions >= 4.3 (we pin
    // 4.16.5), Functions host >= 4.28 (the library throws at start-up on an older host) and Node >= 18, and must run
    // before the worker's start-up finishes (setup() throws once locked), so before the first registration.
    // Request bodies then arrive as `request.body` streams, which readJsonBody reads with a cap.
    streamingEnabled = true;
    app.setup({ enableHttpStream: true });
  }
  if (!terminateHookRegistered) {
    terminateHookRegistered = true;
    app.hook.appTerminate(() => closeServices());
    // Each invocation runs inside the host's trace once telemetry is on (a no-op before and without it).
    app.hook.preInvocation((hook) => {
      hook.functionHandler = bindInvocationTrace(hook.functionHandler, hook.invocationContext.traceContext);
    });
  }
  for (const registration of registrations) {
    switch (registration.kind) {
      case 'eventHub':
        app.eventHub(registration.name, registration.options);
        break;
      case 'http':
        app.http(registration.name, registration.options);
        break;
      case 'timer':
        app.timer(registration.name, registration.options);
        break;
      case 'storageQueue':
        app.storageQueue(registration.name, registration.options);
        break;
    }
  }
}
