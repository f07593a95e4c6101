/**
 * The hub's answers to a device's twin requests over MQTT (iot-mqtt-connect-to-iot-hub.md, "Retrieving a device twin's
 * properties" and "Update device twin's reported properties"):
 * - GET → 200 with the twin's properties section `{desired, reported}` (each with `$version`);
 * - PATCH reported → 204 with no body and `$version` (the reported section's new version) in the response topic;
 *   400 for malformed JSON; 429 throttled; 5xx server errors.
 * A reported patch goes through `HubRegistry.updateReported`, the same code path as `DeviceSide.setReported`, so the
 * twin-change notification on the built-in endpoint is the one the hub routes for a device's patch.
 *
 * azure-iot-device-mqtt 1.16.4 (dist/mqtt_twin_client.js `_onResponseMessage`) treats a response body with an
 * `errorCode` member as a failure and surfaces its `message`; errors are answered in that shape (the numeric codes are
 * those of "Troubleshoot Azure IoT Hub error codes", MicrosoftDocs/azure-docs: articles/iot-hub/troubleshoot-error-codes.md).
 */
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../../shared/domain/types';
import { HubError } from '../registry/hub-error';
import type { HubRegistry } from '../registry/hub-registry';
import type { DeviceIdentity } from './device-credentials';

export interface TwinResponse {
  status: number;
  /** Only on a successful reported patch: the reported section's new `$version`. */
  version?: number;
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);

const NUMERIC_ERROR_CODES: Readonly<Record<string, number>> = {
  ArgumentInvalid: 400004,
  IotHubFormatError: 400006,
  DeviceNotFound: 404001,
  ModuleNotFound: 404010,
  PreconditionFailed: 412002,
  MessageTooLarge: 413001,
  ThrottlingException: 429001,
};

/** `$iothub/twin/GET/`: the twin's properties, without `$metadata` (as the documented response shows). */
export function answerTwinGet(registry: HubRegistry, identity: DeviceIdentity): TwinResponse {
  try {
    const twin = registry.getTwin(identity.deviceId, identity.moduleId);
    const properties = twin['properties'] as { desired: JsonObject; reported: JsonObject };
    const body = { desired: withoutMetadata(properties.desired), reported: withoutMetadata(properties.reported) };
    return { status: 200, body: Buffer.from(JSON.stringify(body), 'utf8') };
  } catch (error) {
    return errorResponse(error);
  }
}

/** `$iothub/twin/PATCH/properties/reported/`: merges the patch (null deletes). */
export function answerReportedPatch(registry: HubRegistry, identity: DeviceIdentity, payload: Buffer): TwinResponse {
  let patch: unknown;
  try {
    patch = JSON.parse(payload.toString('utf8'));
  } catch {
    return errorResponse(new HubError(400, 'ArgumentInvalid', 'The reported properties patch is not valid JSON'));
  }
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    return errorResponse(new HubError(400, 'ArgumentInvalid', 'The reported properties patch must be a JSON object'));
  try {
    const twin = registry.updateReported(identity.deviceId, identity.moduleId, patch as JsonObject);
    const reported = (twin['properties'] as { reported: JsonObject }).reported;
    return { status: 204, version: reported['$version'] as number, body: EMPTY };
  } catch (error) {
    return errorResponse(error);
  }
}

/** An error answer in the shape the SDK recognises (`errorCode`, `message`). */
export function errorResponse(error: unknown): TwinResponse {
  const hubError =
    error instanceof HubError ? error : new HubError(500, 'ServerError', error instanceof Error ? error.message : String(error));
  const body = {
    errorCode: NUMERIC_ERROR_CODES[hubError.code] ?? hubError.status * 1000,
    trackingId: randomUUID().replace(/-/g, ''),
    message: hubError.message,
    timestampUtc: new Date().toISOString(),
  };
  return { status: hubError.status, body: Buffer.from(JSON.stringify(body), 'utf8') };
}

function withoutMetadata(section: JsonObject): JsonObject {
  const { $metadata: _metadata, ...rest } = section;
  return rest;
}
