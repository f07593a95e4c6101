/** The standalone host's /readyz logic (host/readiness.ts) and the /healthz, /readyz answers (host/health-routes.ts). */
import { RestError } from '@azure/data-tables';
import { probeAnswer, type HealthProbes } from '../../host/health-routes';
import { configurationCheck, HostReadiness, Readiness, storageCheck, tableFailureStatus, type ReadinessCheck } from '../../host/readiness';
import { silentLogger, type LogFields, type Logger } from '../../shared/logger';

const check = (name: string, run: ReadinessCheck['run'], failure?: string): ReadinessCheck => ({ name, run, failure });
const never = (): Promise<string> => new Promise<string>(() => undefined);

describe('Readiness', () => {
  it.each<[string, ReadinessCheck[], boolean, Record<string, string>]>([
    [
      'every check ok',
      [check('configuration', () => 'ok'), check('storage', () => Promise.resolve('ok'))],
      true,
      { host: 'ok', configuration: 'ok', storage: 'ok' },
    ],
    [
      'one check not ok',
      [check('configuration', () => 'ok'), check('storage', () => 'unreachable')],
      false,
      { host: 'ok', configuration: 'ok', storage: 'unreachable' },
    ],
    [
      'a throw is the check’s failure word, never the error text',
      [
        check('storage', () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:443 AccountKey=abc')), 'unreachable'),
        check('events', () => {
          throw new Error('boom');
        }),
      ],
      false,
      { host: 'ok', storage: 'unreachable', events: 'failed' },
    ],
    ['no checks at all', [], true, { host: 'ok' }],
  ])('%s', async (_name, checks, ready, expected) => {
    const report = await new Readiness({ lifecycle: () => 'ok', checks }).evaluate();
    expect(report).toEqual({ ready, checks: expected });
  });

  it.each(['starting', 'draining'])('answers not ready while %s, without running the checks', async (state) => {
    const run = jest.fn(() => 'ok');
    const report = await new Readiness({ lifecycle: () => state, checks: [check('storage', run)] }).evaluate();
    expect(report).toEqual({ ready: false, checks: { host: state } });
    expect(run).not.toHaveBeenCalled();
  });

  it('answers "timeout" for a check that does not answer in time, and aborts its call', async () => {
    jest.useFakeTimers();
    try {
      let aborted = false;
      const hanging = check('storage', (signal) => {
        signal.addEventListener('abort', () => (aborted = true));
        return never();
      });
      const pending = new Readiness({
        lifecycle: () => 'ok',
        checks: [hanging, check('configuration', () => 'ok')],
        timeoutMs: 2000,
      }).evaluate();
      await jest.advanceTimersByTimeAsync(1999);
      expect(aborted).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await expect(pending).resolves.toEqual({ ready: false, checks: { host: 'ok', storage: 'timeout', configuration: 'ok' } });
      expect(aborted).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  it('runs the checks at most once per cacheMs and shares one evaluation between concurrent probes', async () => {
    let now = 0;
    let calls = 0;
    let status = 'ok';
    const readiness = new Readiness({
      lifecycle: () => 'ok',
      checks: [check('storage', () => (calls++, Promise.resolve(status)))],
      cacheMs: 1000,
      now: () => now,
    });
    const concurrent = await Promise.all([readiness.evaluate(), readiness.evaluate(), readiness.evaluate()]);
    expect(concurrent.every((r) => r.ready)).toBe(true);
    expect(calls).toBe(1);
    status = 'unreachable';
    now = 999;
    expect((await readiness.evaluate()).ready).toBe(true);
    expect(calls).toBe(1);
    now = 1000;
    expect(await readiness.evaluate()).toEqual({ ready: false, checks: { host: 'ok', storage: 'unreachable' } });
    expect(calls).toBe(2);
  });

  it('never serves a cached "ready" once draining has begun', async () => {
    let state = 'ok';
    const readiness = new Readiness({ lifecycle: () => state, checks: [check('storage', () => 'ok')], cacheMs: 60_000, now: () => 0 });
    expect((await readiness.evaluate()).ready).toBe(true);
    state = 'draining';
    expect(await readiness.evaluate()).toEqual({ ready: false, checks: { host: 'draining' } });
  });

  it('reads the lifecycle again after the checks ran (draining began meanwhile)', async () => {
    let state = 'ok';
    const readiness = new Readiness({
      lifecycle: () => state,
      checks: [
        check('storage', () => {
          state = 'draining';
          return 'ok';
        }),
      ],
    });
    expect(await readiness.evaluate()).toEqual({ ready: false, checks: { host: 'draining' } });
  });
});

describe('checks', () => {
  it('configuration: loads once, ok or invalid', () => {
    const load = jest.fn();
    const ok = configurationCheck(load);
    expect([ok.run(new AbortController().signal), ok.run(new AbortController().signal)]).toEqual(['ok', 'ok']);
    expect(load).toHaveBeenCalledTimes(1);
    const invalid = configurationCheck(() => {
      throw new Error('IOTHUB_CONNECTION_STRING is not defined');
    });
    expect(invalid.run(new AbortController().signal)).toBe('invalid');
  });

  it.each<[string, unknown, string]>([
    ['table not created yet (404): the service answered', new RestError('TableNotFound', { statusCode: 404 }), 'ok'],
    ['credential refused (403)', new RestError('AuthorizationFailure', { statusCode: 403 }), 'denied'],
    ['credential refused (401)', new RestError('NoAuthenticationInformation', { statusCode: 401 }), 'denied'],
    ['server busy (503)', new RestError('ServerBusy', { statusCode: 503 }), 'unreachable'],
    ['connection refused (no status)', new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' }), 'unreachable'],
    ['not a RestError', new Error('socket hang up'), 'unreachable'],
  ])('table failure: %s', (_name, err, status) => {
    expect(tableFailureStatus(err)).toBe(status);
  });

  it('storage: ok when the probe answers, the failure word otherwise', async () => {
    const signal = new AbortController().signal;
    await expect(storageCheck(() => Promise.resolve({})).run(signal)).resolves.toBe('ok');
    await expect(storageCheck(() => Promise.reject(new RestError('x', { statusCode: 500 }))).run(signal)).resolves.toBe('unreachable');
  });
});

describe('HostReadiness', () => {
  function recorder(): { logger: Logger; lines: [string, string, LogFields | undefined][] } {
    const lines: [string, string, LogFields | undefined][] = [];
    const at = (level: string) => (message: string, fields?: LogFields) => void lines.push([level, message, fields]);
    return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
  }

  it('is not ready while starting, runs the checks once serving (storage skipped when the configuration is invalid: no socket here), and answers draining from stop on', async () => {
    const host = new HostReadiness({ env: {}, cacheMs: 0 });
    expect(await host.probes.readyz()).toEqual({ ready: false, checks: { host: 'starting' } });
    host.serving();
    expect(await host.probes.readyz()).toEqual({
      ready: false,
      checks: { host: 'ok', configuration: 'invalid', storage: 'skipped', events: 'ok' },
    });
    host.draining();
    expect(await host.probes.readyz()).toEqual({ ready: false, checks: { host: 'draining' } });
    await expect(host.probes.healthz()).resolves.toBeUndefined();
  });

  it('marks the events check failed when a consumer reports a fatal receive error (an error line with fields), and only then', async () => {
    const host = new HostReadiness({ env: {}, cacheMs: 0 });
    const { logger, lines } = recorder();
    const first = host.consumerLogger(logger);
    host.consumerLogger(silentLogger);
    host.serving();
    // What a function logs through its InvocationContext reaches the consumer's logger as text without fields.
    first.error('device processing failed permanently; events dead-lettered {"deviceId":"d1"}');
    first.warn('event hub receive error (the client reconnects by itself)', { partitionId: '0' });
    expect((await host.probes.readyz()).checks['events']).toBe('ok');
    first.error('event hub or consumer group not found: check IOTHUB_EVENTS_CONSUMER_GROUP', {
      partitionId: '0',
      consumerGroup: 'twinguard',
    });
    expect((await host.probes.readyz()).checks['events']).toBe('failed');
    // The tap passes every line on unchanged.
    expect(lines.map(([level]) => level)).toEqual(['error', 'warn', 'error']);
    expect(lines[2]?.[2]).toEqual({ partitionId: '0', consumerGroup: 'twinguard' });
  });
});

describe('probeAnswer (/healthz, /readyz)', () => {
  const probes = (report: Awaited<ReturnType<HealthProbes['readyz']>>, live = true): HealthProbes => ({
    healthz: () => (live ? Promise.resolve() : Promise.reject(new Error('down'))),
    readyz: () => Promise.resolve(report),
  });
  const ready = probes({ ready: true, checks: { host: 'ok', storage: 'ok' } });

  it.each<[string, string, number, HealthProbes, unknown]>([
    ['GET', '/healthz', 200, ready, { status: 'ok' }],
    ['HEAD', '/healthz/', 200, ready, { status: 'ok' }],
    ['GET', '/healthz', 503, probes({ ready: true, checks: {} }, false), { status: 'not ok' }],
    ['GET', '/readyz', 200, ready, { status: 'ready', checks: { host: 'ok', storage: 'ok' } }],
    [
      'GET',
      '/readyz',
      503,
      probes({ ready: false, checks: { host: 'ok', storage: 'unreachable' } }),
      { status: 'not ready', checks: { host: 'ok', storage: 'unreachable' } },
    ],
    [
      'GET',
      '/readyz',
      503,
      { healthz: () => Promise.resolve(), readyz: () => Promise.reject(new Error('AccountKey=abc')) },
      { status: 'not ready', checks: {} },
    ],
    ['POST', '/readyz', 405, ready, { error: 'MethodNotAllowed', message: 'this route answers GET, HEAD' }],
  ])('%s %s → %d', async (method, path, status, given, body) => {
    const answer = await probeAnswer(given, method, path);
    expect(answer?.status).toBe(status);
    expect(answer?.jsonBody).toEqual(body);
    expect(answer?.headers).toMatchObject({ 'cache-control': 'no-store' });
  });

  it.each([['/api/healthz'], ['/Healthz'], ['/healthz/x'], ['/readyz.json'], ['/']])('leaves %s to the routes', (path) => {
    expect(probeAnswer(ready, 'GET', path)).toBeUndefined();
  });

  it('is off without probes', () => {
    expect(probeAnswer(undefined, 'GET', '/healthz')).toBeUndefined();
  });
});
