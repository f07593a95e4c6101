/**
 * Direct methods, service side: `POST /twins/{id}/methods` and `POST /twins/{id}/modules/{m}/methods`, as azure-iothub
 * 1.16.x `Client.invokeDeviceMethod` calls them (dist/device_method.js `invokeOn` / `invokeOnModule`: body
 * `{methodName, payload, responseTimeoutInSeconds, connectTimeoutInSeconds}`, client-side timeout = the sum of both).
 * The answer is `200 {status, payload}` with the device's status and payload; 404 DeviceNotOnline when the device is
 * not connected (or not subscribed to methods) and 504 GatewayTimeout when it does not answer in time
 * (MicrosoftDocs/azure-docs: articles/iot-hub/troubleshoot-error-codes.md, 404103 and 504101).
 */
import type { MethodInvocation, MethodResult } from '../mqtt/method-calls';
import { readMethodInvocation } from '../mqtt/method-calls';
import type { Route, RouteResolver } from './route';

/** What answers a method call: the device endpoint (emulator/mqtt/mqtt-endpoint.ts). */
export interface DirectMethodInvoker {
  invokeMethod(deviceId: string, moduleId: string | undefined, invocation: MethodInvocation, signal: AbortSignal): Promise<MethodResult>;
}

export function methodRoutes(invoker: DirectMethodInvoker): RouteResolver {
  return (method, segments): Route | undefined => {
    if (method !== 'POST' || segments[0] !== 'twins' || segments[1] === undefined) return undefined;
    const deviceId = segments[1];
    let moduleId: string | undefined;
    if (segments.length === 3 && segments[2] === 'methods') moduleId = undefined;
    else if (segments.length === 5 && segments[2] === 'modules' && segments[3] !== undefined && segments[4] === 'methods')
      moduleId = segments[3];
    else return undefined;
    return {
      // IoT Hub meters direct methods under their own quota; the emulator counts them with twin updates.
      opClass: 'twinUpdate',
      permissions: ['ServiceConnect'],
      handle: async (request) => {
        const invocation = readMethodInvocation(request.body);
        const result = await invoker.invokeMethod(deviceId, moduleId, invocation, request.signal);
        return { status: 200, body: result };
      },
    };
  };
}
