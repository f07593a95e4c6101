/**
 * The standalone host as an operator runs it: `host/cli.ts --standalone` (sources, through a require hook) or
 * `dist/host/cli.js --standalone` (the build) in its own process, configured by environment variables only. Its
 * console log is kept line by line, so a test or benchmark can see what the host did, which host it was (its
 * `host` id, also its name in the partition ownership records) and whether it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './external-service';

/** How to launch the CLI: the built file, or the source with a `-r` TypeScript require hook. */
export type HostEntry = { kind: 'build' } | { kind: 'source'; requireHook: string };

export interface HostProcess {
  readonly label: string;
  readonly child: ChildProcess;
  /** Every stdout/stderr line so far. */
  readonly lines: string[];
  /** Resolves with the API URL once the host logs that it runs; rejects with its output if it exits first. */
  readonly ready: Promise<string | undefined>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The `host` id the process logged at start (its owner id in the checkpoint store). */
  hostId(): string | undefined;
  /** Lines containing `text`. */
  linesWith(text: string): string[];
}

export function startHostProcess(env: Record<string, string>, label: string, entry: HostEntry = { kind: 'build' }): HostProcess {
  const args =
    entry.kind === 'build'
      ? [path.join(REPO_ROOT, 'dist', 'host', 'cli.js'), '--standalone']
      : ['-r', entry.requireHook, path.join(REPO_ROOT, 'host', 'cli.ts'), '--standalone'];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const pending = { stdout: '', stderr: '' };
  const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const parts = (pending[stream] + chunk.toString('utf8')).split('\n');
    pending[stream] = parts.pop() ?? '';
    lines.push(...parts);
  };
  child.stdout?.on('data', collect('stdout'));
  child.stderr?.on('data', collect('stderr'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const rest of [pending.stdout, pending.stderr]) if (rest) lines.push(rest);
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<string | undefined>((resolve, reject) => {
    const check = (): void => {
      const line = lines.find((l) => l.includes('TwinGuard standalone host running'));
      if (line) {
        clearInterval(timer);
        resolve(/api=(\S+)/.exec(line)?.[1]);
      }
    };
    const timer = setInterval(check, 25);
    void exited.then(({ code, signal }) => {
      clearInterval(timer);
      check();
      reject(new Error(`host ${label} exited (${code ?? signal}) before it was ready:\n${lines.slice(-40).join('\n')}`));
    });
  });
  // A caller that only awaits `exited` (a host expected to fail) must not see an unhandled rejection.
  ready.catch(() => undefined);
  return {
    label,
    child,
    lines,
    ready,
    exited,
    hostId: () => {
      for (const line of lines) {
        const match = /standalone host starting .*\bhost=(\S+)/.exec(line);
        if (match) return match[1];
      }
      return undefined;
    },
    linesWith: (text) => lines.filter((line) => line.includes(text)),
  };
}

/** SIGKILLs whatever is still running (cleanup after a test or benchmark). */
export async function killAll(hosts: readonly HostProcess[]): Promise<void> {
  for (const host of hosts) if (host.child.exitCode === null && host.child.signalCode === null) host.child.kill('SIGKILL');
  await Promise.all(hosts.map((host) => host.exited));
}
