import type { LogFields, Logger } from '../../shared/logger';
import { rateLimitedLogger } from '../../shared/rate-limited-logger';

function recorder(): { logger: Logger; lines: [string, string, LogFields | undefined][] } {
  const lines: [string, string, LogFields | undefined][] = [];
  const at =
    (level: string) =>
    (message: string, fields?: LogFields): void => {
      lines.push([level, message, fields]);
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

describe('rateLimitedLogger', () => {
  it('lets one WARN line per message and operation through per interval, counting the ones it held back', () => {
    let now = 0;
    const { logger, lines } = recorder();
    const limited = rateLimitedLogger(logger, { intervalMs: 10_000, now: () => now });
    const retried = (operation: string, at: number, statusCode = 429): void => {
      now = at;
      limited.warn('table storage call retried', { operation, statusCode });
    };

    retried('commitLatest', 0);
    retried('commitLatest', 1000);
    retried('getLatestMany', 1500); // another operation: its own allowance
    retried('commitLatest', 9999);
    retried('commitLatest', 10_000);
    retried('commitLatest', 12_000);
    retried('commitLatest', 20_000, 503);

    expect(lines).toEqual([
      ['warn', 'table storage call retried', { operation: 'commitLatest', statusCode: 429 }],
      ['warn', 'table storage call retried', { operation: 'getLatestMany', statusCode: 429 }],
      ['warn', 'table storage call retried', { operation: 'commitLatest', statusCode: 429, suppressed: 2 }],
      ['warn', 'table storage call retried', { operation: 'commitLatest', statusCode: 503, suppressed: 1 }],
    ]);
  });

  it('keys by message too, and passes the other levels through untouched', () => {
    const { logger, lines } = recorder();
    const limited = rateLimitedLogger(logger, { now: () => 0 });
    limited.warn('IoT Hub registry call retried', { operation: 'getModule' });
    limited.warn('table storage call retried', { operation: 'getModule' });
    limited.warn('IoT Hub registry call retried', { operation: 'getModule' });
    for (let i = 0; i < 3; i += 1) {
      limited.info('batch processed');
      limited.error('failed', { i });
    }
    expect(lines.filter(([level]) => level === 'warn').map(([, message]) => message)).toEqual([
      'IoT Hub registry call retried',
      'table storage call retried',
    ]);
    expect(lines.filter(([level]) => level !== 'warn')).toHaveLength(6);
  });
});
