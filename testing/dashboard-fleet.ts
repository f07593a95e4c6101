/**
 * A fleet for dashboard measurements and the sweeps that fill Table storage from it, the way production does: the
 * real sweep (plan, shards, buckets, rules, suppressions) through azure-iothub against an emulated registry, writing
 * its runs, shards and findings with the production TableSweepStore (the service graph's, so the table names and
 * layout are the configured ones). About a quarter of the devices have findings, over seven rules; agent-stale
 * findings of the `lab` site are suppressed by a selector; each sweep between is preceded by agents repairing some
 * drift and failures, so the trend moves.
 *
 * Posture is not written: the sweep's per-device latest-row read and write (two requests per device per sweep)
 * would make seeding 100,000 devices three times the bulk of the run, and neither the Overview nor the Findings page
 * reads posture.
 */
import { MemoryPostureStore } from '../shared/adapters/memory/memory-posture-store';
import { sweepSettingsFrom } from '../shared/composition/sweep-services-of';
import type { ServiceGraph } from '../shared/composition/service-graph';
import type { SweepRun } from '../shared/ports/sweep-store';
import { newSweepId } from '../shared/services/sweep/start-sweep';
import { addDevice, BASELINE, MODULE, type FleetHub } from './sweep-fleet';
import { sweepHarness } from './sweep-harness';

/** Share of the fleet (per 100 devices) in each state; the rest is healthy. */
const MIX: ReadonlyArray<{ from: number; to: number; state: Parameters<typeof addDevice>[2]; options?: Parameters<typeof addDevice>[3] }> =
  [
    { from: 72, to: 80, state: 'missing' },
    { from: 80, to: 85, state: 'drifted' },
    { from: 85, to: 88, state: 'failed' },
    { from: 88, to: 90, state: 'stale' },
    { from: 90, to: 92, state: 'stale', options: { tags: { site: 'lab' } } },
    { from: 92, to: 94, state: 'noBaseline' },
    { from: 94, to: 96, state: 'inactive' },
    { from: 96, to: 97, state: 'healthy', options: { disabled: true } },
    { from: 97, to: 98, state: 'missing', options: { edge: true } },
  ];

/** What an agent that accepted its configuration reports (the fleet's desired properties, sweep-fleet.ts). */
const FIXED_AGENT = { ...BASELINE, Baseline_Disabled: false };

const SITES = ['plant-a', 'plant-b', 'depot', 'field'];

function deviceId(i: number): string {
  // A few ids with the odd characters IoT Hub allows, as real fleets have.
  return i % 997 === 13 ? `o'brien(${i})#2` : `${SITES[i % SITES.length]}-${String(i).padStart(7, '0')}`;
}

/**
 * Where device `i` falls in MIX (0–99): a 32-bit integer hash (murmur3's finaliser) of `i`, so a state is spread
 * over the whole id range and shares nothing with the site (`i % 4`): with `i % 100` every agent-failed device would
 * sit in one site, hence in a few shards' id ranges, and a rule filter would walk empty shards first.
 */
function slotOf(i: number): number {
  let h = i;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % 100;
}

/** Adds `devices` devices to the hub's registry (state operations, no notifications). */
export function buildDashboardFleet(hub: FleetHub, devices: number): void {
  for (let i = 0; i < devices; i++) {
    const slot = slotOf(i);
    const kind = MIX.find((entry) => slot >= entry.from && slot < entry.to);
    addDevice(hub, deviceId(i), kind?.state ?? 'healthy', { tags: { site: SITES[i % SITES.length] }, ...kind?.options });
  }
}

/** Agents fix part of the fleet between sweeps: some drift (round 1), some rejected configurations (round 2). */
function repairSome(hub: FleetHub, devices: number, round: number): void {
  for (let i = 0; i < devices; i++) {
    const slot = slotOf(i);
    if (round === 1 && slot >= 80 && slot < 83)
      hub.registry.updateReported(deviceId(i), MODULE, { Process_MessageFrequency: 'Medium' }, { notify: false });
    if (round === 2 && slot >= 85 && slot < 87)
      hub.registry.updateReported(
        deviceId(i),
        MODULE,
        { ...FIXED_AGENT, latest_state: 'success', latest_invalid_fields: [] },
        { notify: false },
      );
  }
}

/** A posture store that keeps nothing (see the header): every read misses, every write is dropped. */
class DiscardingPostureStore extends MemoryPostureStore {
  override getLatest(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  override writeLatest(): Promise<'written'> {
    return Promise.resolve('written');
  }
  override appendHistory(): Promise<void> {
    return Promise.resolve();
  }
}

export interface SeededSweeps {
  runs: SweepRun[];
  /** Wall time of each sweep, seconds. */
  sweepSeconds: number[];
  /** Finding rows the last sweep wrote (violations and suppressed). */
  lastSweepFindings: number;
  /** Finding rows of every sweep (all kept in the table). */
  totalFindings: number;
}

/**
 * Runs `sweeps` dry-run sweeps over the fleet into the graph's Table storage (repairs would change the fleet under
 * the measurement and, above SWEEP_BULK_IMPORT_THRESHOLD, need an import job), with the production sweep settings
 * but no registry budget (the emulator does not throttle). Also records a suppression and a few dead letters.
 */
export async function seedDashboardStorage(hub: FleetHub, graph: ServiceGraph, devices: number, sweeps = 3): Promise<SeededSweeps> {
  await graph.suppressions.put({
    id: 'lab-agents-offline',
    ruleId: 'agent-stale',
    selector: "tags.site = 'lab'",
    reason: 'lab agents are switched off between test campaigns',
    createdAt: new Date().toISOString(),
  });
  const letters = Math.max(1, Math.round(devices / 2000));
  await graph.deadLetters.record(
    Array.from({ length: letters }, (_, i) => ({
      position: { partitionId: String(i % 4), sequenceNumber: 1000 + i, offset: String(4096 * i), enqueuedTime: new Date() },
      deviceId: deviceId(i),
      reason: 'not a JSON document',
      raw: '{"properties":{"reported":',
      rawSize: 26,
      recordedAt: new Date(),
    })),
  );
  const harness = sweepHarness(
    { serviceConnectionString: hub.serviceConnectionString, registryUrl: hub.registryUrl },
    {
      settings: sweepSettingsFrom(graph.config),
      sweeps: graph.sweeps,
      posture: new DiscardingPostureStore(),
      suppressions: graph.suppressions,
      budget: { queriesPerMinute: 1e6, operationsPerMinute: 1e6 },
      retryBudgetMs: 60_000,
    },
  );
  const runs: SweepRun[] = [];
  const sweepSeconds: number[] = [];
  try {
    for (let round = 0; round < sweeps; round++) {
      if (round > 0) repairSome(hub, devices, round);
      const started = performance.now();
      const run = await harness.sweep({ dryRun: true, sweepId: newSweepId(new Date(), `bench${round}`) });
      sweepSeconds.push((performance.now() - started) / 1000);
      if (run.status !== 'completed' || !run.summary) throw new Error(`sweep ${run.sweepId} ended ${run.status}: ${run.error ?? ''}`);
      runs.push(run);
    }
  } finally {
    harness.close();
  }
  const findingsOf = (run: SweepRun | undefined): number =>
    Object.values(run?.summary?.counters.rules ?? {}).reduce((sum, rule) => sum + rule.violations + rule.suppressed, 0);
  return {
    runs,
    sweepSeconds,
    lastSweepFindings: findingsOf(runs.at(-1)),
    totalFindings: runs.reduce((sum, run) => sum + findingsOf(run), 0),
  };
}
