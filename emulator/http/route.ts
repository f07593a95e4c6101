/** What the registry HTTP server dispatches: routes resolved from the method and path, answering a HandlerResult. */
import type { IncomingMessage } from 'node:http';
import type { OperationClass } from '../faults';
import { HubError } from '../registry/hub-error';
import type { Permission } from './shared-access-policy';

export interface HandlerResult {
  status: number;
  body?: unknown;
  /** The body already serialized (used instead of `body`). */
  json?: Buffer;
  headers?: Record<string, string>;
  /** Runs once the response has been handed to the socket. */
  afterSend?: () => void;
}

export interface ParsedRequest {
  method: string;
  segments: string[];
  /** The query string's parameters (api-version among them). */
  searchParams: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** Aborted when the client goes away before the answer (long-running handlers such as direct methods). */
  signal: AbortSignal;
}

/** Handlers answer synchronously, or asynchronously when they wait on something (a device, a job). */
export type Handler = (request: ParsedRequest) => HandlerResult | Promise<HandlerResult>;

export interface Route {
  /** Which fault-injection and throttling bucket the call counts against. */
  opClass: OperationClass;
  /** Any one of these rights admits the caller. */
  permissions: readonly Permission[];
  handle: Handler;
}

/** Resolves a route for a method and decoded path segments, or undefined when this family does not serve it. */
export type RouteResolver = (method: string, segments: readonly string[]) => Route | undefined;

export function header(request: { headers: IncomingMessage['headers'] }, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HubError(400, 'ArgumentInvalid', `${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HubError(400, 'ArgumentInvalid', 'The request path is not correctly URL-encoded');
  }
}

export const READ: readonly Permission[] = ['RegistryRead'];
export const WRITE: readonly Permission[] = ['RegistryWrite'];
