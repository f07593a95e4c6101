/**
 * The emulator CLI and the preload together: `--tls` (on by default) and the lines the CLI prints, which an unchanged
 * SDK script uses as they are (cloud-shaped connection strings, IOTHUB_EMULATOR_CONNECT and the preload's path).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { CliUsageError, planFromArgs } from '../../emulator/cli-options';
import { REPO_ROOT, stopChild } from '../../testing/external-service';
import { PRELOAD, runPreloaded } from '../fixtures/connect/run-preloaded';

const noFiles = (): boolean => false;

function tlsOf(argv: string[]): boolean {
  const plan = planFromArgs(argv, noFiles);
  if (plan.kind !== 'run') throw new Error('expected a run plan');
  return plan.tls;
}

test('--tls is on unless turned off, and takes only on or off', () => {
  expect(tlsOf([])).toBe(true);
  expect(tlsOf(['--tls', 'on'])).toBe(true);
  expect(tlsOf(['--tls=off'])).toBe(false);
  expect(() => planFromArgs(['--tls', 'yes'], noFiles)).toThrow(new CliUsageError("--tls must be on or off, got 'yes'"));
});

describe('the printed lines', () => {
  let child: ChildProcess;
  const printed = new Map<string, string>();
  let hint = '';

  beforeAll(async () => {
    child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'emulator', 'cli.js'), '--hub', 'cli-tls-hub'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        for (const line of buffered.split('\n')) {
          const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
          if (match) printed.set(match[1] ?? '', match[2] ?? '');
          if (line.startsWith('Unchanged SDK scripts:')) hint = line;
        }
        if (hint !== '') resolve();
      });
      child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
    });
  });

  afterAll(async () => {
    await stopChild(child);
  });

  test('name the preload and its setting', () => {
    expect(hint).toBe(
      `Unchanged SDK scripts: with IOTHUB_EMULATOR_CONNECT set as above, run node -r ${PRELOAD} my-script.js (or set NODE_OPTIONS="--require ${PRELOAD}")`,
    );
    expect(printed.get('IOTHUB_EMULATOR_CONNECT')).toMatch(/^IotHub=cli-tls-hub\.azure-devices\.net;EventHub=iothub-ns-cli-tls-hu/);
    expect(printed.get('EVENTHUB_PORTAL_CONNECTION_STRING')).toMatch(
      /^Endpoint=sb:\/\/iothub-ns-cli-tls-hu[^/]*\.servicebus\.windows\.net\//,
    );
  });

  test('are enough for an unchanged script', async () => {
    const run = await runPreloaded('registry-create-get.js', ['cli-d1'], {
      IOTHUB_CONNECTION_STRING: printed.get('IOTHUB_CONNECTION_STRING'),
      IOTHUB_EMULATOR_CONNECT: printed.get('IOTHUB_EMULATOR_CONNECT'),
    });
    expect(run).toMatchObject({ exitCode: 0, result: { deviceId: 'cli-d1', status: 'enabled' } });
  });
});
