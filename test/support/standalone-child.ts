/**
 * A standalone host in its own process, for tests that must kill it for real (SIGKILL) and start it
 * again. Settings come from the environment under their production names; progress goes to the
 * parent over the IPC channel. Run with `-r test/support/ts-register.js`.
 */
import { errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { readStandaloneSettings, StandaloneHost } from '../../host/standalone-host';

export type ChildMessage =
  | { type: 'ready'; httpUrl?: string }
  | { type: 'checkpointed'; partitionId: string; events: number; lastSequenceNumber: number; at: number }
  | { type: 'failed'; error: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Warnings and errors only, to stderr (the parent shows them when a test fails). */
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
    onBatchCheckpointed: (info) => send({ type: 'checkpointed', ...info, at: Date.now() }),
  });
  process.once('SIGTERM', () => {
    host.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  // The parent going away must not leave this process behind.
  process.once('disconnect', () => process.exit(0));
  await host.start();
  send({ type: 'ready', httpUrl: host.httpUrl });
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: errorMessage(err) });
  process.exit(1);
});
