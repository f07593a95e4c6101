/**
 * Device side at fleet scale: BENCH_MQTT_AGENTS (default 10,000) simulated security agents connect over MQTT to one
 * emulator process, each as its own module identity (`{device}/BenchAgent`, a module the built-in agent simulator
 * leaves alone), subscribe as azure-iot-device does, report a patch and send telemetry.
 *
 * The agents are bare MQTT 3.1.1 clients (testing/mqtt-raw-client.ts, mqtt-packet over TCP), not azure-iot-device
 * ModuleClients: one SDK client costs several MB and a state machine per connection, so 10,000 of them would measure
 * the SDK in the bench process rather than the emulator. They send what the SDK sends (client id, username, SAS
 * password, the SDK's subscriptions and topics); the SDK itself is exercised by test/emulator/mqtt-*.test.ts.
 * Tokens are signed with the hub's iothubowner policy (DeviceConnect), as a provisioning tool may.
 *
 * Measured: emulator RSS before and after the fleet connects, connect rate (CONNACK) and set-up rate (CONNACK +
 * SUBACK), reported patch → twin-change notification latency at an @azure/event-hubs consumer (p50/p99), and
 * telemetry throughput (QoS 1 PUBACKs, and events reaching the consumer).
 * Run: `node dist/bench/mqtt-agents.bench.js` or `npm run bench -- mqtt-agents`.
 */
import { EventHubConsumerClient, latestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { type BenchResult, runIfMain } from './bench-result';
import type { SeedFile } from '../emulator/seed';
import { startMqttEmulatorProcess, type MqttEmulatorProcess } from '../testing/mqtt-emulator-process';
import { identityUsername, policySasToken, RawMqttClient } from '../testing/mqtt-raw-client';

export type { BenchResult };

const AGENTS = Number(process.env.BENCH_MQTT_AGENTS ?? 10_000);
const CONNECT_CONCURRENCY = 200;
const PATCHES = Math.min(AGENTS, 2_000);
const PATCHES_PER_SECOND = 500;
const TELEMETRY_PER_AGENT = 5;
const MODULE_ID = 'BenchAgent';
const SDK_SUBSCRIPTIONS = ['$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', '$iothub/methods/POST/#'];

interface Agent {
  deviceId: string;
  client: RawMqttClient;
}

function fleet(count: number): SeedFile {
  return {
    devices: Array.from({ length: count }, (_unused, i) => ({
      deviceId: `bench-agent-${String(i).padStart(5, '0')}`,
      securityModule: { moduleId: MODULE_ID, state: 'healthy' as const },
    })),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function connectFleet(emulator: MqttEmulatorProcess, deviceIds: readonly string[]) {
  const agents: Agent[] = [];
  let connackMs = 0;
  const started = Date.now();
  let next = 0;
  let refused = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      const deviceId = deviceIds[index];
      if (deviceId === undefined) return;
      const { client, connack } = await RawMqttClient.connect({
        port: emulator.mqttPort,
        clientId: `${deviceId}/${MODULE_ID}`,
        username: identityUsername(emulator.hostName, deviceId, MODULE_ID),
        password: policySasToken(emulator.hostName, deviceId, MODULE_ID, 'iothubowner', emulator.ownerKey),
      });
      if (connack.returnCode !== 0) {
        refused++;
        continue;
      }
      connackMs = Date.now() - started;
      await client.subscribe(SDK_SUBSCRIPTIONS);
      agents.push({ deviceId, client });
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, () => worker()));
  return { agents, connackMs, setupMs: Date.now() - started, refused };
}

/** Collects the bench's twin-change and telemetry notifications from every partition. */
function startConsumer(connectionString: string) {
  const consumer = new EventHubConsumerClient('$Default', connectionString);
  const latencies: number[] = [];
  const telemetry = { count: 0, lastAt: 0 };
  const onEvents = (events: ReceivedEventData[]): void => {
    const now = Date.now();
    for (const event of events) {
      const source: unknown = event.systemProperties?.['iothub-message-source'];
      if (source === 'Telemetry') {
        telemetry.count++;
        telemetry.lastAt = now;
      } else if (source === 'twinChangeEvents') {
        const sentAt = (event.body as { properties?: { reported?: { bench?: { sentAt?: number } } } })?.properties?.reported?.bench?.sentAt;
        if (typeof sentAt === 'number') latencies.push(now - sentAt);
      }
    }
  };
  const subscription = consumer.subscribe(
    { processEvents: (events) => Promise.resolve(onEvents(events)), processError: () => Promise.resolve() },
    { startPosition: latestEventPosition, maxBatchSize: 500, maxWaitTimeInSeconds: 1 },
  );
  return {
    latencies,
    telemetry,
    close: async () => {
      await subscription.close();
      await consumer.close();
    },
  };
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

export async function run(): Promise<BenchResult[]> {
  const seeded = fleet(AGENTS);
  const emulator = await startMqttEmulatorProcess(seeded);
  const agents: Agent[] = [];
  const consumer = startConsumer(emulator.eventHubConnectionString);
  try {
    const rssBefore = emulator.rssBytes();
    const connected = await connectFleet(
      emulator,
      seeded.devices.map((device) => device.deviceId),
    );
    agents.push(...connected.agents);
    const rssAfter = emulator.rssBytes();

    // Warm the consumer: the first notification it sees means its links are attached.
    const warm = agents[0];
    if (warm) {
      const deadline = Date.now() + 20_000;
      while (consumer.latencies.length === 0 && Date.now() < deadline) {
        await warm.client.publish('$iothub/twin/PATCH/properties/reported/?$rid=warm', JSON.stringify({ bench: { sentAt: Date.now() } }));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    consumer.latencies.length = 0;

    // Reported patches at a steady rate, each stamped with its send time.
    const twinAnswers: number[] = [];
    const patchStarted = Date.now();
    const batch = Math.max(1, Math.round(PATCHES_PER_SECOND / 10));
    for (let i = 0; i < PATCHES; i += batch) {
      for (const agent of agents.slice(i, i + batch)) {
        const sentAt = Date.now();
        const rid = `p${i}`;
        void agent.client
          .nextPublish((topic) => topic.includes(`$rid=${rid}&`), 30_000)
          .then(
            () => twinAnswers.push(Date.now() - sentAt),
            () => undefined,
          );
        void agent.client.publish(
          `$iothub/twin/PATCH/properties/reported/?$rid=${rid}`,
          JSON.stringify({ latest_state: 'Succeeded', bench: { sentAt, seq: i } }),
        );
      }
      const due = patchStarted + ((i + batch) / PATCHES_PER_SECOND) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    await until(() => consumer.latencies.length >= PATCHES, 30_000);
    const latencies = [...consumer.latencies].sort((a, b) => a - b);
    const answers = [...twinAnswers].sort((a, b) => a - b);

    // Telemetry: every agent sends TELEMETRY_PER_AGENT QoS 1 messages, all agents at once.
    const telemetryBefore = consumer.telemetry.count;
    const telemetryStarted = Date.now();
    const body = JSON.stringify({ kind: 'heartbeat', cpu: 12.5, memory: 48, collectors: ['Process', 'Login'] });
    await Promise.all(
      agents.map(async (agent) => {
        for (let i = 0; i < TELEMETRY_PER_AGENT; i++) {
          await agent.client.publish(
            `devices/${agent.deviceId}/modules/${MODULE_ID}/messages/events/%24.ct=application%2Fjson&seq=${i}`,
            body,
            1,
          );
        }
      }),
    );
    const acknowledgedMs = Date.now() - telemetryStarted;
    const sent = agents.length * TELEMETRY_PER_AGENT;
    await until(() => consumer.telemetry.count - telemetryBefore >= sent, 60_000);
    const delivered = consumer.telemetry.count - telemetryBefore;
    const deliveredMs = Math.max(1, consumer.telemetry.lastAt - telemetryStarted);

    const perConnectionKb = agents.length > 0 ? (rssAfter - rssBefore) / 1024 / agents.length : Number.NaN;
    return [
      {
        name: 'agents connected (of requested)',
        value: agents.length,
        unit: `of ${AGENTS}`,
        target: '10,000',
        pass: agents.length >= 10_000,
      },
      { name: 'connections refused', value: connected.refused, unit: '', target: '0', pass: connected.refused === 0 },
      { name: 'connect rate (CONNECT → CONNACK)', value: Math.round(agents.length / (connected.connackMs / 1000)), unit: 'conn/s' },
      { name: 'set-up rate (CONNACK + 3 SUBSCRIBEs)', value: Math.round(agents.length / (connected.setupMs / 1000)), unit: 'agents/s' },
      { name: 'emulator RSS before the fleet connects', value: Math.round(rssBefore / 1024 / 1024), unit: 'MB' },
      { name: 'emulator RSS with the fleet connected', value: Math.round(rssAfter / 1024 / 1024), unit: 'MB' },
      { name: 'emulator memory per connection', value: Number(perConnectionKb.toFixed(1)), unit: 'KB' },
      { name: `reported patch → notification p50 (${latencies.length} of ${PATCHES})`, value: percentile(latencies, 50), unit: 'ms' },
      { name: 'reported patch → notification p99', value: percentile(latencies, 99), unit: 'ms' },
      { name: 'reported patch → $iothub/twin/res/204 p50', value: percentile(answers, 50), unit: 'ms' },
      { name: 'reported patch → $iothub/twin/res/204 p99', value: percentile(answers, 99), unit: 'ms' },
      { name: `telemetry acknowledged (${sent} QoS 1 messages)`, value: Math.round(sent / (acknowledgedMs / 1000)), unit: 'msg/s' },
      { name: `telemetry at the consumer (${delivered} of ${sent})`, value: Math.round(delivered / (deliveredMs / 1000)), unit: 'msg/s' },
    ];
  } finally {
    for (const agent of agents) agent.client.destroy();
    await consumer.close();
    await emulator.stop();
  }
}

runIfMain(module, run);
