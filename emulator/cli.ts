/**
 * `npm run emulator -- --devices 1000 --partitions 4 --data state.json --port 0 --amqp-port 0 --tier S1
 *  --units 1 --seed-file fleet.json [--hub name] [--host 127.0.0.1] [--agent-mode healthy] [--agent-delay-ms 0]`
 * Prints the connection strings and registry URL, runs until SIGINT/SIGTERM, saves state if --data.
 */
import { existsSync } from 'node:fs';
import type { AgentMode } from './device-side';
import type { HubTier } from './faults';
import { IotHubEmulator, type EmulatorOptions } from './index';

const FLAGS = ['devices', 'partitions', 'data', 'port', 'amqp-port', 'tier', 'units', 'seed-file', 'hub', 'host', 'agent-mode', 'agent-delay-ms'] as const;
type Flag = (typeof FLAGS)[number];

function parseArgs(argv: string[]): Partial<Record<Flag, string>> {
  const out: Partial<Record<Flag, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [name, inline] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (!name || !(FLAGS as readonly string[]).includes(name)) throw new Error(`unknown argument ${arg}; flags: ${FLAGS.map((f) => `--${f}`).join(' ')}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    out[name as Flag] = value;
  }
  return out;
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${flag} must be a non-negative integer`);
  return parsed;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tier = args.tier as HubTier | undefined;
  if (tier !== undefined && tier !== 'S1' && tier !== 'S2' && tier !== 'S3') throw new Error('--tier must be S1, S2 or S3');
  const mode = args['agent-mode'] as AgentMode | undefined;
  if (mode !== undefined && mode !== 'healthy' && mode !== 'rejectConfiguration' && mode !== 'silent') throw new Error('--agent-mode must be healthy, rejectConfiguration or silent');
  const dataFile = args.data;
  const resuming = dataFile !== undefined && existsSync(dataFile);
  const options: EmulatorOptions = {
    hubName: args.hub,
    host: args.host,
    httpPort: integer(args.port, 'port'),
    amqpPort: integer(args['amqp-port'], 'amqp-port'),
    partitionCount: integer(args.partitions, 'partitions'),
    dataFile,
    // A resumed state file already holds the fleet; seeding again would collide on device IDs.
    seed: resuming ? undefined : { devices: integer(args.devices, 'devices'), file: args['seed-file'] },
    agent: { defaultMode: mode, reportDelayMs: integer(args['agent-delay-ms'], 'agent-delay-ms') },
    throttle: tier ? { tier, units: integer(args.units, 'units') ?? 1 } : undefined,
  };
  const started = Date.now();
  const emulator = await IotHubEmulator.start(options);
  console.log(`IoT Hub emulator '${emulator.hubName}' ready in ${Date.now() - started} ms (${emulator.registry.deviceCount} devices, ${emulator.registry.moduleCount} modules)`);
  console.log(`IOTHUB_CONNECTION_STRING=${emulator.serviceConnectionString}`);
  console.log(`IOTHUB_SERVICE_ENDPOINT=${emulator.registryUrl}`);
  console.log(`EVENTHUB_CONNECTION_STRING=${emulator.eventHubConnectionString}`);
  console.log(`EVENTHUB_NAME=${emulator.eventHubName}`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping${dataFile ? `, saving state to ${dataFile}` : ''}`);
    (async () => {
      if (dataFile) await emulator.save();
      await emulator.stop();
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
});
