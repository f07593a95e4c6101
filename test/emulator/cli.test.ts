/**
 * The emulator CLI's argument handling (emulator/cli-options.ts): what each flag turns into, and the
 * command lines it refuses. The CLI itself (emulator/cli.ts) only runs the plan.
 */
import { CLI_FLAGS, CLI_USAGE, CliUsageError, parseCliArgs, planFromArgs, type CliPlan } from '../../emulator/cli-options';

const noFiles = (): boolean => false;

function run(argv: string[], exists: (path: string) => boolean = noFiles): Extract<CliPlan, { kind: 'run' }> {
  const plan = planFromArgs(argv, exists);
  if (plan.kind !== 'run') throw new Error('expected a run plan');
  return plan;
}

function refused(argv: string[]): string {
  try {
    planFromArgs(argv, noFiles);
  } catch (error) {
    if (error instanceof CliUsageError) return error.message;
    throw error;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

test('the documented command line becomes the emulator options', () => {
  const plan = run([
    '--devices',
    '1000',
    '--partitions',
    '4',
    '--port',
    '0',
    '--amqp-port=5671',
    '--tier',
    'S1',
    '--units',
    '2',
    '--seed-file',
    'fleet.json',
    '--hub',
    'h1',
    '--host',
    '0.0.0.0',
    '--agent-mode',
    'silent',
    '--agent-delay-ms',
    '250',
  ]);
  expect(plan.resuming).toBe(false);
  expect(plan.notes).toEqual([]);
  expect(plan.options).toEqual({
    hubName: 'h1',
    host: '0.0.0.0',
    httpPort: 0,
    amqpPort: 5671,
    partitionCount: 4,
    dataFile: undefined,
    seed: { devices: 1000, file: 'fleet.json' },
    agent: { defaultMode: 'silent', reportDelayMs: 250 },
    throttle: { tier: 'S1', units: 2 },
  });
});

test('no flags: no seeding, no throttling, defaults left to the emulator', () => {
  const plan = run([]);
  expect(plan.options.seed).toBeUndefined();
  expect(plan.options.throttle).toBeUndefined();
  expect(plan.options.partitionCount).toBeUndefined();
});

test('--agent-mode disconnected starts agents that stay offline', () => {
  expect(run(['--agent-mode', 'disconnected']).options.agent).toMatchObject({ defaultMode: 'disconnected' });
});

test('--tier alone throttles one unit', () => {
  expect(run(['--tier', 'S3']).options.throttle).toEqual({ tier: 'S3', units: 1 });
});

test('--data with an existing file resumes instead of seeding and says which flags it ignores', () => {
  const plan = run(['--data', 'state.json', '--devices', '10', '--seed-file', 'f.json', '--hub', 'other'], (path) => path === 'state.json');
  expect(plan.resuming).toBe(true);
  expect(plan.dataFile).toBe('state.json');
  expect(plan.options.dataFile).toBe('state.json');
  expect(plan.options.seed).toBeUndefined();
  expect(plan.notes).toEqual([
    '--devices and --seed-file ignored: resuming from state.json',
    '--hub ignored: resuming from state.json keeps its saved hub name and keys',
  ]);
});

test('--data with a new file seeds and is saved on exit', () => {
  const plan = run(['--data', 'state.json', '--devices', '10']);
  expect(plan.resuming).toBe(false);
  expect(plan.options.seed).toEqual({ devices: 10, file: undefined });
  expect(plan.dataFile).toBe('state.json');
});

test('every flag the parser knows is explained by --help', () => {
  expect(planFromArgs(['--devices', '5', '--help'], noFiles)).toEqual({ kind: 'help' });
  for (const flag of CLI_FLAGS) expect(CLI_USAGE).toContain(`--${flag} `);
});

test('inline values may contain "="; a repeated flag keeps the last value', () => {
  expect(parseCliArgs(['--hub=a=b', '--devices', '1', '--devices=2'])).toEqual({ hub: 'a=b', devices: '2' });
});

test.each([
  [['--bogus', '1'], 'unknown argument --bogus'],
  [['devices', '1'], 'unknown argument devices'],
  [['--devices'], '--devices needs a value'],
  [['--devices', '--partitions', '4'], '--devices needs a value'],
  [['--devices', 'abc'], "--devices must be an integer ≥ 0, got 'abc'"],
  [['--devices', '-1'], "--devices must be an integer ≥ 0, got '-1'"],
  [['--devices', ''], "--devices must be an integer ≥ 0, got ''"],
  [['--port', '99999'], "--port must be an integer from 0 to 65535, got '99999'"],
  [['--partitions', '0'], "--partitions must be an integer from 1 to 128, got '0'"],
  [['--tier', 'S9'], "--tier must be S1, S2 or S3, got 'S9'"],
  [['--units', '2'], '--units needs --tier'],
  [['--tier', 'S1', '--units', '0'], "--units must be an integer ≥ 1, got '0'"],
  [['--agent-mode', 'bad'], "--agent-mode must be healthy, rejectConfiguration, silent or disconnected, got 'bad'"],
  [['--data', ''], '--data needs a file path'],
])('refuses %j', (argv, message) => {
  expect(refused(argv)).toContain(message);
});
