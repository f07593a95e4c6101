/** A registry failure with the IoT Hub error code and HTTP status the real service uses. */
export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** The 412 an If-Match that is neither `*` nor the current etag gets. */
export function preconditionFailed(): HubError {
  return new HubError(412, 'PreconditionFailed', 'Precondition failed: the etag does not match the current version');
}
