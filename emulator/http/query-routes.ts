/**
 * `POST /devices/query`: twin queries in pages (`x-ms-max-item-count`, `x-ms-continuation`), with query read-ahead:
 * after a page with a continuation token is sent, the next page is computed and serialized in the background, so
 * the server works while the client parses. It is served only for the identical request (query text, page size,
 * token) and only while `registry.revision` is unchanged since it was computed, so responses are byte-for-byte what
 * the request would have produced.
 */
import { HubError } from '../registry/hub-error';
import type { HubRegistry } from '../registry/hub-registry';
import { asRecord, header, type HandlerResult, type ParsedRequest, type Route, type RouteResolver } from './route';

const MAX_PAGE_SIZE = 10_000;
const DEFAULT_PAGE_SIZE = 100;
/** Query cursors whose next page is kept ready (each holds one serialized page, at most ~12 MB at 10,000 rows). */
const READ_AHEAD_CURSORS = 4;

/** A query page serialized ahead of its request. */
interface ReadAheadPage {
  revision: number;
  json: Buffer;
  continuationToken?: string;
}

function readAheadKey(text: string, pageSize: number, continuationToken: string): string {
  return `${pageSize}\n${continuationToken}\n${text}`;
}

export class QueryRoutes {
  /** Read-ahead pages by request key, oldest first; and the read-aheads scheduled but not yet run. */
  private readonly readAhead = new Map<string, ReadAheadPage>();
  private readonly readAheadPending = new Map<string, NodeJS.Immediate>();
  private stopped = false;

  constructor(
    private readonly registry: HubRegistry,
    private readonly readAheadEnabled: boolean,
  ) {}

  readonly resolve: RouteResolver = (method, segments): Route | undefined => {
    const [root, id, sub] = segments;
    if (root === 'devices' && id === 'query' && sub === undefined && method === 'POST' && segments.length === 2)
      return { opClass: 'query', permissions: ['ServiceConnect', 'RegistryRead'], handle: (r) => this.query(r) };
    return undefined;
  };

  stop(): void {
    this.stopped = true;
    for (const immediate of this.readAheadPending.values()) clearImmediate(immediate);
    this.readAheadPending.clear();
    this.readAhead.clear();
  }

  private query(request: ParsedRequest): HandlerResult {
    const body = asRecord(request.body, 'The query request');
    if (typeof body.query !== 'string' || body.query.trim() === '')
      throw new HubError(400, 'ArgumentInvalid', 'The request body needs a "query" string');
    const rawSize = header(request, 'x-ms-max-item-count');
    let pageSize = DEFAULT_PAGE_SIZE;
    if (rawSize !== undefined) {
      pageSize = Number(rawSize);
      if (!Number.isInteger(pageSize) || pageSize < 1)
        throw new HubError(400, 'ArgumentInvalid', `x-ms-max-item-count '${rawSize}' must be a positive integer`);
      pageSize = Math.min(pageSize, MAX_PAGE_SIZE);
    }
    const text = body.query;
    const page =
      this.takeReadAhead(text, pageSize, header(request, 'x-ms-continuation')) ??
      this.queryPage(text, pageSize, header(request, 'x-ms-continuation'));
    const headers: Record<string, string> = { 'x-ms-item-type': 'Twin' };
    const next = page.continuationToken;
    if (next === undefined) return { status: 200, json: page.json, headers };
    headers['x-ms-continuation'] = next;
    return {
      status: 200,
      json: page.json,
      headers,
      afterSend: this.readAheadEnabled ? () => this.scheduleReadAhead(text, pageSize, next) : undefined,
    };
  }

  /** Runs and serializes one query page. @throws QuerySyntaxError, HubError. */
  private queryPage(text: string, pageSize: number, continuationToken: string | undefined): ReadAheadPage {
    const revision = this.registry.revision;
    const page = this.registry.query(text, pageSize, continuationToken);
    return { revision, json: Buffer.from(JSON.stringify(page.items), 'utf8'), continuationToken: page.continuationToken };
  }

  /** The read-ahead page for exactly this request if the registry has not changed since; consumes it. */
  private takeReadAhead(text: string, pageSize: number, continuationToken: string | undefined): ReadAheadPage | undefined {
    if (continuationToken === undefined) return undefined;
    const key = readAheadKey(text, pageSize, continuationToken);
    // The request overtook its own read-ahead: cancel it and compute the page now.
    const pending = this.readAheadPending.get(key);
    if (pending) {
      clearImmediate(pending);
      this.readAheadPending.delete(key);
    }
    const page = this.readAhead.get(key);
    if (!page) return undefined;
    this.readAhead.delete(key);
    return page.revision === this.registry.revision ? page : undefined;
  }

  /** Computes the page after `continuationToken` on a later loop turn, keeping at most READ_AHEAD_CURSORS. */
  private scheduleReadAhead(text: string, pageSize: number, continuationToken: string): void {
    if (this.stopped) return;
    const key = readAheadKey(text, pageSize, continuationToken);
    if (this.readAheadPending.has(key) || this.readAhead.has(key)) return;
    const immediate = setImmediate(() => {
      this.readAheadPending.delete(key);
      let page: ReadAheadPage;
      try {
        page = this.queryPage(text, pageSize, continuationToken);
      } catch {
        return; // The request itself will compute the page again and answer with the error.
      }
      // Pages computed before a change can never be served again; drop them along with the oldest cursors.
      for (const [other, ready] of this.readAhead) if (ready.revision !== page.revision) this.readAhead.delete(other);
      this.readAhead.set(key, page);
      for (const oldest of this.readAhead.keys()) {
        if (this.readAhead.size <= READ_AHEAD_CURSORS) break;
        this.readAhead.delete(oldest);
      }
    });
    this.readAheadPending.set(key, immediate);
  }
}
