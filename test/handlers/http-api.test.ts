/**
 * The Functions side of the HTTP surface: the registered handlers called with real @azure/functions HttpRequest
 * objects whose bodies are streams, built as the library builds them under `enableHttpStream`
 * (host/stream-http-request.ts mirrors its createStreamRequest). The Functions runtime itself cannot run here (Core
 * Tools cannot be installed offline), so what it adds around the handler (the proxy, its own 100 MB limit) is not
 * exercised; the standalone host's tests run the same handlers over real HTTP.
 */
import { Readable } from 'node:stream';
import { HttpResponse, InvocationContext, type HttpRequest, type LogLevel } from '@azure/functions';
import { streamHttpRequest } from '../../host/stream-http-request';
import { makeFindingsHandler } from '../../functions/compliance-findings';
import { makeGetSweepHandler } from '../../functions/sweeps-get';
import { makeSuppressionsHandler } from '../../functions/suppressions';
import { MemorySuppressionStore } from '../../shared/adapters/memory/memory-suppression-store';
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { ConfigError } from '../../shared/config/config-error';
import { TransientError } from '../../shared/errors';
import type { FindingRecord, SweepStore } from '../../shared/ports/sweep-store';
import { REQUEST_BODY_LIMIT_BYTES } from '../../shared/triggers/request-body-limit';

const NOW = new Date('2026-03-01T12:00:00Z');
const CHUNK = 64 * 1024;

/** A request body produced on demand, counting what the handler pulled; `failAfter` bytes, it fails (client gone). */
function source(
  totalBytes: number,
  options: { failAfter?: number; text?: string } = {},
): { body: AsyncIterable<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (options.text !== undefined) {
      // One character per chunk: multi-byte characters arrive split, as they may from a socket.
      for (const byte of Buffer.from(options.text, 'utf8')) {
        pulled += 1;
        yield Uint8Array.of(byte);
      }
      return;
    }
    const piece = new Uint8Array(CHUNK).fill(0x61);
    for (let sent = 0; sent < totalBytes; sent += CHUNK) {
      await Promise.resolve();
      if (options.failAfter !== undefined && sent >= options.failAfter) throw new Error('aborted');
      pulled += CHUNK;
      yield piece;
    }
  }
  return { body: chunks(), pulled: () => pulled };
}

function post(body: AsyncIterable<Uint8Array>, headers: Record<string, string> = {}): HttpRequest {
  return streamHttpRequest({
    method: 'POST',
    url: 'https://twinguard.azurewebsites.net/api/suppressions',
    headers: { 'content-type': 'application/json', ...headers },
    query: {},
    params: {},
    body,
  });
}

function get(url: string, params: Record<string, string> = {}, query: Record<string, string> = {}): HttpRequest {
  return streamHttpRequest({ method: 'GET', url, headers: {}, query, params });
}

function context(): { context: InvocationContext; lines: { level: LogLevel; text: string }[] } {
  const lines: { level: LogLevel; text: string }[] = [];
  return {
    lines,
    context: new InvocationContext({
      invocationId: 'b1f7c3de-0000-4000-8000-000000000001',
      functionName: 'under-test',
      logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(' ') }),
    }),
  };
}

function suppressionsHandler(store = new MemorySuppressionStore()) {
  return makeSuppressionsHandler(() => Promise.resolve({ suppressions: store, now: () => NOW }));
}

describe('request bodies (read from request.body with a cap)', () => {
  it('creates a suppression from a streamed body, UTF-8 split across chunks', async () => {
    const store = new MemorySuppressionStore();
    const text = JSON.stringify({ ruleId: '*', deviceId: 'dev-1', reason: 'Wartung für Halle 3 — ok' });
    const response = await suppressionsHandler(store)(post(source(0, { text }).body), context().context);
    expect(response.status).toBe(201);
    expect((await store.list())[0]?.reason).toBe('Wartung für Halle 3 — ok');
  });

  it('cuts a chunked 50 MB body off at the limit: 413, and no more than one chunk past the limit was read', async () => {
    const store = new MemorySuppressionStore();
    const body = source(50 * 1024 * 1024);
    const response = await suppressionsHandler(store)(post(body.body), context().context);
    expect(response.status).toBe(413);
    expect(response.jsonBody).toEqual({
      error: 'PayloadTooLarge',
      message: `request body exceeds the limit of ${REQUEST_BODY_LIMIT_BYTES} bytes`,
    });
    expect(body.pulled()).toBeLessThanOrEqual(REQUEST_BODY_LIMIT_BYTES + CHUNK);
    expect(await store.list()).toEqual([]);
  });

  it('answers a declared Content-Length over the limit with 413 before reading a byte', async () => {
    const body = source(50 * 1024 * 1024);
    const response = await suppressionsHandler()(post(body.body, { 'content-length': String(50 * 1024 * 1024) }), context().context);
    expect(response.status).toBe(413);
    expect(body.pulled()).toBe(0);
  });

  it('logs a body that stops arriving as "client aborted" at information, not as an error', async () => {
    const { context: ctx, lines } = context();
    const response = await suppressionsHandler()(post(source(200_000, { failAfter: 2 * CHUNK }).body), ctx);
    expect(response.status).toBe(400);
    expect(lines.filter((l) => l.text.startsWith('client aborted')).map((l) => l.level)).toEqual(['information']);
    expect(lines.filter((l) => l.level === 'error' || l.level === 'warning')).toEqual([]);
  });

  it('answers 400 to a body that is not JSON', async () => {
    const response = await suppressionsHandler()(post(source(0, { text: '{"ruleId": ' }).body), context().context);
    expect(response.status).toBe(400);
    expect(response.jsonBody).toEqual({ error: 'BadRequest', message: 'body is not valid JSON' });
  });
});

describe('failures (the httpHandler wrapper)', () => {
  function failingWith(error: Error) {
    const sweeps = new MemorySweepStore();
    sweeps.getRun = () => Promise.reject(error);
    return makeGetSweepHandler(() => Promise.resolve({ sweeps }));
  }
  const request = (): HttpRequest => get('https://twinguard.azurewebsites.net/api/sweeps/s-1', { id: 's-1' });

  it.each([
    ['a TransientError with retryAfterMs', new TransientError('getRun gave up', { retryAfterMs: 1200 }), '2'],
    ['a TransientError without', new TransientError('getRun gave up'), '5'],
    [
      'a storage 503 the SDK gave up on',
      Object.assign(new Error('Service Unavailable'), { statusCode: 503, response: { headers: { 'retry-after': '7' } } }),
      '7',
    ],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:10002'), { code: 'ECONNREFUSED' }), '5'],
  ])('answers %s with 503 and Retry-After', async (_what, error, retryAfter) => {
    const response = await failingWith(error)(request(), context().context);
    expect(response.status).toBe(503);
    expect(new Headers(response.headers).get('retry-after')).toBe(retryAfter);
    expect(response.jsonBody).toMatchObject({ error: 'ServiceUnavailable' });
  });

  it('answers a ConfigError with 500 ConfigurationError and logs the problems', async () => {
    const { context: ctx, lines } = context();
    const response = await failingWith(new ConfigError(['IOTHUB_CONNECTION_STRING is required']))(request(), ctx);
    expect(response.status).toBe(500);
    expect(response.jsonBody).toEqual({
      error: 'ConfigurationError',
      message: 'the function app configuration is invalid; an operator must fix its settings',
      requestId: ctx.invocationId,
    });
    expect(lines.some((l) => l.level === 'error' && l.text.includes('IOTHUB_CONNECTION_STRING is required'))).toBe(true);
  });

  it('answers anything else with a generic 500 naming the invocation; the stack and message stay in the log', async () => {
    const { context: ctx, lines } = context();
    const response = await failingWith(new TypeError("Cannot read properties of undefined (reading 'plan')"))(request(), ctx);
    expect(response).toMatchObject({
      status: 500,
      jsonBody: { error: 'InternalError', message: 'internal error', requestId: ctx.invocationId },
    });
    expect(JSON.stringify(response.jsonBody)).not.toMatch(/plan|TypeError/);
    expect(lines.some((l) => l.level === 'error' && l.text.includes("reading 'plan'"))).toBe(true);
  });

  it('adds nosniff and no-store to every answer', async () => {
    const response = await makeGetSweepHandler(() => Promise.resolve({ sweeps: new MemorySweepStore() }))(request(), context().context);
    expect(response.status).toBe(404);
    const headers = new Headers(response.headers);
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('cache-control')).toBe('no-store');
  });
});

describe('the CSV export body', () => {
  async function seeded(rows: number): Promise<{ store: SweepStore; pagesRead: () => number }> {
    const inner = new MemorySweepStore();
    await inner.createRun({
      sweepId: 's-csv',
      trigger: 'api',
      dryRun: true,
      status: 'completed',
      startedAt: NOW.toISOString(),
      plan: { splits: [], shards: 2, buckets: 2, fleetSize: rows, estimatedMissingModules: 0, bulkImport: false },
    });
    const findings: FindingRecord[] = Array.from({ length: rows }, (_, i) => ({
      sweepId: 's-csv',
      shard: i % 2,
      bucket: 0,
      deviceId: `dev-${String(i).padStart(5, '0')}`,
      ruleId: 'module-missing',
      severity: 'critical',
      status: 'violation',
      message: 'no module',
    }));
    await inner.writeFindings(findings);
    let pages = 0;
    const listFindings = inner.listFindings.bind(inner);
    inner.listFindings = (query) => {
      pages++;
      return listFindings(query);
    };
    return { store: inner, pagesRead: () => pages };
  }

  it('is a byte stream the library streams (not a Node Readable cast to a web stream), pulled page by page', async () => {
    const { store, pagesRead } = await seeded(5000);
    const init = await makeFindingsHandler(() => Promise.resolve({ sweeps: store }))(
      get('https://twinguard.azurewebsites.net/api/compliance/findings?format=csv&sweepId=s-csv', {}, { format: 'csv', sweepId: 's-csv' }),
      context().context,
    );
    expect(init.status).toBe(200);
    expect(typeof (init.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]).toBe('function');
    expect(init.body).not.toBeInstanceOf(Readable);
    expect(pagesRead()).toBe(1); // the first page is read before answering (a storage failure there is still a 503)
    // What the library does with it under enableHttpStream (sendProxyResponse): iterate the Response body's stream.
    const reader = new HttpResponse(init).body!.getReader();
    const first = (await reader.read()).value as Uint8Array;
    expect(Buffer.from(first).toString('utf8')).toMatch(/^deviceId,ruleId,severity,status,message/);
    expect(pagesRead()).toBeLessThanOrEqual(2);
    await reader.cancel(); // the client went away: no further page is read
    const afterCancel = pagesRead();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pagesRead()).toBe(afterCancel);
    expect(afterCancel).toBeLessThan(5);
  });

  it('streams every row when read to the end', async () => {
    const { store } = await seeded(2500);
    const init = await makeFindingsHandler(() => Promise.resolve({ sweeps: store }))(
      get('https://twinguard.azurewebsites.net/api/compliance/findings', {}, { format: 'csv', sweepId: 's-csv' }),
      context().context,
    );
    const text = await new HttpResponse(init).text();
    expect(text.split('\r\n').filter((line) => line.startsWith('dev-'))).toHaveLength(2500);
    expect(new HttpResponse(init).headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers 503 when the store fails on the first page, before any byte is sent', async () => {
    const { store } = await seeded(10);
    store.listFindings = () => Promise.reject(new TransientError('listFindings gave up', { retryAfterMs: 3000 }));
    const init = await makeFindingsHandler(() => Promise.resolve({ sweeps: store }))(
      get('https://twinguard.azurewebsites.net/api/compliance/findings', {}, { format: 'csv', sweepId: 's-csv' }),
      context().context,
    );
    expect(init.status).toBe(503);
    expect(new Headers(init.headers).get('retry-after')).toBe('3');
  });
});
