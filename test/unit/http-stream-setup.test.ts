/**
 * `app.setup({ enableHttpStream: true })` runs once per worker, before anything registers (the library throws if
 * setup comes after start-up), and never in the standalone host, which streams bodies itself. The Functions host
 * cannot run here, so the calls on `app` are recorded (as in function-registrations.test.ts).
 */
import * as path from 'node:path';

const calls: string[] = [];

jest.mock('@azure/functions', () => {
  const actual = jest.requireActual<typeof import('@azure/functions')>('@azure/functions');
  const record =
    (kind: string) =>
    (name: string): void =>
      void calls.push(`${kind}:${name}`);
  return {
    ...actual,
    app: {
      ...actual.app,
      setup: (options: { enableHttpStream?: boolean }) => void calls.push(`setup:${JSON.stringify(options)}`),
      eventHub: record('eventHub'),
      http: record('http'),
      timer: record('timer'),
      storageQueue: record('storageQueue'),
      hook: { ...actual.app.hook, appTerminate: () => void calls.push('hook:appTerminate') },
    },
  };
});

const functionsDir = path.join(__dirname, '..', '..', 'functions');

beforeEach(() => {
  calls.length = 0;
});

it('enables HTTP streaming once, before the first registration, when the function modules load under Azure Functions', () => {
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- modules register on load
    require(path.join(functionsDir, 'compliance-sweep'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(path.join(functionsDir, 'compliance-findings'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(path.join(functionsDir, 'suppressions'));
  });
  expect(calls[0]).toBe('setup:{"enableHttpStream":true}');
  expect(calls.filter((c) => c.startsWith('setup:'))).toHaveLength(1);
  expect(calls).toEqual(expect.arrayContaining(['http:compliance-findings', 'http:suppressions', 'timer:compliance-sweep']));
});

it('does not call app.setup in the standalone host', () => {
  jest.isolateModules(() => {
    type Registration = typeof import('../../shared/triggers/register-functions');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const registration = require('../../shared/triggers/register-functions') as Registration;
    const { hostOutsideAzureFunctions } = registration;
    hostOutsideAzureFunctions();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(path.join(functionsDir, 'compliance-findings'));
  });
  expect(calls).toEqual([]);
});
