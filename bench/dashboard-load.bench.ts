/**
 * Dashboard load time on a seeded fleet (issue 11, "Measure"): BENCH_DASHBOARD_DEVICES devices (default 100,000)
 * against the 100-device demo size, for the ratio.
 *
 * Per fleet size, one stack: Azurite in its own process (testing/azurite-process.ts); the fleet on an emulated
 * registry (testing/dashboard-fleet.ts: about a quarter of the devices with findings over seven rules, a
 * suppression, a few dead letters); three real sweeps through azure-iothub into Table storage with the production
 * TableSweepStore and sweep settings (dry runs; posture not written, see that file); then the standalone host
 * serving the HTTP functions in its own process over that storage (testing/http-api-host-process.ts). Both stacks
 * stay up and are measured in alternation, so load from other work on the machine falls on both alike:
 * - API: BENCH_DASHBOARD_REQUESTS (default 30) sequential requests each of GET /api/overview?trend=30 (what the
 *   Overview page asks), the Findings page's first page (limit=25), the first page filtered by a rule with findings
 *   (agent-failed) and by one without (module-auth-weak: the store walks every shard partition), and the second
 *   page; median and p95. Also the Table queries behind page 1 and behind the rule without findings, sent straight
 *   to Azurite, to tell the stand-in's cost from the host's (see storageProbes);
 * - Chromium (when /usr/bin/chromium exists, else a printed note): navigation start to the Overview figures
 *   (`[data-figure="known"]`) and to the first findings rows (`tr.finding`) in the DOM, the key already in
 *   sessionStorage, a fresh context (nothing cached) per load (testing/dashboard-browser.ts); median of 5. Target
 *   from the issue: under 1 s on the demo. The figures on screen are checked against the API's.
 * The API's first answer after the host starts (the service graph being built) is a warm-up, reported on its own.
 * Measured 2026-12-03 on 2 shared cores (load average ≈ 12), demo / 100,000 devices: Chromium Overview 729 / 772 ms,
 * Findings 526 / 741 ms, both pages sending their data call ≈ 400–500 ms after navigation (the shell and its
 * modules); API medians: overview 33 / 21 ms, findings page 1 27 / 80 ms (Azurite alone 7 / 57 ms), page 1 of a rule
 * without findings 19 / 810 ms (Azurite alone, the 16 partition queries: 778 ms). About 4.5 minutes in all.
 * Run: `npm run build && node dist/bench/dashboard-load.bench.js` (or `npm run bench -- dashboard-load`).
 */
import { randomBytes } from 'node:crypto';
import { odata } from '@azure/data-tables';
import type { Browser } from 'playwright-core';
import { createTableClient } from '../shared/adapters/table-clients';
import { findingsPartition } from '../shared/adapters/table-sweep-store';
import { buildServiceGraph } from '../shared/composition/service-graph';
import { loadConfig } from '../shared/config/load-config';
import { startAzuriteProcess } from '../testing/azurite-process';
import { chromiumAvailable, CHROMIUM, launchChromium, loadPage } from '../testing/dashboard-browser';
import { buildDashboardFleet, seedDashboardStorage, type SeededSweeps } from '../testing/dashboard-fleet';
import type { ExternalService } from '../testing/external-service';
import { startHttpApiHost } from '../testing/http-api-host-process';
import { startFleetHub } from '../testing/sweep-fleet';
import type { SweepRun } from '../shared/ports/sweep-store';
import { type BenchResult, runIfMain } from './bench-result';

const DEVICES = Number(process.env['BENCH_DASHBOARD_DEVICES'] ?? 100_000);
const DEMO_DEVICES = 100;
const API_REQUESTS = Number(process.env['BENCH_DASHBOARD_REQUESTS'] ?? 30);
const BROWSER_LOADS = 5;
const PAGE_ROWS = 25;
const TARGET_MS = 1000;
/** Never dialled: the host here serves HTTP only, but the configuration requires the built-in endpoint's setting. */
const UNUSED_EVENTS_CONNECTION = 'Endpoint=sb://127.0.0.1/;SharedAccessKeyName=unused;SharedAccessKey=dW51c2Vk;EntityPath=unused';

const AZURITE_ALONE = 'Azurite alone';

interface Stack {
  devices: number;
  api: string;
  key: string;
  fleetSeconds: number;
  seeded: SeededSweeps;
  firstAnswerMs: number;
  /** The API paths measured, by name (page 2 only when page 1 has a continuation). */
  routes: Array<{ name: string; path: string }>;
  /** Table queries of findings pages, straight to Azurite (see storageProbes). */
  probes: Record<string, () => Promise<void>>;
  samples: Record<string, number[]>;
  stop(): Promise<void>;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const median = (values: readonly number[]): number => percentile(values, 50);
const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

async function timedGet(url: string, key: string): Promise<{ ms: number; body: Record<string, unknown> }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { 'x-functions-key': key } });
  const text = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`${url.replace(/\?.*/, '')} answered ${response.status}: ${text.slice(0, 300)}`);
  return { ms, body: JSON.parse(text) as Record<string, unknown> };
}

/**
 * The Table queries behind two findings pages, sent straight to Azurite (no host), to tell the stand-in's cost from
 * the host's: page 1 (one partition's first 25 rows) and a rule without findings (the store's walk over every shard
 * partition, one query after another). Azurite answers every query but a point read by testing each entity of the
 * table against the filter (LokiTableMetadataStore.queryTableEntities in node_modules/azurite:
 * `collection.chain().where(filter)`), so its cost follows the table's size; Azure serves a PartitionKey-equality
 * query as a partition scan (https://learn.microsoft.com/azure/storage/tables/table-storage-design-for-query).
 */
function storageProbes(connectionString: string, table: string, run: SweepRun): Record<string, () => Promise<void>> {
  const client = createTableClient({ connectionString }, table);
  const firstRows = async (filter: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: PAGE_ROWS }).next();
        return;
      } catch (error) {
        // Rounds at 100,000 devices outlast Azurite's keep-alive (5 s), so an idle socket may be closed as the next
        // query goes out; this bare client has no retry (in production the stores' retry owns that).
        if ((error as { code?: string }).code !== 'ECONNRESET' || attempt === 3) throw error;
      }
    }
  };
  const shards = run.plan?.shards ?? 0;
  return {
    [`${AZURITE_ALONE}: page 1 (one partition)`]: () => firstRows(odata`PartitionKey eq ${findingsPartition(run.sweepId, 0)}`),
    [`${AZURITE_ALONE}: rule without findings (every shard)`]: async () => {
      for (let shard = 0; shard < shards; shard++)
        await firstRows(odata`PartitionKey eq ${findingsPartition(run.sweepId, shard)} and RuleId eq 'module-auth-weak'`);
    },
  };
}

async function startStack(devices: number): Promise<Stack> {
  const started: ExternalService[] = [];
  const stopAll = async (): Promise<void> => {
    for (const service of started.reverse()) await service.stop();
  };
  try {
    const azurite = await startAzuriteProcess();
    started.push(azurite);
    const hub = await startFleetHub(Date.now());
    started.push(hub);
    const fleetStarted = performance.now();
    buildDashboardFleet(hub, devices);
    const fleetSeconds = (performance.now() - fleetStarted) / 1000;
    progress(`${label(devices)}: fleet built in ${fleetSeconds.toFixed(1)} s; sweeping into Azurite`);
    const key = randomBytes(18).toString('base64url');
    const env: Record<string, string> = {
      IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
      IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
      IOTHUB_EVENTS_CONNECTION: UNUSED_EVENTS_CONNECTION,
      AzureWebJobsStorage: azurite.connectionString,
      STANDALONE_FUNCTION_KEY: key,
    };
    const config = loadConfig(env);
    const graph = await buildServiceGraph(config);
    const seeded = await seedDashboardStorage(hub, graph, devices).finally(() => graph.close());
    progress(`${label(devices)}: sweeps took ${seeded.sweepSeconds.map((x) => x.toFixed(1)).join(', ')} s; starting the API host`);
    const host = await startHttpApiHost(env);
    started.push(host);

    const first = await timedGet(`${host.url}/api/overview?trend=30`, key);
    const overview = first.body as { devices: { known: number }; trend: unknown[] };
    if (overview.devices.known !== devices) throw new Error(`overview knows ${overview.devices.known} devices, the fleet has ${devices}`);
    if (overview.trend.length !== seeded.runs.length) throw new Error(`the trend has ${overview.trend.length} points`);
    const routes = [
      { name: 'GET /api/overview', path: 'overview?trend=30' },
      { name: 'GET findings page 1', path: `compliance/findings?limit=${PAGE_ROWS}` },
      { name: 'GET findings page 1, rule=agent-failed', path: `compliance/findings?limit=${PAGE_ROWS}&rule=agent-failed` },
      { name: 'GET findings page 1, rule without findings', path: `compliance/findings?limit=${PAGE_ROWS}&rule=module-auth-weak` },
    ];
    const page = (await timedGet(`${host.url}/api/${routes[1]!.path}`, key)).body as {
      findings: unknown[];
      continuationToken: string | null;
    };
    if (page.findings.length !== Math.min(PAGE_ROWS, seeded.lastSweepFindings)) throw new Error(`page 1 has ${page.findings.length} rows`);
    if (page.continuationToken)
      routes.push({
        name: 'GET findings page 2',
        path: `${routes[1]!.path}&continuationToken=${encodeURIComponent(page.continuationToken)}`,
      });
    return {
      devices,
      api: host.url,
      key,
      fleetSeconds,
      seeded,
      firstAnswerMs: first.ms,
      routes,
      probes: storageProbes(azurite.connectionString, config.compliance.findingsTable, seeded.runs.at(-1)!),
      samples: {},
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function progress(line: string): void {
  console.error(`dashboard-load: ${line}`);
}

function record(stack: Stack, name: string, ms: number): void {
  (stack.samples[name] ??= []).push(ms);
}

async function measureApiRound(stack: Stack): Promise<void> {
  for (const route of stack.routes) record(stack, route.name, (await timedGet(`${stack.api}/api/${route.path}`, stack.key)).ms);
  for (const [name, probe] of Object.entries(stack.probes)) {
    const started = performance.now();
    await probe();
    record(stack, name, performance.now() - started);
  }
}

async function measureBrowserRound(browser: Browser, stack: Stack): Promise<void> {
  const overview = await loadPage(browser, `${stack.api}/api/dashboard/#/overview`, {
    key: stack.key,
    selector: '[data-figure="known"]',
    readText: '[data-figure="known"] .figure-value',
    dataPath: '/api/overview',
  });
  if (overview.text !== String(stack.devices))
    throw new Error(`the Overview shows ${overview.text} devices known, the API ${stack.devices}`);
  record(stack, 'Chromium to Overview figures', overview.ms);
  record(stack, 'Chromium Overview: its API call sent at', overview.dataCall.startMs);
  record(stack, 'Chromium Overview: its API call took', overview.dataCall.durationMs);
  const findings = await loadPage(browser, `${stack.api}/api/dashboard/#/findings`, {
    key: stack.key,
    selector: 'tr.finding',
    readText: 'tr.finding td',
    dataPath: '/api/compliance/findings',
  });
  const expected = Math.min(PAGE_ROWS, stack.seeded.lastSweepFindings);
  if (findings.count !== expected) throw new Error(`the Findings page shows ${findings.count} rows, the API ${expected}`);
  record(stack, 'Chromium to findings rows', findings.ms);
  record(stack, 'Chromium Findings: its API call sent at', findings.dataCall.startMs);
  record(stack, 'Chromium Findings: its API call took', findings.dataCall.durationMs);
}

function label(devices: number): string {
  return `${devices.toLocaleString('en-US')} devices`;
}

function stackResults(stack: Stack, isDemo: boolean): BenchResult[] {
  const at = label(stack.devices);
  const { seeded } = stack;
  const results: BenchResult[] = [
    { name: `${at}: fleet built (emulated registry)`, value: round(stack.fleetSeconds), unit: 's' },
    ...seeded.sweepSeconds.map((seconds, i) => ({ name: `${at}: sweep ${i + 1} into Azurite, wall`, value: round(seconds), unit: 's' })),
    ...seeded.runs.map((run, i) => ({
      name: `${at}: compliant share, sweep ${i + 1}`,
      value: round((run.summary?.compliantShare ?? NaN) * 100),
      unit: '%',
    })),
    { name: `${at}: findings of the last sweep`, value: seeded.lastSweepFindings, unit: 'rows' },
    { name: `${at}: shards of the last sweep (findings partitions)`, value: seeded.runs.at(-1)?.plan?.shards ?? 0, unit: 'shards' },
    { name: `${at}: finding rows in the table (all sweeps)`, value: seeded.totalFindings, unit: 'rows' },
    { name: `${at}: first API answer after host start`, value: round(stack.firstAnswerMs), unit: 'ms' },
  ];
  for (const [name, samples] of Object.entries(stack.samples)) {
    const value = round(median(samples));
    if (name.startsWith('Chromium')) {
      const isLoad = name.startsWith('Chromium to');
      results.push({
        name: `${at}: ${name}, median of ${samples.length}`,
        value,
        unit: 'ms',
        ...(isDemo && isLoad ? { target: `< ${TARGET_MS} ms`, pass: value < TARGET_MS } : {}),
      });
      continue;
    }
    results.push({ name: `${at}: ${name}, median`, value, unit: 'ms' });
    results.push({ name: `${at}: ${name}, p95`, value: round(percentile(samples, 95)), unit: 'ms' });
  }
  return results;
}

function ratios(large: Stack, demo: Stack): BenchResult[] {
  const versus = `${large.devices.toLocaleString('en-US')} / ${demo.devices.toLocaleString('en-US')}`;
  const results: BenchResult[] = [
    { name: `finding rows in the table, ${versus}`, value: round(large.seeded.totalFindings / demo.seeded.totalFindings), unit: '×' },
  ];
  for (const [name, samples] of Object.entries(large.samples)) {
    const base = demo.samples[name];
    if (base) results.push({ name: `${name}, median ${versus}`, value: round(median(samples) / median(base), 2), unit: '×' });
  }
  return results;
}

export async function run(): Promise<BenchResult[]> {
  if (!Number.isInteger(DEVICES) || DEVICES < 1) throw new Error('BENCH_DASHBOARD_DEVICES must be a positive whole number');
  if (!Number.isInteger(API_REQUESTS) || API_REQUESTS < 1) throw new Error('BENCH_DASHBOARD_REQUESTS must be a positive whole number');
  const stacks: Stack[] = [];
  let browser: Browser | undefined;
  try {
    stacks.push(await startStack(DEMO_DEVICES));
    if (DEVICES !== DEMO_DEVICES) stacks.push(await startStack(DEVICES));
    progress(`measuring the API (${API_REQUESTS} rounds)`);
    for (let i = 0; i < API_REQUESTS; i++) for (const stack of stacks) await measureApiRound(stack);
    if (chromiumAvailable()) {
      progress(`measuring in Chromium (${BROWSER_LOADS} rounds)`);
      browser = await launchChromium();
      for (let i = 0; i < BROWSER_LOADS; i++) for (const stack of stacks) await measureBrowserRound(browser, stack);
    } else console.log(`dashboard-load: ${CHROMIUM} is missing (apt-get install chromium); browser figures skipped`);
    const [demo, large] = stacks;
    return [...stackResults(demo!, true), ...(large ? [...stackResults(large, false), ...ratios(large, demo!)] : [])];
  } finally {
    await browser?.close();
    for (const stack of stacks) await stack.stop();
  }
}

runIfMain(module, run);
