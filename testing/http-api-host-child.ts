/**
 * The standalone host in its own process serving the app's HTTP functions only (the production modules, discovered
 * as the host does, with their options, function keys and the container's service graph), for benchmarks that read
 * through the API over storage they seeded: no Event Hubs consumer, timer or queue poller starts, so nothing but the
 * requests measured runs here. Settings come from the environment under their production names; the parent
 * (testing/http-api-host-process.ts) hears over IPC when it serves.
 */
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { loadRegistrations, readStandaloneSettings, StandaloneHost } from '../host/standalone-host';

export type HttpApiHostMessage = { type: 'ready'; httpUrl: string } | { type: 'failed'; error: string };

function send(message: HttpApiHostMessage): void {
  process.send?.(message);
}

/** Warnings and errors only, to stderr: a request that fails during a measurement shows up in the bench's output. */
const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => process.stderr.write(`WARN ${message} ${JSON.stringify(fields ?? {})}\n`),
  error: (message, fields) => process.stderr.write(`ERROR ${message} ${JSON.stringify(fields ?? {})}\n`),
};

async function main(): Promise<void> {
  const host = new StandaloneHost({
    env: process.env,
    settings: readStandaloneSettings(process.env),
    logger,
    registrations: loadRegistrations().filter((registration) => registration.kind === 'http'),
  });
  process.once('SIGTERM', () => {
    host.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.once('disconnect', () => process.exit(0));
  await host.start();
  if (!host.httpUrl) throw new Error('the host serves no HTTP functions');
  send({ type: 'ready', httpUrl: host.httpUrl });
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: errorMessage(err) });
  process.exit(1);
});
