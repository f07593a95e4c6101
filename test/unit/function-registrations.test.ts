/**
 * Core Tools cannot be installed here, so what the host would check at start-up is checked
 * statically: every function registers with the options it should, host.json names the right
 * extension bundle, and every setting a trigger names exists in local.settings.sample.json.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

interface Registration {
  kind: string;
  name: string;
  options: Record<string, unknown>;
}

const root = path.join(__dirname, '..', '..');
const registrations: Registration[] = [];
const registrationFiles = new Map<string, string[]>();
const terminateHooks: Array<() => unknown> = [];

jest.mock('@azure/functions', () => {
  const actual = jest.requireActual<typeof import('@azure/functions')>('@azure/functions');
  const record =
    (kind: string) =>
    (name: string, options: Record<string, unknown>): void => {
      registrations.push({ kind, name, options });
    };
  return {
    ...actual,
    app: {
      ...actual.app,
      eventHub: record('eventHub'),
      http: record('http'),
      timer: record('timer'),
      storageQueue: record('storageQueue'),
      generic: record('generic'),
      hook: { ...actual.app.hook, appTerminate: (handler: () => unknown) => terminateHooks.push(handler) },
    },
  };
});

function loadFunctionModules(): void {
  const dir = path.join(root, 'functions');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const before = registrations.length;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- each module registers its functions on load
      require(path.join(dir, file));
    });
    registrationFiles.set(
      file,
      registrations.slice(before).map((registration) => registration.name),
    );
  }
}

const sample = JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
const hostJson = JSON.parse(readFileSync(path.join(root, 'host.json'), 'utf8')) as Record<string, unknown>;

describe('function registrations', () => {
  beforeAll(() => {
    const saved = { ...process.env };
    delete process.env['IOTHUB_EVENTS_CONSUMER_GROUP'];
    delete process.env['IOTHUB_EVENTS_NAME'];
    delete process.env['COMPLIANCE_SWEEP_SCHEDULE'];
    delete process.env['COMPLIANCE_SWEEP_QUEUE'];
    loadFunctionModules();
    process.env = saved;
  });

  it('registers one function per file, named after the file', () => {
    expect(registrationFiles.size).toBe(20);
    for (const [file, names] of registrationFiles) expect({ file, names }).toEqual({ file, names: [file.replace(/\.ts$/, '')] });
  });

  it('closes the service graph when the Functions host terminates the worker', () => {
    // Each module is loaded in isolation here, so each registers the hook once; a real worker shares one module registry.
    expect(terminateHooks).toHaveLength(registrationFiles.size);
  });

  it('registers the Event Hub trigger as a batch of byte bodies with a dedicated consumer group and a retry policy', () => {
    const trigger = registrations.find((r) => r.name === 'iothub-events');
    expect(trigger?.kind).toBe('eventHub');
    expect(trigger?.options).toMatchObject({
      connection: 'IOTHUB_EVENTS_CONNECTION',
      cardinality: 'many',
      // Bytes, not 'string': the host would decode binary bodies as UTF-8 with U+FFFD, losing them (defect 10).
      dataType: 'binary',
      consumerGroup: 'twinguard',
      eventHubName: '%IOTHUB_EVENTS_NAME%',
      retry: { strategy: 'exponentialBackoff', maxRetryCount: -1 },
    });
    expect(typeof trigger?.options['handler']).toBe('function');
  });

  it('registers the posture API with function-level auth', () => {
    const http = registrations.filter((r) => r.kind === 'http');
    expect(http.map((r) => [r.name, r.options['route'], r.options['authLevel'], r.options['methods']])).toEqual(
      expect.arrayContaining([
        ['device-posture', 'devices/{deviceId}/posture', 'function', ['GET']],
        ['device-posture-history', 'devices/{deviceId}/posture/history', 'function', ['GET']],
      ]),
    );
  });

  it('registers the compliance sweep: timer, shard queue and its HTTP API with function-level auth', () => {
    const timer = registrations.find((r) => r.name === 'compliance-sweep');
    expect(timer?.kind).toBe('timer');
    expect(timer?.options['schedule']).toBe('0 0 2 * * *');
    const queue = registrations.find((r) => r.name === 'sweep-shard');
    expect(queue?.kind).toBe('storageQueue');
    expect(queue?.options).toMatchObject({ queueName: 'twinguard-sweep-shards', connection: 'AzureWebJobsStorage' });
    const http = registrations.filter((r) => r.kind === 'http');
    expect(http.map((r) => [r.name, r.options['route'], r.options['authLevel'], r.options['methods']])).toEqual(
      expect.arrayContaining([
        ['sweeps-start', 'sweeps', 'function', ['POST']],
        ['sweeps-get', 'sweeps/{id}', 'function', ['GET']],
        ['compliance-summary', 'compliance', 'function', ['GET']],
        ['compliance-findings', 'compliance/findings', 'function', ['GET']],
        ['suppressions', 'suppressions', 'function', ['GET', 'POST']],
        ['suppressions-delete', 'suppressions/{id}', 'function', ['DELETE']],
      ]),
    );
  });

  it('names only settings that local.settings.sample.json defines', () => {
    for (const registration of registrations) {
      const connection = registration.options['connection'];
      if (typeof connection === 'string') expect(sample.Values).toHaveProperty([connection]);
      for (const value of Object.values(registration.options)) {
        if (typeof value !== 'string') continue;
        for (const [, setting] of value.matchAll(/%([A-Za-z0-9_]+)%/g)) expect(sample.Values).toHaveProperty([setting!]);
      }
    }
  });

  it('keeps every documented setting in local.settings.sample.json, without secrets', () => {
    const { SETTINGS } = jest.requireActual<typeof import('../../shared/config/settings-catalogue')>(
      '../../shared/config/settings-catalogue',
    );
    for (const setting of SETTINGS) expect(sample.Values).toHaveProperty([setting.name]);
    for (const value of Object.values(sample.Values)) expect(value).not.toMatch(/SharedAccessKey=[A-Za-z0-9+/]{20,}/);
  });

  it('has a host.json with the v4 extension bundle and Event Hubs batching', () => {
    expect(hostJson).toMatchObject({
      version: '2.0',
      extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' },
      extensions: { eventHubs: { maxEventBatchSize: 100, batchCheckpointFrequency: 1 } },
    });
  });

  it('points package.json main at the compiled function modules', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { main: string; type?: string };
    expect(pkg.main).toBe('dist/functions/*.js');
    expect(pkg.type ?? 'commonjs').toBe('commonjs');
  });
});
