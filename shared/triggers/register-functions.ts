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

let terminateHookRegistered = false;

/**
 * Registers each function with the Azure Functions host, and once per worker an `appTerminate` hook that closes the
 * service graph (the standalone host closes it on its own stop instead).
 */
export function registerFunctions(registrations: readonly FunctionRegistration[]): void {
  if (outsideFunctionsHost) return;
  if (!terminateHookRegistered) {
    terminateHookRegistered = true;
    app.hook.appTerminate(() => closeServices());
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
