/**
 * Cold start cost that is ours: loading the function app's modules the way the Functions worker does
 * (each compiled file in dist/functions, fresh process), measured inside the child so Node's own
 * start-up is excluded. Median of several runs, with telemetry off (no APPLICATIONINSIGHTS_CONNECTION_STRING: nothing
 * of OpenTelemetry may load) and on (the same imports, then what the first invocation adds when the setting is
 * present: loading and starting the Azure Monitor distro).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type BenchResult, runIfMain } from './bench-result';

const FUNCTIONS_DIR = path.join(__dirname, '..', 'functions');
const TELEMETRY_ADAPTER = path.join(__dirname, '..', 'shared', 'adapters', 'azure-monitor-telemetry.js');
const RUNS = 7;
// A syntactically valid connection string whose ingestion endpoint is closed: starting the distro sends nothing.
const UNREACHABLE_CONNECTION_STRING = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';

function measureOnce(files: string[], telemetry: boolean): number {
  const startTelemetry = telemetry
    ? `await require(${JSON.stringify(TELEMETRY_ADAPTER)}).startAzureMonitorTelemetry({
         connectionString: ${JSON.stringify(UNREACHABLE_CONNECTION_STRING)}, disableOfflineStorage: true });`
    : '';
  const script = `
    (async () => {
      const start = process.hrtime.bigint();
      for (const file of ${JSON.stringify(files)}) require(file);
      ${startTelemetry}
      process.stdout.write('\\nimport-ms=' + String(Number(process.hrtime.bigint() - start) / 1e6));
      process.exit(0);
    })();
  `;
  // @azure/functions prints its own notices ("HTTP streaming enabled.") on stdout; only the marked figure is read.
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const figure = /import-ms=([\d.]+)/.exec(out);
  if (!figure) throw new Error(`import-time child printed no figure: ${out.slice(0, 200)}`);
  return Number(figure[1]);
}

function medianOf(files: string[], telemetry: boolean): { median: number; samples: number[] } {
  const samples = Array.from({ length: RUNS }, () => measureOnce(files, telemetry)).sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)]!, samples };
}

function measure(): BenchResult[] {
  const files = readdirSync(FUNCTIONS_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(FUNCTIONS_DIR, f));
  const off = medianOf(files, false);
  const on = medianOf(files, true);
  return [
    {
      name: `telemetry off: import every function module (${files.length} files), median of ${RUNS}`,
      value: Number(off.median.toFixed(1)),
      unit: 'ms',
      target: '≤ 100 ms',
      pass: off.median <= 100,
    },
    {
      name: 'telemetry off: fastest / slowest run',
      value: Number(off.samples[0]!.toFixed(1)),
      unit: `ms / ${off.samples[RUNS - 1]!.toFixed(1)} ms`,
    },
    {
      name: `telemetry on: the same, then load and start the Azure Monitor distro, median of ${RUNS}`,
      value: Number(on.median.toFixed(1)),
      unit: 'ms',
    },
    { name: 'telemetry on / off', value: Number((on.median / off.median).toFixed(2)), unit: '×' },
  ];
}

export function run(): Promise<BenchResult[]> {
  return Promise.resolve().then(measure);
}

runIfMain(module, run);
