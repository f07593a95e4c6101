/**
 * The emulator CLI's consumer groups: by default `$Default` and `twinguard` (the group the host reads unless
 * IOTHUB_EVENTS_CONSUMER_GROUP says otherwise), or exactly the `--consumer-group` flags given (plus `$Default`).
 * A group the endpoint lacks answers as Event Hubs does: MessagingEntityNotFoundError.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { EventHubConsumerClient, latestEventPosition } from '@azure/event-hubs';
import { CliUsageError, consumerGroupsFromArgs, planFromArgs } from '../../emulator/cli-options';

const REPO = path.join(__dirname, '..', '..');

describe('consumerGroupsFromArgs', () => {
  it.each([
    [[], ['$Default', 'twinguard']],
    [
      ['--devices', '5'],
      ['$Default', 'twinguard'],
    ],
    [
      ['--consumer-group', 'analytics'],
      ['analytics', '$Default'],
    ],
    [
      ['--consumer-group=twinguard', '--consumer-group', 'ops.v2_x-1'],
      ['twinguard', 'ops.v2_x-1', '$Default'],
    ],
    [
      ['--consumer-group', 'A', '--consumer-group', 'a', '--consumer-group', '$Default'],
      ['A', '$Default'],
    ],
  ])('%j → %j', (argv, groups) => {
    expect(consumerGroupsFromArgs(argv)).toEqual(groups);
  });

  it.each([
    [['--consumer-group', 'has space'], "--consumer-group must be 1–50 letters, digits, '-', '.' or '_' (or $Default), got 'has space'"],
    [['--consumer-group', 'x'.repeat(51)], '--consumer-group must be 1–50'],
    [['--consumer-group', '$Other'], "got '$Other'"],
    [Array.from({ length: 20 }, (_, i) => [`--consumer-group`, `g${i}`]).flat(), 'at most 20 consumer groups (with $Default), got 21'],
    [['--consumer-group'], '--consumer-group needs a value'],
  ])('refuses %j', (argv, message) => {
    expect(() => consumerGroupsFromArgs(argv)).toThrow(CliUsageError);
    expect(() => consumerGroupsFromArgs(argv)).toThrow(message);
  });

  it('is part of the run plan', () => {
    const plan = planFromArgs(['--consumer-group', 'analytics'], () => false);
    expect(plan.kind === 'run' && plan.consumerGroups).toEqual(['analytics', '$Default']);
  });
});

/** Resolves 'ok' once a receiver on the group is attached and waited (an empty batch), or the error's code. */
async function probe(connectionString: string, consumerGroup: string): Promise<string> {
  const client = new EventHubConsumerClient(consumerGroup, connectionString, { retryOptions: { maxRetries: 0 } });
  try {
    return await new Promise<string>((resolve) => {
      const subscription = client.subscribe(
        '0',
        {
          processEvents: async () => {
            await subscription.close();
            resolve('ok');
          },
          processError: async (err) => {
            await subscription.close();
            const code = (err as { code?: unknown }).code;
            resolve(typeof code === 'string' ? code : err.message);
          },
        },
        { startPosition: latestEventPosition, maxWaitTimeInSeconds: 0.2 },
      );
    });
  } finally {
    await client.close();
  }
}

function startCli(args: string[]): { child: ChildProcess; values: Promise<Map<string, string>> } {
  const child = spawn(
    process.execPath,
    ['-r', path.join(REPO, 'test', 'support', 'ts-register.js'), path.join(REPO, 'emulator', 'cli.ts'), ...args],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const values = new Promise<Map<string, string>>((resolve, reject) => {
    const found = new Map<string, string>();
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (match) found.set(match[1]!, match[2]!);
      }
      if (found.has('EVENTHUB_CONSUMER_GROUPS')) resolve(found);
    });
    child.once('exit', (code) => reject(new Error(`emulator CLI exited with ${code}`)));
  });
  return { child, values };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describe('npm run emulator: consumer groups of the built-in endpoint', () => {
  it('creates $Default and twinguard without flags, so a host with default settings can read', async () => {
    const { child, values } = startCli(['--partitions', '2']);
    try {
      const printed = await values;
      expect(printed.get('EVENTHUB_CONSUMER_GROUPS')).toBe('$Default,twinguard');
      const connection = printed.get('EVENTHUB_CONNECTION_STRING')!;
      expect(await probe(connection, 'twinguard')).toBe('ok');
      expect(await probe(connection, '$Default')).toBe('ok');
      expect(await probe(connection, 'not-created')).toBe('MessagingEntityNotFoundError');
    } finally {
      await stop(child);
    }
  }, 30_000);

  it('creates exactly the groups named by --consumer-group (and $Default)', async () => {
    const { child, values } = startCli(['--consumer-group', 'analytics', '--consumer-group', 'posture']);
    try {
      const printed = await values;
      expect(printed.get('EVENTHUB_CONSUMER_GROUPS')).toBe('analytics,posture,$Default');
      const connection = printed.get('EVENTHUB_CONNECTION_STRING')!;
      expect(await probe(connection, 'analytics')).toBe('ok');
      expect(await probe(connection, 'posture')).toBe('ok');
      expect(await probe(connection, 'twinguard')).toBe('MessagingEntityNotFoundError');
    } finally {
      await stop(child);
    }
  }, 30_000);
});
