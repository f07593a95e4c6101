import { setLogLevel } from '../../shared/log-level';
import { loggerFor, type LogSink } from '../../shared/triggers/invocation-logger';

function sink(): LogSink & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (...a) => lines.push(`debug ${a.join(' ')}`),
    log: (...a) => lines.push(`info ${a.join(' ')}`),
    warn: (...a) => lines.push(`warn ${a.join(' ')}`),
    error: (...a) => lines.push(`error ${a.join(' ')}`),
  };
}

describe('loggerFor', () => {
  afterEach(() => setLogLevel('info'));

  it.each([
    ['debug', ['debug m', 'info m', 'warn m', 'error m']],
    ['info', ['info m', 'warn m', 'error m']],
    ['warn', ['warn m', 'error m']],
    ['error', ['error m']],
  ] as const)('at LOG_LEVEL %s lets through %j', (level, expected) => {
    const target = sink();
    const logger = loggerFor(target, {});
    // The level is read when a line is written: a logger built before the configuration loaded follows it too.
    setLogLevel(level);
    logger.debug('m');
    logger.info('m');
    logger.warn('m');
    logger.error('m');
    expect(target.lines).toEqual(expected);
  });

  it('adds the base fields and never lets a key through', () => {
    const target = sink();
    // Built at run time so no key-shaped literal sits in the repository.
    const key = Buffer.from('not-a-real-key-'.repeat(3)).toString('base64');
    loggerFor(target, { partitionId: '2' }).warn('call failed', { error: `HostName=h;SharedAccessKeyName=owner;SharedAccessKey=${key}` });
    expect(target.lines).toEqual([
      'warn call failed {"partitionId":"2","error":"HostName=h;SharedAccessKeyName=owner;SharedAccessKey=***"}',
    ]);
    expect(target.lines.join('')).not.toContain(key);
  });
});
