/**
 * A realistic steady-state stream for the pipeline benchmarks: security-module twin changes spread
 * over a fleet (each device's reported `$version` advancing by one, as a live agent's would), some
 * desired changes, some device creations, and telemetry (JSON and text), built into host-shaped
 * batches by the standalone host's own adapter (host/host-batch.ts).
 */
import { toHostShapedBatch, type HostShapedBatch, type ReceivedEventLike } from '../host/host-batch';

export const BENCH_MODULE = 'DefenderIotMicroAgent';
const HUB = 'bench-hub';

export interface Workload {
  /** Establishes each device's base (module created), as after TwinGuard has been running a while. */
  warmup: HostShapedBatch[];
  batches: HostShapedBatch[];
  events: number;
  twinChanges: number;
  deviceCreations: number;
  deviceIds: string[];
  newDeviceIds: string[];
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function notification(
  source: string,
  schema: string,
  opType: string,
  deviceId: string,
  moduleId: string | undefined,
  body: unknown,
  ms: number,
): Omit<ReceivedEventLike, 'sequenceNumber' | 'offset' | 'enqueuedTimeUtc'> {
  const properties: Record<string, unknown> = {
    hubName: HUB,
    deviceId,
    operationTimestamp: stamp(ms),
    opType,
    'iothub-message-schema': schema,
  };
  const systemProperties: Record<string, unknown> = {
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    correlationId: `c${ms.toString(16)}`,
    'iothub-connection-device-id': deviceId,
    'iothub-enqueuedtime': ms,
    'iothub-message-source': source,
  };
  if (moduleId) {
    properties['moduleId'] = moduleId;
    systemProperties['iothub-connection-module-id'] = moduleId;
  }
  return { body: Buffer.from(JSON.stringify(body)), properties, systemProperties, partitionKey: null, contentType: 'application/json' };
}

function moduleCreated(deviceId: string, ms: number) {
  const at = stamp(ms);
  return notification(
    'deviceLifecycleEvents',
    'deviceLifecycleNotification',
    'createDeviceIdentity',
    deviceId,
    BENCH_MODULE,
    {
      deviceId,
      moduleId: BENCH_MODULE,
      etag: 'AAAAAAAAAAE=',
      version: 2,
      properties: { desired: { $metadata: { $lastUpdated: at }, $version: 1 }, reported: { $metadata: { $lastUpdated: at }, $version: 1 } },
    },
    ms,
  );
}

export function buildWorkload(options: {
  devices: number;
  events: number;
  batchSize: number;
  partitions?: number;
  startMs?: number;
}): Workload {
  const partitions = options.partitions ?? 4;
  const startMs = options.startMs ?? Date.UTC(2026, 0, 1);
  const deviceIds = Array.from({ length: options.devices }, (_, i) => `bench-device-${String(i).padStart(6, '0')}`);
  const reportedVersion = new Map<string, number>();
  const twinVersion = new Map<string, number>();
  const desiredVersion = new Map<string, number>();
  // One device always lands on one partition; events are grouped per partition like the trigger does.
  const byPartition: ReceivedEventLike[][] = Array.from({ length: partitions }, () => []);
  const sequence = new Array<number>(partitions).fill(0);
  const partitionOf = (deviceId: string): number => {
    let hash = 0;
    for (let i = 0; i < deviceId.length; i++) hash = (hash * 31 + deviceId.charCodeAt(i)) >>> 0;
    return hash % partitions;
  };
  const append = (deviceId: string, event: Omit<ReceivedEventLike, 'sequenceNumber' | 'offset' | 'enqueuedTimeUtc'>, ms: number): void => {
    const p = partitionOf(deviceId);
    const seq = sequence[p]!++;
    byPartition[p]!.push({ ...event, sequenceNumber: seq, offset: String(seq * 512), enqueuedTimeUtc: new Date(ms) });
  };

  let ms = startMs;
  for (const deviceId of deviceIds) {
    append(deviceId, moduleCreated(deviceId, ms), ms);
    reportedVersion.set(deviceId, 1);
    twinVersion.set(deviceId, 2);
    desiredVersion.set(deviceId, 1);
    ms += 1;
  }
  const warmupEnd = byPartition.map((events) => events.length);

  let twinChanges = 0;
  const newDeviceIds: string[] = [];
  for (let i = 0; i < options.events; i++) {
    ms += 1;
    const slot = i % 100;
    const deviceId = deviceIds[(i * 7919) % deviceIds.length]!;
    if (slot < 70) {
      const version = reportedVersion.get(deviceId)! + 1;
      const tv = twinVersion.get(deviceId)! + 1;
      reportedVersion.set(deviceId, version);
      twinVersion.set(deviceId, tv);
      const state = i % 23 === 0 ? 'failed' : 'success';
      const at = stamp(ms);
      const patch = {
        latest_state: state,
        latest_invalid_fields: state === 'failed' ? ['Process_Mode'] : [],
        Heartbeat_MessageFrequency: 'High',
      };
      append(
        deviceId,
        notification(
          'twinChangeEvents',
          'twinChangeNotification',
          'updateTwin',
          deviceId,
          BENCH_MODULE,
          {
            version: tv,
            properties: { reported: { ...patch, $metadata: { $lastUpdated: at, latest_state: { $lastUpdated: at } }, $version: version } },
          },
          ms,
        ),
        ms,
      );
      twinChanges++;
    } else if (slot < 75) {
      const version = desiredVersion.get(deviceId)! + 1;
      const tv = twinVersion.get(deviceId)! + 1;
      desiredVersion.set(deviceId, version);
      twinVersion.set(deviceId, tv);
      const at = stamp(ms);
      append(
        deviceId,
        notification(
          'twinChangeEvents',
          'twinChangeNotification',
          'updateTwin',
          deviceId,
          BENCH_MODULE,
          {
            version: tv,
            tags: { site: 'plant-1' },
            properties: {
              desired: {
                Heartbeat_MessageFrequency: 'High',
                $metadata: { $lastUpdated: at, $lastUpdatedVersion: version },
                $version: version,
              },
            },
          },
          ms,
        ),
        ms,
      );
      twinChanges++;
    } else if (slot < 77) {
      const newId = `bench-new-${String(i).padStart(7, '0')}`;
      newDeviceIds.push(newId);
      append(
        newId,
        notification(
          'deviceLifecycleEvents',
          'deviceLifecycleNotification',
          'createDeviceIdentity',
          newId,
          undefined,
          {
            deviceId: newId,
            etag: 'AAAAAAAAAAE=',
            version: 2,
            authenticationType: 'sas',
            capabilities: { iotEdge: false },
            properties: {
              desired: { $metadata: { $lastUpdated: stamp(ms) }, $version: 1 },
              reported: { $metadata: { $lastUpdated: stamp(ms) }, $version: 1 },
            },
          },
          ms,
        ),
        ms,
      );
    } else if (slot < 90) {
      append(
        deviceId,
        {
          body: Buffer.from(JSON.stringify({ temperature: 21 + (i % 5), humidity: 40 })),
          properties: { alert: 'false' },
          systemProperties: {
            'iothub-connection-device-id': deviceId,
            'iothub-message-source': 'Telemetry',
            contentType: 'application/json',
          },
          partitionKey: null,
        },
        ms,
      );
    } else {
      append(
        deviceId,
        {
          body: Buffer.from(`t=${21 + (i % 5)};h=40`),
          properties: {},
          systemProperties: { 'iothub-connection-device-id': deviceId, 'iothub-message-source': 'Telemetry' },
          partitionKey: null,
        },
        ms,
      );
    }
  }

  const toBatches = (slices: ReceivedEventLike[][]): HostShapedBatch[] => {
    const out: HostShapedBatch[] = [];
    slices.forEach((events, p) => {
      for (let i = 0; i < events.length; i += options.batchSize) {
        out.push(
          toHostShapedBatch(events.slice(i, i + options.batchSize), {
            fullyQualifiedNamespace: 'bench',
            eventHubName: 'bench',
            consumerGroup: 'twinguard',
            partitionId: String(p),
          }),
        );
      }
    });
    return out;
  };
  return {
    warmup: toBatches(byPartition.map((events, p) => events.slice(0, warmupEnd[p]))),
    batches: toBatches(byPartition.map((events, p) => events.slice(warmupEnd[p]))),
    events: options.events,
    twinChanges,
    deviceCreations: newDeviceIds.length,
    deviceIds,
    newDeviceIds,
  };
}
