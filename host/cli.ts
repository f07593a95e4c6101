/**
 * `npm start`: with no IoT Hub settings in the environment, runs the embedded default (Azurite, the
 * IoT Hub emulator with a demo fleet, TwinGuard in standalone mode); with them, runs the standalone
 * host against the real hub and storage account those settings name.
 *
 *   npm start [-- --data <dir>] [--devices <n>] [--demo-devices <n>] [--port <n>] [--standalone]
 *
 * `npm run start:host` (`node dist/host/cli.js --standalone`, no build step) is the production entry point, the
 * container's command: the standalone path loads only production dependencies. The embedded mode is loaded on
 * demand and needs a development install (Azurite is a devDependency).
 */
import { setLogLevel } from '../shared/log-level';
import { loadConfig } from '../shared/config/load-config';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { consoleLogger, readLogFormat, type LogFormat } from './console-logger';
import { readStandaloneSettings, StandaloneHost } from './standalone-host';

interface Args {
  data?: string;
  devices: number;
  demoDevices: number;
  port: number;
  standalone: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { devices: 20, demoDevices: 6, port: 7071, standalone: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const count = (): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative whole number`);
      return n;
    };
    switch (flag) {
      case '--data':
        args.data = value();
        break;
      case '--devices':
        args.devices = count();
        break;
      case '--demo-devices':
        args.demoDevices = count();
        break;
      case '--port':
        args.port = count();
        break;
      case '--standalone':
        args.standalone = true;
        break;
      default:
        throw new Error(
          `unknown argument ${flag}; usage: npm start [-- --data <dir>] [--devices <n>] [--demo-devices <n>] [--port <n>] [--standalone]`,
        );
    }
  }
  return args;
}

/** Wraps a logger to announce the first posture record with the time since start (a figure operators ask for). */
function withFirstPostureTimer(logger: Logger): Logger {
  let seen = false;
  return {
    ...logger,
    info: (message, fields) => {
      logger.info(message, fields);
      if (!seen && message.startsWith('posture recorded')) {
        seen = true;
        logger.info(`first posture recorded ${process.uptime().toFixed(1)} s after the process started`);
      }
    },
  };
}

function onShutdown(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) {
      logger.warn('second signal: exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    logger.info(`${signal}: draining in-flight work and stopping`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

async function runStandalone(logger: Logger): Promise<void> {
  const config = loadConfig(process.env); // every problem at once, before anything connects
  setLogLevel(config.logLevel);
  logger.info('configuration', config.describe());
  const host = new StandaloneHost({ env: process.env, settings: readStandaloneSettings(process.env), logger });
  await host.start();
  logger.info('TwinGuard standalone host running', { api: host.httpUrl });
  onShutdown(() => host.stop(), logger);
}

/**
 * The embedded mode runs Azurite in this process (host/embedded-azurite.ts loads it on demand); a production install
 * (`npm ci --omit=dev`, the container image) has no Azurite, so say so instead of a module-resolution stack.
 */
function assertDevelopmentInstall(): void {
  try {
    require.resolve('azurite/package.json');
  } catch {
    throw new Error(
      'The embedded mode (no IoT Hub settings, no --standalone) needs a development install: run `npm ci` with dev dependencies. ' +
        'In a production install or a container, run the standalone host against your hub and storage: `npm run start:host` (node dist/host/cli.js --standalone) with IOTHUB_CONNECTION_STRING, IOTHUB_EVENTS_CONNECTION and AzureWebJobsStorage set.',
    );
  }
}

async function runEmbedded(args: Args, logger: Logger): Promise<void> {
  assertDevelopmentInstall();
  // Loaded here, not at the top: the standalone path must not load the emulator (or anything else it alone needs).
  const { EmbeddedTwinGuard } = await import('./embedded');
  const system = await EmbeddedTwinGuard.start({
    dataDir: args.data,
    seedDevices: args.devices,
    demoDevices: args.demoDevices,
    demoIntervalMs: 2500,
    httpPort: args.port,
    logger,
  });
  const api = system.host.httpUrl ?? '(no HTTP functions)';
  const lines = [
    '',
    'TwinGuard is running on embedded stand-ins (no Azure needed).',
    '',
    `  Dashboard           ${api}/api/dashboard/   (enter the function key ${system.functionKey})`,
    `  API                 ${api}/api/devices/{deviceId}/posture   (header x-functions-key: ${system.functionKey})`,
    `  try                 curl -H 'x-functions-key: ${system.functionKey}' ${api}/api/devices/demo-sensor-01/posture`,
    `  IoT Hub (emulator)  IOTHUB_CONNECTION_STRING=${system.hub.serviceConnectionString}`,
    `                      IOTHUB_SERVICE_ENDPOINT=${system.hub.registryUrl}   (createRegistryClient in shared/adapters/registry-client.ts)`,
    `  Built-in endpoint   ${system.hub.eventHubConnectionString}`,
    ...system.deviceSideLines(),
    ...system.unchangedScriptLines(),
    `  Storage (Azurite)   ${system.azurite.connectionString}`,
    `  State               ${args.data ? `kept in ${args.data}` : 'in memory (use --data <dir> to keep it)'}`,
    '',
    `Creating ${args.demoDevices} demo devices through the azure-iothub SDK; watch: device created → security module → agent reports → posture recorded.`,
    'Ctrl-C stops everything.',
    '',
  ];
  // The banner holds the emulator's keys on purpose: they are generated for this run so you can connect your own scripts.
  console.log(lines.join('\n'));
  system.startDemo();
  onShutdown(() => system.stop(), logger);
}

/** Set once STANDALONE_LOG_FORMAT is read, so even a start-up failure is one JSON line for a log collector. */
let format: LogFormat = 'text';

async function main(): Promise<void> {
  format = readLogFormat(process.env);
  const args = parseArgs(process.argv.slice(2));
  const configured = Boolean(process.env['IOTHUB_CONNECTION_STRING'] || process.env['IOTHUB_HOST_NAME']);
  if (args.standalone || configured) {
    // An operator's host: every batch summary at INFO, as the Functions host logs it.
    await runStandalone(withFirstPostureTimer(consoleLogger({ format })));
  } else {
    // The demo tells a per-device story in a terminal; per-batch summaries would drown it.
    await runEmbedded(args, withFirstPostureTimer(consoleLogger({ format, quiet: (message) => message.startsWith('batch processed') })));
  }
}

main().catch((err: unknown) => {
  if (format === 'json') consoleLogger({ format }).error('start-up failed', { error: errorMessage(err) });
  else console.error(errorMessage(err));
  process.exit(1);
});
