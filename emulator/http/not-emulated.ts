/**
 * The answer to any request no route serves: a hub-shaped error that says the emulator does not support it and names
 * the construct, never a bare 404 (azure-iothub turns a 404 whose code is not DeviceNotFound/IotHubNotFound into an
 * `Error('Not found')` and drops the message, dist/common-http/rest_api_client.js `translateError`).
 *
 * Status 501 with ErrorCode `NotImplemented`: the SDK maps an unlisted status to `new Error(<message>)`, so the text
 * reaches the caller, and 501 is HTTP's "the server does not support the functionality". The body's message is cut
 * at the first `;` by the SDK (`Http.parseErrorBody`), so paths are shown with `;` escaped.
 */
import { HubError } from '../registry/hub-error';

/** Known IoT Hub service API families the emulator does not implement, by first path segment (or a later one). */
const FAMILIES: ReadonlyArray<{ matches: (segments: readonly string[]) => boolean; name: string }> = [
  { matches: (s) => s[0] === 'digitaltwins', name: 'The digital twins (IoT Plug and Play) API' },
  { matches: (s) => s[0] === 'statistics', name: 'Registry and service statistics' },
  { matches: (s) => s[0] === 'configurations', name: 'This configurations (automatic device management) call' },
  { matches: (s) => s[0] === 'files', name: 'File upload' },
  {
    matches: (s) => s[0] === 'messages',
    name: 'Cloud-to-device messaging (service side: devicebound messages, feedback, file notifications)',
  },
  { matches: (s) => s[0] === 'twins' && s.includes('methods'), name: 'Direct methods' },
  { matches: (s) => s[0] === 'devices' && s.includes('messages'), name: 'The HTTPS device endpoint' },
  { matches: (s) => s[0] === 'devices' && s.includes('files'), name: 'File upload' },
  { matches: (s) => s[0] === 'jobs' && s[1] === 'v2', name: 'This scheduled jobs call' },
  { matches: (s) => s[0] === 'jobs', name: 'This import/export jobs call' },
  { matches: (s) => s[0] === 'devices' && s[1] === 'query', name: 'This query call' },
  { matches: (s) => s[0] === 'devices' || s[0] === 'twins', name: 'This registry call' },
];

/** The error for `method rawPath` when no route serves it. */
export function notEmulatedError(method: string, rawPath: string, segments: readonly string[]): HubError {
  const shown = `${method} ${rawPath.replace(/;/g, '%3B')}`;
  const family = FAMILIES.find((f) => f.matches(segments));
  const text = family
    ? `${family.name} (${shown}) is not supported by the IoT Hub emulator`
    : `${shown} is not supported by the IoT Hub emulator`;
  return new HubError(501, 'NotImplemented', text);
}
