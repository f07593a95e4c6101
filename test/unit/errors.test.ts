import { classifyServiceError, errorMessage, EtagMismatchError, PermanentError, TransientError } from '../../shared/errors';

const NOW = Date.parse('2024-05-01T00:00:00Z');

function iotHubError(statusCode: number, headers: Record<string, string> = {}, body = ''): Error {
  return Object.assign(new Error('x'), { response: { statusCode, headers }, responseBody: body });
}

describe('classifyServiceError', () => {
  it.each([
    [iotHubError(404, {}, '{"Message":"ErrorCode:ModuleNotFound;gone"}'), { kind: 'notFound', statusCode: 404, code: 'ModuleNotFound' }],
    [iotHubError(409), { kind: 'conflict', statusCode: 409 }],
    [iotHubError(412), { kind: 'preconditionFailed', statusCode: 412 }],
    [iotHubError(429, { 'retry-after': '2' }), { kind: 'throttled', statusCode: 429, retryAfterMs: 2000 }],
    [iotHubError(429, { 'retry-after': 'Wed, 01 May 2024 00:00:05 GMT' }), { kind: 'throttled', statusCode: 429, retryAfterMs: 5000 }],
    [iotHubError(503, { 'x-ms-retry-after-ms': '150', 'retry-after': '9' }), { kind: 'transient', statusCode: 503, retryAfterMs: 150 }],
    [iotHubError(401), { kind: 'unauthorized', statusCode: 401 }],
    [iotHubError(400), { kind: 'badRequest', statusCode: 400 }],
    [iotHubError(501), { kind: 'permanent', statusCode: 501 }],
    [
      Object.assign(new Error('boom'), {
        statusCode: 500,
        code: 'InternalError',
        response: { headers: { get: (name: string) => (name === 'retry-after' ? '1' : undefined) } },
      }),
      { kind: 'transient', statusCode: 500, code: 'InternalError', retryAfterMs: 1000 },
    ],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), { kind: 'transient', code: 'ECONNRESET' }],
    [new Error('socket hang up'), { kind: 'transient' }],
    [new Error('plain'), { kind: 'permanent' }],
    ['a string', { kind: 'permanent' }],
    [new TransientError('t', { retryAfterMs: 10, statusCode: 429 }), { kind: 'throttled', statusCode: 429, retryAfterMs: 10 }],
    [new EtagMismatchError('e'), { kind: 'preconditionFailed', statusCode: 412, code: 'PreconditionFailed' }],
    [new PermanentError('p', { statusCode: 400 }), { kind: 'permanent', statusCode: 400 }],
  ])('%#: classifies %p', (err, expected) => {
    expect(classifyServiceError(err, NOW)).toEqual(expected);
  });
});

describe('errorMessage', () => {
  it('redacts keys and signatures', () => {
    const message = errorMessage(new Error('bad HostName=h;SharedAccessKeyName=o;SharedAccessKey=abc123== and sig=zzz&se=1'));
    expect(message).not.toMatch(/abc123|zzz/);
    expect(message).toContain('SharedAccessKey=***');
  });
  it('names non-plain errors and stringifies non-errors', () => {
    expect(errorMessage(new TransientError('slow'))).toBe('TransientError: slow');
    expect(errorMessage({ a: 1 })).toBe('{"a":1}');
  });
});
