/**
 * `npm run bench -- scale-out`: standalone hosts (`dist/host/cli.js --standalone`, one process each) sharing the 8
 * partitions of the emulator's built-in endpoint through one checkpoint container (in-process Azurite).
 * - Partition ownership, read from the checkpoint store: how long one host with the default settings takes to own
 *   every partition after a start, a clean restart and a SIGKILL; and for 3 hosts started together, with each
 *   strategy, how long until they share the partitions evenly, how many partitions changed hands on the way
 *   (greedy's start-up churn), and how long the survivors take to own everything after a SIGKILL and a SIGTERM.
 * - Throughput on the benchmark mix of bench/standalone-host.bench.ts (20,000 security-module twin changes over
 *   2,000 devices): events/s with 1 host and with 3, and the ratio.
 * The functional checks (exactly-once rows and modules, takeover within the expiry, shards spread) are
 * test/integration/scale-out.test.ts; this file measures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { BlobServiceClient } from '@azure/storage-blob';
import { EventHubConsumerClient } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { IotHubEmulator } from '../emulator';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../host/embedded-azurite';
import { eventually } from '../testing/eventually';
import { PartitionOwnership } from '../testing/partition-ownership';
import { killAll, startHostProcess, type HostProcess } from '../testing/standalone-host-process';
import { BENCH_MODULE } from '../testing/workload';
import { type BenchResult, runIfMain } from './bench-result';

const PARTITIONS = 8;
const CONSUMER_GROUP = 'twinguard';
const CONTAINER = 'scale-out-bench';
const DEFAULT_EXPIRY_SECONDS = 20;
const DEVICES = 2_000;
const CHANGES = 20_000;
const ROUNDS = 3;

interface Stage {
  azurite: EmbeddedAzurite;
  hub: IotHubEmulator;
  hosts: HostProcess[];
  start(label: string, env?: Record<string, string>): HostProcess;
  ownership(expirySeconds: number): PartitionOwnership;
  stop(): Promise<void>;
}

async function startStage(): Promise<Stage> {
  const azurite = await startEmbeddedAzurite({ blob: true, queue: true });
  const hub = await IotHubEmulator.start({
    partitionCount: PARTITIONS,
    consumerGroups: ['$Default', CONSUMER_GROUP],
    agent: { defaultMode: 'silent' },
  });
  const hosts: HostProcess[] = [];
  const owners: PartitionOwnership[] = [];
  const base: Record<string, string> = {
    IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
    IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
    IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
    AzureWebJobsStorage: azurite.connectionString,
    REGISTRY_RETRY_BUDGET_MS: '20000',
    STANDALONE_HTTP_PORT: '0',
    STANDALONE_FUNCTION_KEY: 'scale-out-bench-key-91c2',
    STANDALONE_CHECKPOINT_CONTAINER: CONTAINER,
  };
  return {
    azurite,
    hub,
    hosts,
    start(label, env = {}) {
      const host = startHostProcess({ ...base, ...env }, label);
      hosts.push(host);
      return host;
    },
    ownership(expirySeconds) {
      const view = new PartitionOwnership(
        BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CONTAINER),
        hub.eventHubConnectionString,
        CONSUMER_GROUP,
        expirySeconds * 1000,
      );
      owners.push(view);
      return view;
    },
    async stop() {
      await killAll(hosts);
      await Promise.all(owners.map((o) => o.close()));
      await hub.stop();
      await azurite.stop();
    },
  };
}

/** CPU seconds a process has used (Linux /proc; NaN elsewhere): where the time goes on a shared 2-core machine. */
function cpuSeconds(pid: number | undefined): number {
  const file = `/proc/${pid}/stat`;
  if (pid === undefined || !existsSync(file)) return Number.NaN;
  const fields = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

const ownedByAll = (ownership: PartitionOwnership, hosts: HostProcess[], timeoutMs: number, what: string): Promise<boolean> =>
  eventually(
    () =>
      ownership.ownedBy(
        hosts.map((h) => h.hostId()!),
        PARTITIONS,
      ),
    timeoutMs,
    what,
    50,
  );

/** One host, default settings: owned-everything times after a start, a clean restart and a SIGKILL. */
export async function singleHost(): Promise<BenchResult[]> {
  const stage = await startStage();
  try {
    const ownership = stage.ownership(DEFAULT_EXPIRY_SECONDS);
    const first = stage.start('first');
    await first.ready;
    let since = Date.now();
    await ownedByAll(ownership, [first], 30_000, 'one host to own all partitions');
    const startMs = Date.now() - since;
    first.child.kill('SIGTERM');
    await first.exited;
    const second = stage.start('second');
    await second.ready;
    since = Date.now();
    await ownedByAll(ownership, [second], 30_000, 'the restarted host to own all partitions');
    const restartMs = Date.now() - since;
    second.child.kill('SIGKILL');
    await second.exited;
    const killedAt = Date.now();
    const third = stage.start('third');
    await third.ready;
    const readyMs = Date.now() - killedAt;
    let firstHalfMs: number | undefined;
    await eventually(
      async () => {
        const mine = (await ownership.read()).byOwner.get(third.hostId()!)?.length ?? 0;
        if (mine >= PARTITIONS / 2) firstHalfMs ??= Date.now() - killedAt;
        return mine === PARTITIONS;
      },
      60_000,
      'the host started after a SIGKILL to own all partitions',
      50,
    );
    const killMs = Date.now() - killedAt;
    return [
      { name: '1 host, defaults (greedy, 20 s expiry): all 8 owned after start', value: startMs, unit: 'ms after ready' },
      { name: '1 host: all 8 owned after a clean restart (SIGTERM)', value: restartMs, unit: 'ms after ready' },
      {
        name: '1 host: half owned after a SIGKILL and restart',
        value: firstHalfMs ?? killMs,
        unit: `ms after the kill (process ready at ${readyMs} ms)`,
      },
      {
        name: '1 host: all 8 owned after a SIGKILL and restart',
        value: killMs,
        unit: 'ms after the kill',
        target: '≤ expiry + interval + start-up',
      },
    ];
  } finally {
    await stage.stop();
  }
}

/** 3 hosts started together with one strategy: time to an even share, partitions moved, takeover times. */
export async function threeHosts(strategy: 'greedy' | 'balanced'): Promise<BenchResult[]> {
  const stage = await startStage();
  try {
    const env = { STANDALONE_LOAD_BALANCING: strategy };
    const ownership = stage.ownership(DEFAULT_EXPIRY_SECONDS);
    const hosts = ['a', 'b', 'c'].map((label) => stage.start(label, env));
    await Promise.all(hosts.map((h) => h.ready));
    const readyAt = Date.now();
    let previous = new Map<string, string>();
    let moves = 0;
    const observe = async (): Promise<Map<string, string[]>> => {
      const { owners, byOwner } = await ownership.read();
      for (const [partition, owner] of owners) if (previous.has(partition) && previous.get(partition) !== owner) moves += 1;
      previous = owners;
      return byOwner;
    };
    const even = async (): Promise<boolean> => {
      const byOwner = await observe();
      const counts = hosts.map((h) => byOwner.get(h.hostId()!)?.length ?? 0).sort();
      return counts.join(',') === '2,3,3';
    };
    await eventually(even, 60_000, `3 ${strategy} hosts to share the partitions`, 50);
    const evenMs = Date.now() - readyAt;
    // Stable: no more moves for two update intervals.
    const settleUntil = Date.now() + (2 * DEFAULT_EXPIRY_SECONDS * 1000) / 4;
    while (Date.now() < settleUntil) {
      await observe();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const startMoves = moves;

    const [victim, stopped, last] = hosts as [HostProcess, HostProcess, HostProcess];
    const held = (await ownership.read()).byOwner.get(victim.hostId()!)?.length ?? 0;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    await ownedByAll(ownership, [stopped, last], 120_000, 'the survivors to own all partitions');
    const killMs = Date.now() - killedAt;
    stopped.child.kill('SIGTERM');
    await stopped.exited;
    const stoppedAt = Date.now();
    await ownedByAll(ownership, [last], 120_000, 'the last host to own all partitions');
    const termMs = Date.now() - stoppedAt;
    return [
      { name: `3 hosts, ${strategy}, started together: even share (3/3/2)`, value: evenMs, unit: 'ms after ready' },
      { name: `3 hosts, ${strategy}: partitions that changed hands on the way`, value: startMoves, unit: 'moves' },
      {
        name: `3 hosts, ${strategy}: survivors own all after a SIGKILL`,
        value: killMs,
        unit: `ms (${(killMs / (DEFAULT_EXPIRY_SECONDS * 1000)).toFixed(2)}× the expiry; it held ${held})`,
      },
      { name: `3 hosts, ${strategy}: last host owns all after a SIGTERM`, value: termMs, unit: 'ms after its exit' },
    ];
  } finally {
    await stage.stop();
  }
}

/** Events/s of `hostCount` hosts on the standalone-host benchmark's workload, timed until every partition is checkpointed. */
export async function throughput(hostCount: number): Promise<{
  rate: number;
  seconds: number;
  handled: number;
  batches: number;
  cpu: { hosts: number; own: number };
}> {
  const stage = await startStage();
  const endpoint = new EventHubConsumerClient(CONSUMER_GROUP, stage.hub.eventHubConnectionString);
  const checkpoints = new BlobCheckpointStore(
    BlobServiceClient.fromConnectionString(stage.azurite.connectionString).getContainerClient(CONTAINER),
  );
  try {
    // Balanced with a short expiry: hosts started together settle without moving partitions (see threeHosts), so
    // no partition is read twice while the emulator, which has no epoch receivers, would let the old owner go on.
    const expirySeconds = 8;
    const env = { STANDALONE_LOAD_BALANCING: 'balanced', STANDALONE_OWNERSHIP_EXPIRY_SECONDS: String(expirySeconds) };
    const hosts = Array.from({ length: hostCount }, (_, i) => stage.start(`h${i}`, env));
    await Promise.all(hosts.map((h) => h.ready));
    const ownership = stage.ownership(expirySeconds);
    // Settled: every partition owned, shared evenly, and no change for two update intervals.
    let shape = '';
    let sameSince = Date.now();
    await eventually(
      async () => {
        const { owners, byOwner } = await ownership.read();
        const now = hosts.map((h) => (byOwner.get(h.hostId()!) ?? []).sort().join('+')).join('|');
        if (now !== shape) [shape, sameSince] = [now, Date.now()];
        const counts = hosts.map((h) => byOwner.get(h.hostId()!)?.length ?? 0);
        return owners.size === PARTITIONS && Math.max(...counts) - Math.min(...counts) <= 1 && Date.now() - sameSince > expirySeconds * 500;
      },
      90_000,
      `${hostCount} hosts to share all partitions evenly`,
      100,
    );
    const caughtUp = async (): Promise<boolean> => {
      const done = await checkpoints.listCheckpoints(endpoint.fullyQualifiedNamespace, endpoint.eventHubName, CONSUMER_GROUP);
      for (const partitionId of await endpoint.getPartitionIds()) {
        const { lastEnqueuedSequenceNumber, isEmpty } = await endpoint.getPartitionProperties(partitionId);
        if (!isEmpty && (done.find((c) => c.partitionId === partitionId)?.sequenceNumber ?? -1) < lastEnqueuedSequenceNumber) return false;
      }
      return true;
    };
    const received = (): number =>
      hosts.reduce(
        (sum, host) => sum + host.linesWith('batch processed').reduce((n, line) => n + Number(/"received":(\d+)/.exec(line)?.[1] ?? 0), 0),
        0,
      );

    // Warm-up, as in standalone-host.bench.ts: the fleet's security modules appear.
    const { hub } = stage;
    const deviceIds = Array.from({ length: DEVICES }, (_, i) => `scale-bench-${String(i).padStart(5, '0')}`);
    for (const deviceId of deviceIds) hub.registry.createDevice({ deviceId }, { notify: false });
    for (const deviceId of deviceIds) hub.registry.createModule({ deviceId, moduleId: BENCH_MODULE });
    await eventually(caughtUp, 180_000, 'the warm-up to be checkpointed', 200);
    const warmBatches = hosts.reduce((n, host) => n + host.linesWith('batch processed').length, 0);
    const hostCpu = (): number => hosts.reduce((sum, host) => sum + cpuSeconds(host.child.pid), 0);
    const ownCpu = (): number => process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
    const cpuBefore = { hosts: hostCpu(), own: ownCpu() };

    const started = process.hrtime.bigint();
    for (let i = 0; i < CHANGES; i++) {
      const deviceId = deviceIds[(i * 7919) % DEVICES]!;
      hub.devices.setReported(deviceId, { latest_state: i % 23 === 0 ? 'failed' : 'success', sequence: i }, BENCH_MODULE);
      if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
    }
    await eventually(caughtUp, 600_000, 'the timed part to be checkpointed', 50);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = { hosts: hostCpu() - cpuBefore.hosts, own: ownCpu() - cpuBefore.own };
    const batches = hosts.reduce((n, host) => n + host.linesWith('batch processed').length, 0);
    // Once every line is in: every event of the warm-up and the timed part, counted by the hosts that handled it.
    await eventually(() => received() >= DEVICES + CHANGES, 10_000, 'the hosts’ batch logs', 50).catch(() => undefined);
    return { rate: Math.round(CHANGES / seconds), seconds, handled: received(), batches: batches - warmBatches, cpu };
  } finally {
    await endpoint.close();
    await stage.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  results.push(...(await singleHost()));
  results.push(...(await threeHosts('greedy')));
  results.push(...(await threeHosts('balanced')));
  // Alternating runs, median of each: on a 2-core machine one run's figure moves by ±20 % with what else runs.
  const runs: Record<1 | 3, Awaited<ReturnType<typeof throughput>>[]> = { 1: [], 3: [] };
  for (let round = 0; round < ROUNDS; round++) for (const count of [1, 3] as const) runs[count].push(await throughput(count));
  const median = (count: 1 | 3): Awaited<ReturnType<typeof throughput>> =>
    [...runs[count]].sort((a, b) => a.rate - b.rate)[Math.floor(runs[count].length / 2)]!;
  const one = median(1);
  const three = median(3);
  results.push(
    {
      name: `1 host: ${CHANGES} twin changes over ${DEVICES} devices, 8 partitions`,
      value: one.rate,
      unit: `events/s (median of ${runs[1].map((r) => r.rate).join(', ')})`,
    },
    { name: `3 hosts: the same workload`, value: three.rate, unit: `events/s (median of ${runs[3].map((r) => r.rate).join(', ')})` },
    { name: '3 hosts vs 1 host', value: Number((three.rate / one.rate).toFixed(2)), unit: '×' },
    {
      name: 'events handled per event sent, 3 hosts (1 = no duplicates)',
      value: Number((three.handled / (DEVICES + CHANGES)).toFixed(3)),
      unit: `(1 host: ${(one.handled / (DEVICES + CHANGES)).toFixed(3)})`,
    },
    {
      name: 'CPU s of the hosts, 1 vs 3 (timed part)',
      value: Number(one.cpu.hosts.toFixed(1)),
      unit: `vs ${three.cpu.hosts.toFixed(1)} s (emulator + Azurite: ${one.cpu.own.toFixed(1)} vs ${three.cpu.own.toFixed(1)} s)`,
    },
    { name: 'batches in the timed part, 1 vs 3 hosts', value: one.batches, unit: `vs ${three.batches}` },
  );
  return results;
}

runIfMain(module, run);
