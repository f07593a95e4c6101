/**
 * Starts testing/http-api-host-child.ts (the standalone host serving the HTTP functions only) in its own process, so
 * the API answers from a process of its own, as in production, and the caller's event loop (a browser driver, a
 * load generator) does not share it. Runs the build (dist/testing/…) or, from the sources, the TypeScript hook.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT, stopChild } from './external-service';
import type { HttpApiHostMessage } from './http-api-host-child';

export interface HttpApiHost {
  readonly url: string;
  stop(): Promise<void>;
}

/** `env`: the app settings (production names) plus STANDALONE_FUNCTION_KEY; the port is picked by the OS. */
export function startHttpApiHost(env: Record<string, string>, timeoutMs = 60_000): Promise<HttpApiHost> {
  const fromSources = __filename.endsWith('.ts');
  const entry = path.join(__dirname, fromSources ? 'http-api-host-child.ts' : 'http-api-host-child.js');
  const child = fork(entry, [], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env, STANDALONE_HTTP_PORT: '0' },
    execArgv: fromSources ? ['-r', path.join(REPO_ROOT, 'test', 'support', 'ts-register.js')] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<HttpApiHost>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the HTTP API host did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message: HttpApiHostMessage) => {
      clearTimeout(timer);
      if (message.type === 'failed') reject(new Error(`the HTTP API host failed to start: ${message.error}`));
      else resolve({ url: message.httpUrl, stop: () => stopChild(child) });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP API host exited (${code ?? signal}) before it served`));
    });
  });
}
