/** One measured figure. `target` is the figure the issue asks for; `pass` says whether it was met. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target?: string;
  pass?: boolean;
}

export function formatResults(title: string, results: BenchResult[]): string {
  const rows = results.map((r) => {
    const value = Number.isInteger(r.value)
      ? r.value.toLocaleString('en-US')
      : r.value.toLocaleString('en-US', { maximumFractionDigits: 3 });
    const verdict = r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS';
    return `  ${r.name.padEnd(58)} ${`${value} ${r.unit}`.padStart(22)}  ${(r.target ?? '').padEnd(16)} ${verdict}`;
  });
  return [`== ${title}`, ...rows].join('\n');
}

/** Lets a benchmark file run on its own (`node dist/bench/x.bench.js`) as well as from run-all. */
export function runIfMain(mainModule: NodeModule, run: () => Promise<BenchResult[]>): void {
  if (require.main !== mainModule) return;
  run().then(
    (results) => console.log(formatResults(mainModule.filename, results)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
