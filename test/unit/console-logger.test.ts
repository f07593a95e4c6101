/** The standalone host's console (host/console-logger.ts): STANDALONE_LOG_FORMAT text or json, LOG_LEVEL, redaction. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { consoleLogger, LOG_FORMAT_SETTING, readLogFormat, type LogFormat } from '../../host/console-logger';
import { setLogLevel, type LogLevel } from '../../shared/log-level';

const NOW = new Date('2026-12-02T08:15:30.125Z');

function capture(format: LogFormat, quiet?: (message: string) => boolean) {
  const lines: { line: string; level: LogLevel }[] = [];
  const logger = consoleLogger({ format, quiet, now: () => NOW, write: (line, level) => lines.push({ line, level }) });
  return { logger, lines, records: () => lines.map(({ line }) => JSON.parse(line) as Record<string, unknown>) };
}

afterEach(() => setLogLevel('info'));

describe('readLogFormat (STANDALONE_LOG_FORMAT)', () => {
  it.each<[string | undefined, LogFormat]>([
    [undefined, 'text'],
    ['', 'text'],
    ['text', 'text'],
    ['json', 'json'],
    [' JSON ', 'json'],
  ])('%j → %s', (value, format) => {
    expect(readLogFormat({ STANDALONE_LOG_FORMAT: value })).toBe(format);
  });

  it('refuses anything else, naming the setting', () => {
    expect(() => readLogFormat({ STANDALONE_LOG_FORMAT: 'logfmt' })).toThrow('STANDALONE_LOG_FORMAT must be text or json');
  });

  it('is documented in the README settings table', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(`| \`${LOG_FORMAT_SETTING.name}\` | \`${LOG_FORMAT_SETTING.default}\` |`);
  });
});

describe('consoleLogger, json', () => {
  it('writes one JSON object per line: time, level, message, fields (only when there are some)', () => {
    const { logger, lines, records } = capture('json');
    logger.info('TwinGuard standalone host running', { api: 'http://0.0.0.0:7071', skipped: undefined });
    logger.warn('queue message retried', { attempt: 2, queue: 'compliance-sweep' });
    logger.error('shutdown failed');
    logger.debug('not at info');
    expect(records()).toEqual([
      {
        time: '2026-12-02T08:15:30.125Z',
        level: 'info',
        message: 'TwinGuard standalone host running',
        fields: { api: 'http://0.0.0.0:7071' },
      },
      {
        time: '2026-12-02T08:15:30.125Z',
        level: 'warn',
        message: 'queue message retried',
        fields: { attempt: 2, queue: 'compliance-sweep' },
      },
      { time: '2026-12-02T08:15:30.125Z', level: 'error', message: 'shutdown failed' },
    ]);
    expect(lines.map(({ line }) => line.includes('\n'))).toEqual([false, false, false]);
    expect(lines.map(({ level }) => level)).toEqual(['info', 'warn', 'error']);
  });

  it.each<[LogLevel, string[]]>([
    ['error', ['error']],
    ['warn', ['warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['debug', ['debug', 'info', 'warn', 'error']],
  ])('applies LOG_LEVEL=%s', (level, written) => {
    setLogLevel(level);
    const { logger, records } = capture('json');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(records().map((r) => r['level'])).toEqual(written);
  });

  it('redacts secrets in the message and in every string field, nested ones and keys named like secrets included', () => {
    const { logger, lines, records } = capture('json');
    logger.error('connect failed for AccountName=acct;AccountKey=c2VjcmV0a2V5;EndpointSuffix=core.windows.net', {
      error: 'Endpoint=sb://ns/;SharedAccessKeyName=owner;SharedAccessKey=a2V5a2V5',
      nested: {
        url: 'https://acct.blob.core.windows.net/c?sv=2024&sig=c2lnbmF0dXJl&se=x',
        list: ['SharedAccessSignature sr=x&sig=abc&se=1'],
      },
      sig: 'c2lnbmF0dXJl',
    });
    const text = lines[0]!.line;
    for (const secret of ['c2VjcmV0a2V5', 'a2V5a2V5', 'c2lnbmF0dXJl', 'sig=abc']) expect(text).not.toContain(secret);
    expect(records()[0]).toEqual({
      time: NOW.toISOString(),
      level: 'error',
      message: 'connect failed for AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net',
      fields: {
        error: 'Endpoint=sb://ns/;SharedAccessKeyName=owner;SharedAccessKey=***',
        nested: { url: 'https://acct.blob.core.windows.net/c?sv=2024&sig=***&se=x', list: ['SharedAccessSignature ***'] },
        sig: '***',
      },
    });
  });

  it('stays valid JSON where redacting the serialized line would cut an escape (a secret followed by a quote)', () => {
    const { logger, records } = capture('json');
    logger.warn('odd value', { error: 'AccountKey=abc"def', path: 'C:\\data\\"x"' });
    expect(records()[0]?.['fields']).toEqual({ error: 'AccountKey=***"def', path: 'C:\\data\\"x"' });
  });

  it('carries values JSON cannot: Error as its message, bigint as digits, a cycle as [circular], functions dropped', () => {
    const { logger, records } = capture('json');
    const cycle: Record<string, unknown> = { name: 'a' };
    cycle['self'] = cycle;
    logger.info('values', { error: new RangeError('too deep'), big: 2n ** 70n, cycle, fn: () => 1, when: NOW, none: null });
    expect(records()[0]?.['fields']).toEqual({
      error: 'RangeError: too deep',
      big: '1180591620717411303424',
      cycle: { name: 'a', self: '[circular]' },
      when: NOW.toISOString(),
      none: null,
    });
  });

  it("lifts a function's fields out of its message (what InvocationContext lines carry), leaves other text alone", () => {
    const { logger, records } = capture('json');
    logger.info('posture recorded {"invocationId":"standalone-1","deviceId":"d {1}","entries":1}');
    logger.info('selector {x} is odd');
    logger.info('ends with a brace }');
    logger.info('not an object {"a":1} [2]');
    expect(records().map((r) => [r['message'], r['fields']])).toEqual([
      ['posture recorded', { invocationId: 'standalone-1', deviceId: 'd {1}', entries: 1 }],
      ['selector {x} is odd', undefined],
      ['ends with a brace }', undefined],
      ['not an object {"a":1} [2]', undefined],
    ]);
  });

  it('drops quiet lines', () => {
    const { logger, records } = capture('json', (message) => message.startsWith('batch processed'));
    logger.info('batch processed {"events":3}');
    logger.info('posture recorded');
    expect(records().map((r) => r['message'])).toEqual(['posture recorded']);
  });
});

describe('consoleLogger, text (the default)', () => {
  it('writes HH:MM:SS level message key=value, secrets redacted, LOG_LEVEL applied', () => {
    const { logger, lines } = capture('text');
    logger.info('configuration', { IOTHUB_CONNECTION_STRING: 'HostName=h;SharedAccessKey=c2VjcmV0', port: 7071, note: 'two words' });
    logger.warn('retried');
    logger.debug('hidden');
    expect(lines).toEqual([
      {
        line: '08:15:30 info  configuration IOTHUB_CONNECTION_STRING="HostName=h;SharedAccessKey=***" port=7071 note="two words"',
        level: 'info',
      },
      { line: '08:15:30 WARN  retried', level: 'warn' },
    ]);
  });

  it('is what consoleLogger() writes without options', () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      consoleLogger().info('hello', { a: 1 });
      consoleLogger().error('bad');
      expect(log.mock.calls[0]?.[0]).toMatch(/^\d\d:\d\d:\d\d info {2}hello a=1$/);
      expect(error.mock.calls[0]?.[0]).toMatch(/^\d\d:\d\d:\d\d ERROR bad$/);
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  });
});
