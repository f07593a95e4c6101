/**
 * Contract between the emulator's registry (which knows what changed) and its Event Hub-compatible
 * endpoint (which knows how IoT Hub puts a change on the wire). The registry emits one HubChange per
 * operation; the notification builder turns it into the exact message IoT Hub would route to `events`.
 */

/** A twin document as IoT Hub returns it from GET /twins/{id} (device) or /twins/{id}/modules/{m}. */
export type TwinDocument = Record<string, unknown> & {
  deviceId: string;
  moduleId?: string;
  etag: string;
  version: number;
};

export type HubChange =
  | {
      /** Device or module identity created/deleted: body is the full twin of the identity. */
      kind: 'lifecycle';
      opType: 'createDeviceIdentity' | 'deleteDeviceIdentity';
      deviceId: string;
      moduleId?: string;
      body: TwinDocument;
      /** When the registry applied the operation (ms precision is all JS has; builder pads to 7 digits). */
      operationTime: Date;
    }
  | {
      /**
       * Twin updated or replaced. `body` is exactly what IoT Hub sends: for a reported patch only
       * `version` + the reported patch with `$metadata`/`$version`; for a tags/desired change all tags
       * and the whole desired section; for replace the whole twin.
       */
      kind: 'twinChange';
      opType: 'updateTwin' | 'replaceTwin';
      deviceId: string;
      moduleId?: string;
      body: Record<string, unknown>;
      operationTime: Date;
      /**
       * The desired-properties patch as the service sent it (nulls kept), on an updateTwin that changed desired
       * properties: what the hub pushes to a connected device on `$iothub/twin/PATCH/properties/desired/`.
       */
      desiredPatch?: Record<string, unknown>;
    }
  | {
      kind: 'connectionState';
      opType: 'deviceConnected' | 'deviceDisconnected';
      deviceId: string;
      moduleId?: string;
      /** Monotonic hex string, as IoT Hub sends it. */
      sequenceNumber: string;
      operationTime: Date;
    };

export type HubChangeListener = (change: HubChange) => void;

/** Routing sources an emulated hub can send to the built-in `events` endpoint. */
export type RouteSource = 'DeviceMessages' | 'DeviceLifecycleEvents' | 'TwinChangeEvents' | 'DeviceConnectionStateEvents';

export const DEFAULT_ROUTES: readonly RouteSource[] = ['DeviceMessages', 'DeviceLifecycleEvents', 'TwinChangeEvents'];
