/**
 * The request body stopped arriving before it was complete: the client went away (or the host cut off a connection
 * that trickled its body past the request timeout). Not a fault of ours: logged at info as "client aborted", never
 * as an error.
 */
export class ClientAbortedError extends Error {
  constructor(options: { cause?: unknown } = {}) {
    super('the client aborted the request before its body was complete', { cause: options.cause });
    this.name = 'ClientAbortedError';
  }
}
