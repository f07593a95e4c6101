/**
 * Cold start cost that is ours: loading the function app's modules the way the Functions worker does
 * (each compiled file in dist/functions, fresh process), measured inside the child so Node's own
 * start-up is excluded. Median of several runs.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type BenchResult, runIfMain } from './bench-result';

const FUNCTIONS_DIR = path.join(__dirname, '..', 'functions');
const RUNS = 7;

function measureOnce(files: string[]): number {
  const script = `
    const start = process.hrtime.bigint();
    for (const file of ${JSON.stringify(files)}) require(file);
    process.stdout.write(String(Number(process.hrtime.bigint() - start) / 1e6));
  `;
  // The worker's "test mode" warnings go to stderr; only the figure is read.
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return Number(out);
}

function measure(): BenchResult[] {
  const files = readdirSync(FUNCTIONS_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(FUNCTIONS_DIR, f));
  const samples = Array.from({ length: RUNS }, () => measureOnce(files)).sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  return [
    {
      name: `import every function module (${files.length} files), median of ${RUNS}`,
      value: Number(median.toFixed(1)),
      unit: 'ms',
      target: '≤ 100 ms',
      pass: median <= 100,
    },
    { name: 'fastest / slowest run', value: Number(samples[0]!.toFixed(1)), unit: `ms / ${samples[samples.length - 1]!.toFixed(1)} ms` },
  ];
}

export function run(): Promise<BenchResult[]> {
  return Promise.resolve().then(measure);
}

runIfMain(module, run);
