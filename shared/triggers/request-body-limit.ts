/**
 * The largest request body any HTTP function accepts: 256 KiB. The API's bodies are small JSON objects (a sweep
 * request, a suppression whose selector is at most a few KiB), so anything near this size is a mistake or an attack.
 * Enforced by `readJsonBody` on the declared Content-Length and while reading (a chunked body is cut off too), by the
 * `httpHandler` wrapper on the declared Content-Length of every request, and by the standalone host as a backstop;
 * the same code in Azure Functions and in the standalone host. In Azure the host's own
 * `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` (100 MB by default) sits far above it.
 */
export const REQUEST_BODY_LIMIT_BYTES = 256 * 1024;
