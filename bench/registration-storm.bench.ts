/**
 * A registration storm on an S1 hub with one unit (emulator throttled like one: registry 100/min, jobs 100/min, import
 * jobs paced conservatively, emulator/faults.ts): N devices registered at once through the bulk API (`addDevices`,
 * 100 per call, as an operator's onboarding script would), while 20 other devices keep changing their module twins.
 *
 * The onboarding script itself is held to the hub's registry quota (a 429 waits Retry-After): 3,000 devices register in
 * about a second, 50,000 in about 9 minutes. Times count from its first call.
 *
 * - storm mode (REGISTRATION_STORM_THRESHOLD=auto): measured to the end — every module created by the import job, and
 *   every device's outcome on its posture (the `registration-storm-import` drain runs on its real 10 s schedule from
 *   the first call on, while the script is still registering);
 * - per call (off): measured over a fixed window, then extrapolated: modules created between 30 s and 90 s after the
 *   registration began (past the quota's initial burst; the script and TwinGuard share the quota) give the steady
 *   rate, and N / rate the time for all.
 *
 * Registry calls are the emulator's request counts per quota class minus the operator's own `addDevices` calls.
 * `STORM_BENCH_DEVICES=50000 npm run bench -- registration-storm` for the 50,000-device case (about 30 minutes).
 */
import { stormServicesOf } from '../shared/composition/storm-services-of';
import { currentLogLevel, setLogLevel } from '../shared/log-level';
import { silentLogger } from '../shared/logger';
import { drainRegistrationStorm } from '../shared/services/storm/drain-registration-storm';
import { DEFAULT_STORM_IMPORT_SETTINGS } from '../shared/services/storm/storm-services';
import { startSystem, type System } from '../testing/start-system';
import { type BenchResult, runIfMain } from './bench-result';

const DEVICES = Number(process.env['STORM_BENCH_DEVICES'] ?? 3000);
const MODULE = 'DefenderIotMicroAgent';
const BASELINE = { Process_Mode: 2 };
const STEADY = 20;
const TIMER_MS = 10_000;
const WINDOW_START_MS = 30_000;
const WINDOW_END_MS = 90_000;
const BULK = 100;

const progress = (message: string): void => {
  if (process.env['STORM_BENCH_VERBOSE']) console.error(`${new Date().toISOString()} ${message}`);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const deviceIds = Array.from({ length: DEVICES }, (_, i) => `onboard-${String(i).padStart(6, '0')}`);

async function start(threshold: string): Promise<System> {
  const system = await startSystem({
    env: {
      SECURITY_MODULE_BASELINE: JSON.stringify(BASELINE),
      REGISTRATION_STORM_THRESHOLD: threshold,
      REGISTRY_RETRY_BUDGET_MS: '60000',
      LOG_LEVEL: 'error',
    },
    // No simulated agents: each would hold an MQTT connection (two descriptors in this one process), and 50,000 of
    // them exceed the process's file limit long before the storm is done; outcomes come from the import job anyway.
    emulator: { throttle: { tier: 'S1', units: 1 }, agent: { defaultMode: 'disconnected' } },
    azurite: 'own-process',
  });
  for (let i = 0; i < STEADY; i++) {
    system.hub.registry.createDevice({ deviceId: `steady-${i}`, authentication: { type: 'sas' } }, { notify: false });
    system.hub.registry.createModule({ deviceId: `steady-${i}`, moduleId: MODULE, authentication: { type: 'sas' } }, { notify: false });
  }
  await system.startConsumer({ maxBatchSize: 100 });
  return system;
}

function modulesCreated(system: System): number {
  return deviceIds.reduce((n, id) => n + (system.hub.registry.findTwin(id, MODULE) ? 1 : 0), 0);
}

function registryCalls(system: System): { registry: number; registryThrottled: number; jobs: number; query: number; throttled: number } {
  const counts = system.hub.faults.requestCounts();
  const throttled = Object.values(counts).reduce((n, c) => n + c.throttled, 0);
  return {
    registry: counts.registry.requests,
    registryThrottled: counts.registry.throttled,
    jobs: counts.jobs.requests,
    query: counts.query.requests,
    throttled,
  };
}

/** Twin changes of the steady devices, one every 250 ms, and how long each took to reach the posture table. */
function steadyTraffic(system: System) {
  const sent: Array<{ deviceId: string; seq: number; at: number; seenAt?: number }> = [];
  let seq = 0;
  let running = true;
  const writer = (async () => {
    while (running) {
      const deviceId = `steady-${seq % STEADY}`;
      system.hub.devices.setReported(deviceId, { seq }, MODULE);
      sent.push({ deviceId, seq, at: Date.now() });
      seq += 1;
      await sleep(250);
    }
  })();
  const reader = (async () => {
    while (running) {
      const latest = await system.services.posture.getLatestMany(Array.from({ length: STEADY }, (_, i) => `steady-${i}`));
      const now = Date.now();
      for (const change of sent) {
        const reported = latest.get(change.deviceId)?.posture.reported as { seq?: number } | undefined;
        if (change.seenAt === undefined && (reported?.seq ?? -1) >= change.seq) change.seenAt = now;
      }
      await sleep(500);
    }
  })();
  return {
    async stop() {
      running = false;
      await Promise.all([writer, reader]);
      const settled = sent.filter((c) => c.at < Date.now() - 5_000);
      const lags = settled.filter((c) => c.seenAt !== undefined).map((c) => c.seenAt! - c.at);
      lags.sort((a, b) => a - b);
      return {
        sent: settled.length,
        recorded: lags.length,
        p50: lags[Math.floor(lags.length / 2)] ?? Number.NaN,
        max: lags[lags.length - 1] ?? Number.NaN,
      };
    },
  };
}

/** The operator's onboarding script: 100 per bulk call; on 429 it waits what Retry-After asks and sends the call again. */
async function register(system: System): Promise<number> {
  let calls = 0;
  for (let i = 0; i < deviceIds.length; i += BULK) {
    const batch = deviceIds.slice(i, i + BULK).map((deviceId) => ({ deviceId, status: 'enabled' as const }));
    for (;;) {
      calls += 1;
      try {
        await system.sdkRegistry.addDevices(batch);
        break;
      } catch (error) {
        const throttled = error as { name?: string; response?: { headers?: Record<string, string | undefined> } };
        if (throttled.name !== 'ThrottlingError') throw error;
        await sleep(Math.max(1, Number(throttled.response?.headers?.['retry-after'] ?? 1)) * 1000);
      }
    }
  }
  return calls;
}

async function stormMode() {
  const system = await start('auto');
  try {
    const traffic = steadyTraffic(system);
    const before = registryCalls(system);
    const startedAt = Date.now();
    // The drain runs on the timer's schedule from the start, while the operator is still registering (at S1's
    // registry quota, 50,000 devices in bulk calls of 100 take about 9 minutes to register).
    let registered = false;
    const registration = register(system).then((calls) => {
      registered = true;
      progress(`registered ${DEVICES} devices in ${Date.now() - startedAt} ms`);
      return calls;
    });
    const services = {
      ...stormServicesOf(system.graph),
      storm: { ...DEFAULT_STORM_IMPORT_SETTINGS, timeBudgetMs: 240_000 },
      logger: silentLogger,
    };
    let allModulesMs: number | undefined;
    let jobs = 0;
    for (;;) {
      const report = await drainRegistrationStorm(services);
      jobs += report.jobsSubmitted;
      progress(`storm step ${JSON.stringify(report)}; modules ${modulesCreated(system)}`);
      if (allModulesMs === undefined && modulesCreated(system) === DEVICES) allModulesMs = Date.now() - startedAt;
      if (
        registered &&
        report.step === 'idle' &&
        (await system.graph.pendingProvisioning.listUnclaimed(1)).length === 0 &&
        allModulesMs !== undefined
      )
        break;
      if (Date.now() - startedAt > 40 * 60_000) throw new Error('storm mode did not finish within 40 minutes');
      // Poll the module count in between, as an operator would watch it; the drain runs on the timer's schedule.
      const next = Date.now() + TIMER_MS;
      while (Date.now() < next) {
        if (allModulesMs === undefined && modulesCreated(system) === DEVICES) allModulesMs = Date.now() - startedAt;
        await sleep(500);
      }
    }
    const operatorCalls = await registration;
    const recordedMs = Date.now() - startedAt;
    const after = registryCalls(system);
    const latest = await system.services.posture.getLatestMany(deviceIds);
    const created = [...latest.values()].filter((stored) => stored.posture.provisioning === 'created').length;
    return {
      allModulesMs: allModulesMs ?? Number.NaN,
      recordedMs,
      created,
      jobs,
      registry: after.registry - before.registry - operatorCalls,
      jobCalls: after.jobs - before.jobs,
      queries: after.query - before.query,
      throttled: after.throttled - before.throttled,
      traffic: await traffic.stop(),
    };
  } finally {
    await system.stop();
  }
}

async function perCallMode() {
  const system = await start('off');
  try {
    const traffic = steadyTraffic(system);
    const before = registryCalls(system);
    const startedAt = Date.now();
    // Registration and TwinGuard's per-device calls share the registry quota, as on the hub: the window is measured
    // while the operator may still be registering.
    const registration = register(system);
    await sleep(Math.max(0, startedAt + WINDOW_START_MS - Date.now()));
    const atWindowStart = modulesCreated(system);
    const callsAtWindowStart = registryCalls(system);
    await sleep(Math.max(0, startedAt + WINDOW_END_MS - Date.now()));
    const atWindowEnd = modulesCreated(system);
    const after = registryCalls(system);
    // Lift the quota so the batches still retrying (and the rest of the registration) finish at once: stopping waits for them.
    system.hub.faults.configureThrottling(null);
    const operatorCalls = await registration;
    const perMinute = ((atWindowEnd - atWindowStart) * 60_000) / (WINDOW_END_MS - WINDOW_START_MS);
    // Calls the hub accepted (its 429s are counted apart): about 3 per device, as the per-device path makes them.
    const windowCalls = after.registry - after.registryThrottled - (callsAtWindowStart.registry - callsAtWindowStart.registryThrottled);
    return {
      perMinute,
      // Extrapolated: the modules of the first 30 s, then the rest at the steady rate.
      estimatedMs: WINDOW_START_MS + ((DEVICES - atWindowStart) / perMinute) * 60_000,
      callsPerDevice: windowCalls / Math.max(1, atWindowEnd - atWindowStart),
      registry: after.registry - before.registry - operatorCalls,
      throttled: after.throttled - before.throttled,
      traffic: await traffic.stop(),
    };
  } finally {
    await system.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  // Per call, every throttled retry would log a line; the figures are the point here.
  const level = currentLogLevel();
  setLogLevel('error');
  let storm: Awaited<ReturnType<typeof stormMode>>;
  let perCall: Awaited<ReturnType<typeof perCallMode>>;
  try {
    storm = await stormMode();
    perCall = await perCallMode();
  } finally {
    setLogLevel(level);
  }
  const estimatedPerCallCalls = perCall.callsPerDevice * DEVICES;
  const targetMs = DEVICES <= 3000 ? 5 * 60_000 : 30 * 60_000;
  return [
    {
      name: `storm mode: ${DEVICES} devices until every module exists`,
      value: storm.allModulesMs / 1000,
      unit: 's',
      target: `< ${targetMs / 60_000} min`,
      pass: storm.allModulesMs < targetMs,
    },
    { name: 'storm mode: until every outcome is on its posture', value: storm.recordedMs / 1000, unit: 's' },
    {
      name: 'storm mode: devices recorded as created',
      value: storm.created,
      unit: 'devices',
      target: `= ${DEVICES}`,
      pass: storm.created === DEVICES,
    },
    { name: 'storm mode: import jobs', value: storm.jobs, unit: 'jobs' },
    { name: 'storm mode: registry calls (identity registry class)', value: storm.registry, unit: 'calls' },
    { name: 'storm mode: jobs calls (create, get, list) / queries', value: storm.jobCalls + storm.queries, unit: 'calls' },
    { name: 'storm mode: 429s answered', value: storm.throttled, unit: 'responses' },
    {
      name: "storm mode: other devices' twin changes recorded",
      value: storm.traffic.recorded,
      unit: `of ${storm.traffic.sent}`,
      target: 'all',
      pass: storm.traffic.recorded === storm.traffic.sent,
    },
    {
      name: 'storm mode: other twin changes, p50 / max lag',
      value: storm.traffic.p50 / 1000,
      unit: `s / ${(storm.traffic.max / 1000).toFixed(1)} s`,
    },
    { name: 'per call: steady rate (30–90 s window)', value: perCall.perMinute, unit: 'modules/min' },
    { name: `per call: estimated time for ${DEVICES} devices`, value: perCall.estimatedMs / 60_000, unit: 'min' },
    {
      name: 'per call: accepted registry calls per device, total',
      value: perCall.callsPerDevice,
      unit: `≈ ${Math.round(estimatedPerCallCalls)} calls`,
    },
    { name: 'per call: 429s answered in 90 s', value: perCall.throttled, unit: 'responses' },
    {
      name: "per call: other devices' twin changes recorded (90 s)",
      value: perCall.traffic.recorded,
      unit: `of ${perCall.traffic.sent}`,
    },
    { name: 'ratio: per-call time / storm time (all modules)', value: perCall.estimatedMs / storm.allModulesMs, unit: '×' },
    {
      name: 'ratio: per-call registry calls / storm calls (all kinds)',
      value: estimatedPerCallCalls / Math.max(1, storm.registry + storm.jobCalls + storm.queries),
      unit: '×',
    },
  ];
}

runIfMain(module, run);
