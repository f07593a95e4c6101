import { randomBytes } from 'node:crypto';

/** IoT Hub's error body: `{"Message":"ErrorCode:<Code>;<text>","ExceptionMessage":"Tracking ID:…"}`, as the SDKs parse it. */
export function hubErrorBody(code: string, message: string): string {
  const trackingId = randomBytes(16).toString('hex');
  return JSON.stringify({
    Message: `ErrorCode:${code};${message}`,
    ExceptionMessage: `Tracking ID:${trackingId}-G:0-TimeStamp:${new Date().toISOString()}`,
  });
}
