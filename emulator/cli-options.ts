/**
 * Command-line parsing for the emulator CLI (emulator/cli.ts), kept pure so it can be unit-tested:
 * argv in, EmulatorOptions (or help, or a usage error) out. The only outside fact it needs, whether the
 * `--data` file already exists, is passed in.
 */
import type { AgentMode } from './device-side';
import type { HubTier } from './faults';
import type { EmulatorOptions } from './index';

export const CLI_FLAGS = [
  'devices',
  'partitions',
  'data',
  'port',
  'amqp-port',
  'mqtt-port',
  'tier',
  'units',
  'seed-file',
  'hub',
  'host',
  'agent-mode',
  'agent-delay-ms',
  'consumer-group',
  'tls',
] as const;
export type CliFlag = (typeof CLI_FLAGS)[number];

export const CLI_USAGE = `Usage: npm run emulator -- [flags]   (or: node dist/emulator/cli.js [flags])

  --devices N            seed N simulated devices (deterministic mix, about 30 % with a security module)
  --seed-file PATH       seed the devices listed in a JSON file ({ "devices": [ … ] }); combines with --devices
  --data PATH            load state from PATH when it exists (instead of seeding), save it there on exit
  --hub NAME             hub name (default twinguard-emulator; a resumed --data file keeps its saved name)
  --host ADDRESS         interface for both endpoints (default 127.0.0.1)
  --port N               registry REST port (default 0: any free port)
  --amqp-port N          Event Hub-compatible AMQP port (default 0: any free port)
  --mqtt-port N          device-side MQTT port, plain TCP (default 0: any free port)
  --partitions N         partitions of the built-in endpoint (default 4)
  --tier S1|S2|S3        throttle like an IoT Hub of that tier (default: no throttling)
  --units N              units of that tier (default 1; needs --tier)
  --agent-mode MODE      simulated security agents: healthy (default), rejectConfiguration, silent or disconnected
  --agent-delay-ms N     delay before a simulated agent reports (default 0)
  --consumer-group NAME  a consumer group of the built-in endpoint; repeatable (default: $Default and twinguard,
                         the group TwinGuard reads; $Default always exists)
  --tls on|off           also serve HTTPS, MQTT over TLS and AMQP over TLS with a certificate made at start
                         (needs openssl), so unchanged SDK scripts reach the emulator through
                         node -r dist/emulator/connect.js (default on)
  --help                 this text

Flags take their value as the next argument or inline (--devices=1000). Runs until SIGINT/SIGTERM.`;

/**
 * Consumer groups the CLI creates without --consumer-group: `$Default` and the one TwinGuard reads by default
 * (IOTHUB_EVENTS_CONSUMER_GROUP), so `npm run emulator` and a host with default settings work together.
 */
export const DEFAULT_CLI_CONSUMER_GROUPS: readonly string[] = ['$Default', 'twinguard'];

/**
 * IoT Hub's rule for an endpoint's consumer group names: 1–50 letters, digits, hyphens, periods and underscores
 * (Microsoft.Devices IotHubs/eventHubEndpoints/ConsumerGroups, "Character limit: 1-50"); `$Default` is built in.
 */
const CONSUMER_GROUP_NAME = /^(?:\$Default|[A-Za-z0-9._-]{1,50})$/;
/** A Standard-tier Event Hub (and an IoT Hub's built-in endpoint) holds at most 20 consumer groups. */
const MAX_CONSUMER_GROUPS = 20;

/** A command line the CLI cannot run with; the message says why. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

export type CliPlan =
  | { kind: 'help' }
  | {
      kind: 'run';
      options: EmulatorOptions;
      /** The --data file, saved on exit. */
      dataFile?: string;
      /** True when --data names an existing file: the fleet comes from it and no seeding happens. */
      resuming: boolean;
      /** Flags that were given but have no effect, for the CLI to print. */
      notes: string[];
      /** Consumer groups of the built-in endpoint (for `options.consumerGroups`): --consumer-group, or the defaults. */
      consumerGroups: string[];
      /** `options.tls`: --tls, on unless `off`. */
      tls: boolean;
    };

/** `--flag value` or `--flag=value` pairs, in order. */
function flagValues(argv: readonly string[]): [CliFlag, string][] {
  const out: [CliFlag, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [name, inline] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (!name || !(CLI_FLAGS as readonly string[]).includes(name))
      throw new CliUsageError(`unknown argument ${arg}; flags: ${CLI_FLAGS.map((f) => `--${f}`).join(' ')} (--help explains them)`);
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new CliUsageError(`--${name} needs a value`);
    out.push([name as CliFlag, value]);
  }
  return out;
}

/** Splits argv into flag values (`--flag value` or `--flag=value`; a repeated flag keeps the last value). */
export function parseCliArgs(argv: readonly string[]): Partial<Record<CliFlag, string>> {
  const out: Partial<Record<CliFlag, string>> = {};
  for (const [name, value] of flagValues(argv)) out[name] = value;
  return out;
}

/**
 * The consumer groups to create: every `--consumer-group` given (in order, duplicates and case variants folded, as
 * Event Hubs treats names case-insensitively), or {@link DEFAULT_CLI_CONSUMER_GROUPS} when none is.
 */
export function consumerGroupsFromArgs(argv: readonly string[]): string[] {
  const given = flagValues(argv)
    .filter(([name]) => name === 'consumer-group')
    .map(([, value]) => value);
  if (given.length === 0) return [...DEFAULT_CLI_CONSUMER_GROUPS];
  const groups = new Map<string, string>();
  for (const name of given) {
    if (!CONSUMER_GROUP_NAME.test(name))
      throw new CliUsageError(`--consumer-group must be 1–50 letters, digits, '-', '.' or '_' (or $Default), got '${name}'`);
    if (!groups.has(name.toLowerCase())) groups.set(name.toLowerCase(), name);
  }
  if (!groups.has('$default')) groups.set('$default', '$Default');
  if (groups.size > MAX_CONSUMER_GROUPS)
    throw new CliUsageError(`at most ${MAX_CONSUMER_GROUPS} consumer groups (with $Default), got ${groups.size}`);
  return [...groups.values()];
}

function integer(value: string | undefined, flag: CliFlag, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const parsed = value.trim() === '' ? NaN : Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new CliUsageError(
      `--${flag} must be an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` from ${min} to ${max}`}, got '${value}'`,
    );
  }
  return parsed;
}

function isTier(value: string): value is HubTier {
  return value === 'S1' || value === 'S2' || value === 'S3';
}

function isAgentMode(value: string): value is AgentMode {
  return value === 'healthy' || value === 'rejectConfiguration' || value === 'silent' || value === 'disconnected';
}

/**
 * Turns the command line into what the CLI runs. @param dataFileExists tells whether a path exists (fs.existsSync).
 * @throws CliUsageError for unknown flags, missing or malformed values, and flags that need another one.
 */
export function planFromArgs(argv: readonly string[], dataFileExists: (path: string) => boolean): CliPlan {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help' };
  const args = parseCliArgs(argv);
  const tier = args.tier;
  if (tier !== undefined && !isTier(tier)) throw new CliUsageError(`--tier must be S1, S2 or S3, got '${tier}'`);
  if (args.units !== undefined && tier === undefined) throw new CliUsageError('--units needs --tier');
  const mode = args['agent-mode'];
  if (mode !== undefined && !isAgentMode(mode))
    throw new CliUsageError(`--agent-mode must be healthy, rejectConfiguration, silent or disconnected, got '${mode}'`);
  if (args.data !== undefined && args.data.trim() === '') throw new CliUsageError('--data needs a file path');
  if (args.tls !== undefined && args.tls !== 'on' && args.tls !== 'off')
    throw new CliUsageError(`--tls must be on or off, got '${args.tls}'`);
  const dataFile = args.data;
  const resuming = dataFile !== undefined && dataFileExists(dataFile);
  const devices = integer(args.devices, 'devices', 0);
  const seedFile = args['seed-file'];
  const notes: string[] = [];
  if (resuming) {
    // A resumed state file already holds the fleet; seeding again would collide on device IDs.
    const ignored = [devices !== undefined ? '--devices' : undefined, seedFile !== undefined ? '--seed-file' : undefined].filter(
      (flag) => flag !== undefined,
    );
    if (ignored.length > 0) notes.push(`${ignored.join(' and ')} ignored: resuming from ${dataFile}`);
    if (args.hub !== undefined) notes.push(`--hub ignored: resuming from ${dataFile} keeps its saved hub name and keys`);
  }
  const options: EmulatorOptions = {
    hubName: args.hub,
    host: args.host,
    httpPort: integer(args.port, 'port', 0, 65535),
    amqpPort: integer(args['amqp-port'], 'amqp-port', 0, 65535),
    mqttPort: integer(args['mqtt-port'], 'mqtt-port', 0, 65535),
    partitionCount: integer(args.partitions, 'partitions', 1, 128),
    dataFile,
    seed: resuming || (devices === undefined && seedFile === undefined) ? undefined : { devices, file: seedFile },
    agent: { defaultMode: mode, reportDelayMs: integer(args['agent-delay-ms'], 'agent-delay-ms', 0) },
    throttle: tier === undefined ? undefined : { tier, units: integer(args.units, 'units', 1) ?? 1 },
  };
  return { kind: 'run', options, dataFile, resuming, notes, consumerGroups: consumerGroupsFromArgs(argv), tls: args.tls !== 'off' };
}
