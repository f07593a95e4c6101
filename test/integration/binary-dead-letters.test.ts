/**
 * Defects 10 and 12 end to end over real protocols: events with binary bodies and an illegal device id go over
 * AMQP into the emulator's Event Hub-compatible endpoint (produced with @azure/event-hubs, annotated as IoT Hub
 * annotates notifications), are consumed by the standalone host's EventConsumer (host-batch shaping for the
 * registered dataType 'binary'), handled by the real iothub-events handler and dead-lettered into Azurite. The
 * dead-letter row must hold the exact bytes as `base64:…`, not U+FFFD text.
 */
import { TableClient } from '@azure/data-tables';
import { EventHubProducerClient } from '@azure/event-hubs';
import { seededRandom } from '../../shared/domain/seeded-random';
import { eventually } from '../../testing/eventually';
import { startSystem, type System } from '../../testing/start-system';

const MODULE = 'DefenderIotMicroAgent';

/** The fields of @azure/core-amqp's AmqpAnnotatedMessage used here (that package is not a direct dependency). */
interface AmqpAnnotatedMessage {
  bodyType: 'data';
  body: Buffer;
  properties?: { contentType?: string; contentEncoding?: string };
  applicationProperties?: Record<string, string>;
  messageAnnotations: Record<string, string>;
}

/** A twin-change notification as IoT Hub puts it on the built-in endpoint, with any body. */
function twinChange(deviceId: string, body: Buffer): AmqpAnnotatedMessage {
  return {
    bodyType: 'data',
    body,
    properties: { contentType: 'application/json', contentEncoding: 'utf-8' },
    applicationProperties: {
      hubName: 'twinguard-test-hub',
      deviceId,
      moduleId: MODULE,
      opType: 'updateTwin',
      'iothub-message-schema': 'twinChangeNotification',
      operationTimestamp: '2026-11-23T10:00:00.0000000Z',
    },
    messageAnnotations: {
      'iothub-message-source': 'twinChangeEvents',
      'iothub-connection-device-id': deviceId,
      'iothub-connection-module-id': MODULE,
    },
  };
}

/** Device telemetry: no iothub-message-source annotation. */
function telemetry(deviceId: string, body: Buffer): AmqpAnnotatedMessage {
  return { bodyType: 'data', body, messageAnnotations: { 'iothub-connection-device-id': deviceId } };
}

async function deadLetterRows(system: System): Promise<Record<string, unknown>[]> {
  const client = TableClient.fromConnectionString(system.azurite.connectionString, 'PostureDeadLetters', { allowInsecureConnection: true });
  const rows: Record<string, unknown>[] = [];
  for await (const entity of client.listEntities()) rows.push(entity);
  return rows;
}

/** The Raw text of a dead-letter row: Raw, Raw1, Raw2, … joined. */
function rawOf(row: Record<string, unknown>): string {
  let text = typeof row['Raw'] === 'string' ? row['Raw'] : '';
  for (let i = 1; typeof row[`Raw${i}`] === 'string'; i++) text += row[`Raw${i}`] as string;
  return text;
}

describe('binary bodies and illegal device ids through AMQP, the standalone consumer and Azurite', () => {
  let system: System;
  let producer: EventHubProducerClient;

  beforeAll(async () => {
    system = await startSystem({ emulator: { acceptProducedEvents: true } });
    producer = new EventHubProducerClient(system.hub.eventHubConnectionString);
  });
  afterAll(async () => {
    await producer.close();
    await system.stop();
  });

  it('dead-letters a 1,024-byte binary notification byte for byte, an illegal device id with its reason, and skips binary telemetry', async () => {
    const random = seededRandom(42);
    const bytes = Buffer.from(Array.from({ length: 1024 }, () => Math.floor(random() * 256)));
    const accented = 'é'.repeat(200);
    const jsonPatch = Buffer.from(JSON.stringify({ version: 3, properties: { reported: { latest_state: 'success', $version: 2 } } }));
    await system.startConsumer();
    await producer.sendBatch([twinChange('bin-1', bytes), twinChange(accented, jsonPatch), telemetry('bin-1', bytes)]);

    // The batch report is pushed after the dead letters were written (the handler returns after processEventBatch).
    await eventually(
      () => Promise.resolve(system.reports.reduce((n, r) => n + r.received, 0) >= 3 || undefined),
      20_000,
      'all three events handled',
    );
    const rows = await deadLetterRows(system);
    const binary = rows.find((row) => row['DeviceId'] === 'bin-1');
    expect(binary).toMatchObject({ Reason: 'body is not valid UTF-8', RawSize: 1024, Source: 'twinChangeEvents' });
    const raw = rawOf(binary!);
    expect(raw).toBe(`base64:${bytes.toString('base64')}`);
    expect(raw).not.toContain('\ufffd');
    expect(Buffer.from(raw.slice('base64:'.length), 'base64').equals(bytes)).toBe(true);

    const illegal = rows.find((row) => row !== binary);
    expect(illegal?.['Reason']).toBe(`device id "${'é'.repeat(140)}"… is not a legal IoT Hub device id`);
    expect(illegal?.['DeviceId']).toBeUndefined();
    expect(rawOf(illegal!)).toBe(jsonPatch.toString('utf8'));

    expect(system.reports.reduce((n, r) => n + r.deadLettered, 0)).toBe(2);
    expect(system.reports.reduce((n, r) => n + (r.skipped.telemetry ?? 0), 0)).toBe(1);
    expect(await system.services.posture.getLatest(accented)).toBeUndefined();
    expect(rows).toHaveLength(2);
  });
});
