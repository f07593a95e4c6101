/**
 * Direct method invocations waiting for the device's answer. The service side (`POST /twins/{id}[/modules/{m}]/methods`,
 * emulator/http/method-routes.ts) starts one; the device answers on `$iothub/methods/res/{status}/?$rid=…`.
 *
 * IoT Hub's rules ("Understand and invoke direct methods", MicrosoftDocs/azure-docs:
 * articles/iot-hub/iot-hub-devguide-direct-methods.md; error codes from articles/iot-hub/troubleshoot-error-codes.md):
 * - `responseTimeoutInSeconds` 5–300 (default 30), `connectTimeoutInSeconds` 0–300 (default 0: the device must be
 *   connected and subscribed now);
 * - the device is not connected or has not subscribed to `$iothub/methods/POST/#` → 404 `DeviceNotOnline` (404103);
 * - no answer within the response timeout → 504 `GatewayTimeout` (504101);
 * - the answer is `{status, payload}` with the device's status and JSON payload.
 */
import { HubError } from '../registry/hub-error';

export interface MethodInvocation {
  methodName: string;
  payload: unknown;
  responseTimeoutInSeconds: number;
  connectTimeoutInSeconds: number;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

interface PendingCall {
  clientId: string;
  resolve: (result: MethodResult) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const MIN_RESPONSE_TIMEOUT_S = 5;
const MAX_TIMEOUT_S = 300;

/** Reads and validates the body azure-iothub's `DeviceMethod` sends. @throws HubError 400. */
export function readMethodInvocation(body: unknown): MethodInvocation {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HubError(400, 'ArgumentInvalid', 'The direct method request body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const methodName = fields['methodName'];
  if (typeof methodName !== 'string' || methodName === '' || methodName.includes('/') || methodName.length > 128)
    throw new HubError(400, 'ArgumentInvalid', 'methodName must be a non-empty string of at most 128 characters without /');
  const responseTimeoutInSeconds = readSeconds(fields['responseTimeoutInSeconds'], 30, MIN_RESPONSE_TIMEOUT_S, 'responseTimeoutInSeconds');
  const connectTimeoutInSeconds = readSeconds(fields['connectTimeoutInSeconds'], 0, 0, 'connectTimeoutInSeconds');
  return { methodName, payload: fields['payload'] ?? null, responseTimeoutInSeconds, connectTimeoutInSeconds };
}

function readSeconds(value: unknown, fallback: number, min: number, name: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_TIMEOUT_S)
    throw new HubError(400, 'ArgumentInvalid', `${name} must be an integer from ${min} to ${MAX_TIMEOUT_S}`);
  return value;
}

/** The calls in flight, keyed by the `$rid` the hub put on the request topic. */
export class MethodCalls {
  private readonly pending = new Map<string, PendingCall>();
  private counter = 0;

  /** A fresh request id (IoT Hub uses small integers; any string works for the SDK). */
  nextRequestId(): string {
    this.counter = (this.counter + 1) % Number.MAX_SAFE_INTEGER;
    return this.counter.toString(16);
  }

  /** Waits for the answer to `requestId` from `clientId`, up to `timeoutMs` or until `signal` aborts. */
  await(requestId: string, clientId: string, timeoutMs: number, signal: AbortSignal): Promise<MethodResult> {
    return new Promise<MethodResult>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.pending.delete(requestId);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        finish();
        reject(new HubError(499, 'ClientClosedRequest', 'The caller went away before the device answered'));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new HubError(504, 'GatewayTimeout', 'Timed out waiting for the response from device.'));
      }, timeoutMs);
      this.pending.set(requestId, {
        clientId,
        timer,
        resolve: (result) => {
          finish();
          resolve(result);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The device's answer. Answers from another connection, or for no pending call, are ignored (as the hub does). */
  answer(requestId: string, clientId: string, status: number, body: Buffer): void {
    const call = this.pending.get(requestId);
    if (!call || call.clientId !== clientId) return;
    call.resolve({ status, payload: parsePayload(body) });
  }

  /** Fails every call of a connection that went away: the hub cannot get their answers any more. */
  failAll(clientId: string): void {
    for (const call of [...this.pending.values()]) {
      if (call.clientId === clientId) call.reject(new HubError(404, 'DeviceNotOnline', 'The device disconnected before it answered'));
    }
  }

  /** Drops every pending call (endpoint stopping). */
  clear(): void {
    for (const call of [...this.pending.values()]) call.reject(new HubError(503, 'ServiceUnavailable', 'The emulator is stopping'));
  }
}

function parsePayload(body: Buffer): unknown {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
