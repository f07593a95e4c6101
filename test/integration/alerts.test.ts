/**
 * Compliance alerts end to end: a sweep on the IoT Hub emulator fills the AlertOutbox on Azurite; the dispatcher
 * delivers it to a real local webhook receiver (signature verified, one batched call, per-device order), retries a
 * failing receiver honouring Retry-After until the events are dead-lettered, delivers to an Azurite Storage Queue again
 * after a crash (same ids, redelivered by the queue), and publishes to a local Event Grid stand-in with
 * @azure/eventgrid.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueueClient } from '@azure/storage-queue';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { EventGridAlertSink } from '../../shared/adapters/event-grid-alert-sink';
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { QueueAlertSink } from '../../shared/adapters/queue-alert-sink';
import { TableAlertOutbox } from '../../shared/adapters/table-alert-outbox';
import { createTableClient, ensureTables } from '../../shared/adapters/table-clients';
import { WebhookAlertSink } from '../../shared/adapters/webhook-alert-sink';
import { ALERT_EVENT_TYPES, buildCloudEvent, type AlertEventType, type CloudEvent } from '../../shared/domain/alerts/cloud-event';
import { SIGNATURE_HEADER, verifySignature } from '../../shared/domain/alerts/webhook-signature';
import { silentLogger } from '../../shared/logger';
import type { AlertOutbox } from '../../shared/ports/alert-outbox';
import type { AlertSink } from '../../shared/ports/alert-sink';
import { dispatchAlerts } from '../../shared/services/alerts/dispatch-alerts';
import { outboxEntry } from '../../shared/services/alerts/outbox-sequence';
import { eventually } from '../../testing/eventually';
import { sweepHarness } from '../../testing/sweep-harness';
import { addDevice, MODULE, startFleetHub, type FleetHub } from '../../testing/sweep-fleet';

const SECRET = 'webhook-secret-for-tests';
const SOURCE = '/twinguard/sweep-test';

interface Received {
  headers: IncomingMessage['headers'];
  url: string;
  body: string;
}

/** A real HTTP receiver on loopback; `answer` decides each response. */
async function receiver(answer: (request: Received) => { status: number; headers?: Record<string, string> }): Promise<{
  url: string;
  calls: Received[];
  close(): Promise<void>;
  server: Server;
}> {
  const calls: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received = { headers: req.headers, url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') };
      calls.push(received);
      const { status, headers } = answer(received);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function event(deviceId: string, at: Date, type: AlertEventType = ALERT_EVENT_TYPES.deviceNonCompliant): CloudEvent {
  return buildCloudEvent({ idParts: ['sw-x', deviceId], source: SOURCE, type, subject: deviceId, time: at, data: { deviceId } });
}

describe('compliance alerts', () => {
  let azurite: EmbeddedAzurite;
  let outbox: TableAlertOutbox;
  let clock: { now: number };
  const sweeps = new MemorySweepStore();

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ queue: true });
  });
  afterAll(async () => {
    await azurite.stop();
  });
  beforeEach(async () => {
    const table = createTableClient({ connectionString: azurite.connectionString }, `Outbox${Math.random().toString(36).slice(2, 8)}`);
    await ensureTables([table]);
    outbox = new TableAlertOutbox(table, { retryBudgetMs: 5000 });
    clock = { now: Date.UTC(2026, 11, 3, 2) };
  });

  const dispatch = (sink: AlertSink, store: AlertOutbox = outbox, maxAttempts = 8) =>
    dispatchAlerts({
      outbox: store,
      sink,
      sweeps,
      source: SOURCE,
      complianceDropPoints: 10,
      maxAttempts,
      now: () => new Date(clock.now),
      logger: silentLogger,
    });

  describe('from sweeps on the emulator', () => {
    let hub: FleetHub;
    beforeEach(async () => {
      hub = await startFleetHub();
    });
    afterEach(async () => {
      await hub.stop();
    });

    it('raises noncompliant, recovered, rulefired and sweep-drop events, and delivers them in one signed batch in order', async () => {
      for (let i = 0; i < 4; i++) addDevice(hub, `healthy-${i}`, 'healthy');
      addDevice(hub, 'failed-1', 'failed');
      addDevice(hub, 'stale-1', 'stale');
      const runs = new MemorySweepStore();
      const h = sweepHarness(hub, { sweeps: runs, now: () => new Date(hub.clock.now), settings: { repairRules: new Set() } });
      h.services.alerts = { outbox, source: SOURCE };
      await h.sweep({ sweepId: 'sw-a' });
      const first = await outbox.pending(100);
      expect(first.map((row) => [row.event.type, row.event.subject]).sort()).toEqual([
        [ALERT_EVENT_TYPES.deviceNonCompliant, 'failed-1'],
        [ALERT_EVENT_TYPES.deviceNonCompliant, 'stale-1'],
      ]);

      hub.clock.now += 3_600_000;
      hub.registry.updateReported('failed-1', MODULE, { latest_state: 'success', latest_invalid_fields: [] }, { notify: false });
      for (const id of ['healthy-0', 'healthy-1', 'healthy-2'])
        hub.registry.updateReported(id, MODULE, { Process_MessageFrequency: 'Low' }, { notify: false });
      hub.registry.updateDevice({ deviceId: 'stale-1', status: 'disabled' }, '*');
      // stale-1 stays stale (its reported section is untouched) and is now disabled too: a new rule fires.
      await h.sweep({ sweepId: 'sw-b' });
      h.close();
      const byDevice = (await outbox.pending(100)).filter((row) => row.event.time === new Date(hub.clock.now).toISOString());
      expect(byDevice.map((row) => [row.event.subject, row.event.type]).sort()).toEqual([
        ['failed-1', ALERT_EVENT_TYPES.deviceRecovered],
        ['healthy-0', ALERT_EVENT_TYPES.deviceNonCompliant],
        ['healthy-1', ALERT_EVENT_TYPES.deviceNonCompliant],
        ['healthy-2', ALERT_EVENT_TYPES.deviceNonCompliant],
        ['stale-1', ALERT_EVENT_TYPES.deviceRuleFired],
      ]);
      expect(byDevice.find((row) => row.event.subject === 'stale-1')?.event.data).toMatchObject({ newRules: ['identity-disabled'] });

      // Re-adding what a redone bucket computes again adds nothing: the key is derived from the event.
      expect(
        await outbox.add(
          byDevice.map((row) => ({ event: row.event, sequence: row.sequence })),
          new Date(),
        ),
      ).toBe(0);

      const hook = await receiver((request) => ({
        status: verifySignature(request.body, SECRET, request.headers[SIGNATURE_HEADER] as string) ? 202 : 401,
      }));
      try {
        const sink = new WebhookAlertSink({ url: `${hook.url}/alerts`, secret: SECRET, timeoutMs: 5000 });
        clock.now = Date.parse((await runs.listRecentRuns(1))[0]?.completedAt ?? '') + 60_000;
        const result = await dispatchAlerts({
          outbox,
          sink,
          sweeps: runs,
          source: SOURCE,
          complianceDropPoints: 10,
          maxAttempts: 8,
          now: () => new Date(clock.now),
          logger: silentLogger,
        });
        expect(result).toMatchObject({ sent: 8, batches: 1, retried: 0, deadLettered: 0 });
        expect(hook.calls).toHaveLength(1);
        const call = hook.calls[0] as Received;
        expect(call.headers['content-type']).toBe('application/cloudevents-batch+json; charset=utf-8');
        expect(verifySignature(call.body, SECRET, call.headers[SIGNATURE_HEADER] as string)).toBe(true);
        const events = JSON.parse(call.body) as CloudEvent[];
        expect(events.every((e) => e.specversion === '1.0' && e.source === SOURCE && e.datacontenttype === 'application/json')).toBe(true);
        const stale = events.filter((e) => e.subject === 'stale-1').map((e) => e.type);
        expect(stale).toEqual([ALERT_EVENT_TYPES.deviceNonCompliant, ALERT_EVENT_TYPES.deviceRuleFired]);
        const drop = events.find((e) => e.type === ALERT_EVENT_TYPES.sweepComplianceDropped);
        expect(drop).toMatchObject({ subject: 'sweeps/sw-b', data: { sweepId: 'sw-b', previousSweepId: 'sw-a', thresholdPoints: 10 } });
        expect((drop?.data as { dropPoints: number }).dropPoints).toBeCloseTo(33.33, 1);
        expect(new Set(events.map((e) => e.id)).size).toBe(8);

        // Delivered once: the next round has nothing to send and the drop is not raised twice.
        expect(
          await dispatchAlerts({
            outbox,
            sink,
            sweeps: runs,
            source: SOURCE,
            complianceDropPoints: 10,
            maxAttempts: 8,
            now: () => new Date(clock.now),
            logger: silentLogger,
          }),
        ).toMatchObject({ sent: 0 });
        expect(hook.calls).toHaveLength(1);
      } finally {
        await hook.close();
      }
    });
  });

  it('retries a failing webhook honouring Retry-After, then dead-letters; a dead letter does not block the device', async () => {
    let healthy = false;
    const hook = await receiver(() => (healthy ? { status: 200 } : { status: 503, headers: { 'retry-after': '120' } }));
    try {
      const sink = new WebhookAlertSink({ url: hook.url, secret: SECRET, timeoutMs: 5000 });
      await outbox.add(
        [outboxEntry(event('dev-1', new Date(clock.now)), 1), outboxEntry(event('dev-2', new Date(clock.now)), 1)],
        new Date(clock.now),
      );
      expect(await dispatch(sink, outbox, 3)).toMatchObject({ sent: 0, retried: 2, deadLettered: 0 });
      const waiting = await outbox.pending(10);
      expect(waiting.every((row) => row.attempts === 1 && Date.parse(row.nextAttemptAt) === clock.now + 120_000)).toBe(true);
      clock.now += 60_000;
      expect(await dispatch(sink, outbox, 3)).toMatchObject({ sent: 0, retried: 0, waiting: 2 });
      expect(hook.calls).toHaveLength(1);
      clock.now += 61_000;
      expect(await dispatch(sink, outbox, 3)).toMatchObject({ retried: 2 });
      clock.now += 121_000;
      expect(await dispatch(sink, outbox, 3)).toMatchObject({ deadLettered: 2 });
      expect(hook.calls).toHaveLength(3);
      const dead = await outbox.deadLettered(10);
      expect(dead.map((row) => [row.event.subject, row.attempts])).toEqual([
        ['dev-1', 3],
        ['dev-2', 3],
      ]);
      expect(dead[0]?.lastError).toContain('503');
      expect(JSON.stringify(dead)).not.toContain(SECRET);
      healthy = true;
      await outbox.add([outboxEntry(event('dev-1', new Date(clock.now), ALERT_EVENT_TYPES.deviceRecovered), 1)], new Date(clock.now));
      expect(await dispatch(sink, outbox, 3)).toMatchObject({ sent: 1 });
    } finally {
      await hook.close();
    }
  });

  it('lets one dispatcher deliver at a time: another host holding the lease makes this round skip', async () => {
    const hook = await receiver(() => ({ status: 200 }));
    try {
      const sink = new WebhookAlertSink({ url: hook.url, secret: SECRET, timeoutMs: 5000 });
      await outbox.add([outboxEntry(event('dev-1', new Date(clock.now)), 1)], new Date(clock.now));
      expect(await outbox.acquireLease('other-host', new Date(clock.now), new Date(clock.now + 300_000))).toBe(true);
      expect(await dispatch(sink)).toMatchObject({ skipped: true, sent: 0 });
      expect(hook.calls).toHaveLength(0);
      clock.now += 300_001;
      expect(await dispatch(sink)).toMatchObject({ sent: 1 });
      // Released at the end of the round: the other host may take it at once.
      expect(await outbox.acquireLease('other-host', new Date(clock.now), new Date(clock.now + 300_000))).toBe(true);
    } finally {
      await hook.close();
    }
  });

  it('delivers to a Storage Queue at least once: a crash after sending resends the same ids, and the queue redelivers', async () => {
    const queue = new QueueClient(azurite.connectionString, `alerts-${Math.random().toString(36).slice(2, 8)}`);
    const sink = new QueueAlertSink(queue, 5000);
    const events = [event('dev-1', new Date(clock.now)), event('dev-2', new Date(clock.now + 1))];
    await outbox.add(
      events.map((e) => outboxEntry(e, 1)),
      new Date(clock.now),
    );
    let crash = true;
    const crashing: AlertOutbox = Object.assign(Object.create(outbox) as AlertOutbox, {
      markSent: (...args: Parameters<AlertOutbox['markSent']>) => {
        if (crash) {
          crash = false;
          return Promise.reject(new Error('process died'));
        }
        return outbox.markSent(...args);
      },
    });
    await expect(dispatch(sink, crashing)).rejects.toThrow('process died');
    expect(await dispatch(sink, crashing)).toMatchObject({ sent: 2, batches: 1 });
    const decode = (text: string) => (JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as CloudEvent[]).map((e) => e.id);
    const first = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 1 });
    expect(first.receivedMessageItems).toHaveLength(2);
    expect(first.receivedMessageItems.map((m) => decode(m.messageText))).toEqual([events.map((e) => e.id), events.map((e) => e.id)]);
    // Not deleted by its consumer: the queue hands the message out again once its visibility timeout ends.
    const again = await eventually(
      async () => {
        const page = await queue.receiveMessages({ numberOfMessages: 32 });
        return page.receivedMessageItems.length > 0 ? page.receivedMessageItems : undefined;
      },
      10_000,
      'the alert message to be redelivered',
    );
    expect(again.every((m) => m.dequeueCount === 2)).toBe(true);
    const ids = new Set([...first.receivedMessageItems, ...again].flatMap((m) => decode(m.messageText)));
    expect([...ids].sort()).toEqual(events.map((e) => e.id).sort());
  });

  it('publishes to an Event Grid topic with @azure/eventgrid (a local stand-in): CloudEvents batch, key header', async () => {
    const topic = await receiver(() => ({ status: 200 }));
    try {
      const sink = new EventGridAlertSink({ endpoint: `${topic.url}/api/events`, key: 'topic-key-for-tests', timeoutMs: 5000 });
      const events = [event('dev-1', new Date(clock.now)), event('dev-2', new Date(clock.now + 1))];
      await outbox.add(
        events.map((e) => outboxEntry(e, 1)),
        new Date(clock.now),
      );
      expect(await dispatch(sink)).toMatchObject({ sent: 2, batches: 1 });
      expect(topic.calls).toHaveLength(1);
      const call = topic.calls[0] as Received;
      expect(call.url).toMatch(/^\/api\/events\?api-version=/);
      expect(call.headers['aeg-sas-key']).toBe('topic-key-for-tests');
      expect(call.headers['content-type']).toContain('application/cloudevents-batch+json');
      const published = JSON.parse(call.body) as CloudEvent[];
      expect(published.map((e) => [e.id, e.type, e.subject, e.specversion])).toEqual(events.map((e) => [e.id, e.type, e.subject, '1.0']));
    } finally {
      await topic.close();
    }
  });
});
