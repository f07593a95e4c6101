/**
 * `npm run emulator -- --devices 1000 --partitions 4 --data state.json --port 0 --amqp-port 0 --tier S1
 *  --units 1 --seed-file fleet.json [--hub name] [--host 127.0.0.1] [--agent-mode healthy] [--agent-delay-ms 0]
 *  [--consumer-group name …] [--tls on|off]`
 * Prints the connection strings and registry URL, runs until SIGINT/SIGTERM, saves state if --data.
 * Argument handling lives in cli-options.ts (pure, unit-tested); this file only runs the plan.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CLI_USAGE, CliUsageError, planFromArgs } from './cli-options';
import { IotHubEmulator } from './index';

async function main(): Promise<void> {
  const plan = planFromArgs(process.argv.slice(2), existsSync);
  if (plan.kind === 'help') {
    console.log(CLI_USAGE);
    return;
  }
  for (const note of plan.notes) console.log(`note: ${note}`);
  const { dataFile } = plan;
  const started = Date.now();
  const emulator = await IotHubEmulator.start({ ...plan.options, consumerGroups: plan.consumerGroups, tls: plan.tls });
  const origin = plan.resuming ? `, resumed from ${dataFile ?? ''}` : '';
  console.log(
    `IoT Hub emulator '${emulator.hubName}' ready in ${Date.now() - started} ms (${emulator.registry.deviceCount} devices, ${emulator.registry.moduleCount} modules${origin})`,
  );
  console.log(`IOTHUB_CONNECTION_STRING=${emulator.serviceConnectionString}`);
  console.log(`IOTHUB_SERVICE_ENDPOINT=${emulator.registryUrl}`);
  console.log(`EVENTHUB_CONNECTION_STRING=${emulator.eventHubConnectionString}`);
  console.log(`EVENTHUB_NAME=${emulator.eventHubName}`);
  console.log(`EVENTHUB_CONSUMER_GROUPS=${plan.consumerGroups.join(',')}`);
  console.log(`IOTHUB_MQTT_PORT=${emulator.mqttPort}`);
  if (emulator.connectSetting !== undefined) {
    // What an unchanged SDK script needs: the cloud-shaped connection strings above and below, and the preload.
    console.log(`EVENTHUB_PORTAL_CONNECTION_STRING=${emulator.portalEventHubConnectionString}`);
    console.log(`IOTHUB_EMULATOR_CONNECT=${emulator.connectSetting}`);
    const preload = path.join(__dirname, 'connect.js');
    console.log(
      `Unchanged SDK scripts: with IOTHUB_EMULATOR_CONNECT set as above, run node -r ${preload} my-script.js (or set NODE_OPTIONS="--require ${preload}")`,
    );
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping${dataFile ? `, saving state to ${dataFile}` : ''}`);
    (async () => {
      // Stop first so no request changes the registry while it is being written.
      await emulator.stop();
      if (dataFile) await emulator.save();
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error instanceof Error ? `stopping failed: ${error.message}` : error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof CliUsageError ? `${error.message}\n\n${CLI_USAGE}` : error instanceof Error ? error.message : error);
  process.exit(2);
});
