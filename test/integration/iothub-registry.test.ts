import { IotHubEmulator } from '../../emulator';
import { IotHubDeviceRegistry } from '../../shared/adapters/iothub-registry';
import { TransientError } from '../../shared/errors';
import type { LogFields } from '../../shared/logger';
import { ODD_DEVICE_ID } from '../support/posture-store-contract';

let hub: IotHubEmulator;
const warnings: { message: string; fields?: LogFields }[] = [];

/** `sleep` replaces the retry waits (default: real ones). */
function adapter(retryBudgetMs = 5000, random = (): number => 0, sleep?: (ms: number) => Promise<void>): IotHubDeviceRegistry {
  return IotHubDeviceRegistry.fromSettings(
    { connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl },
    {
      retryBudgetMs,
      random,
      sleep,
      logger: {
        debug: () => undefined,
        info: () => undefined,
        error: () => undefined,
        warn: (message, fields) => warnings.push({ message, fields }),
      },
    },
  );
}

beforeAll(async () => {
  hub = await IotHubEmulator.start();
});
afterAll(async () => {
  await hub?.stop();
});
beforeEach(() => {
  hub.faults.reset();
  warnings.length = 0;
});

describe('IotHubDeviceRegistry against the emulator', () => {
  it('returns undefined for a missing module and twin, then creates, reports alreadyExists and deviceNotFound', async () => {
    hub.registry.createDevice({ deviceId: ODD_DEVICE_ID });
    const registry = adapter();
    await expect(registry.getModule(ODD_DEVICE_ID, 'DefenderIotMicroAgent')).resolves.toBeUndefined();
    await expect(registry.getModuleTwin(ODD_DEVICE_ID, 'DefenderIotMicroAgent')).resolves.toBeUndefined();
    await expect(registry.createModule(ODD_DEVICE_ID, 'DefenderIotMicroAgent', { type: 'sas' })).resolves.toBe('created');
    await expect(registry.createModule(ODD_DEVICE_ID, 'DefenderIotMicroAgent', { type: 'sas' })).resolves.toBe('alreadyExists');
    await expect(registry.createModule('no-such-device', 'DefenderIotMicroAgent', { type: 'sas' })).resolves.toBe('deviceNotFound');
    await expect(registry.getModule(ODD_DEVICE_ID, 'DefenderIotMicroAgent')).resolves.toMatchObject({
      deviceId: ODD_DEVICE_ID,
      moduleId: 'DefenderIotMicroAgent',
      authType: 'sas',
    });
    await expect(registry.getDevice(ODD_DEVICE_ID)).resolves.toMatchObject({ deviceId: ODD_DEVICE_ID, status: 'enabled' });

    const twin = await registry.getModuleTwin(ODD_DEVICE_ID, 'DefenderIotMicroAgent');
    expect(twin).toMatchObject({ deviceId: ODD_DEVICE_ID, moduleId: 'DefenderIotMicroAgent' });
    expect(Object.getPrototypeOf(twin)).toBe(Object.prototype);
    const updated = await registry.updateModuleDesired(
      ODD_DEVICE_ID,
      'DefenderIotMicroAgent',
      { Baseline_Disabled: true },
      twin?.etag ?? '*',
    );
    expect(updated?.desired.Baseline_Disabled).toBe(true);
  });

  it('retries a 429 storm, waiting at least Retry-After each time', async () => {
    hub.registry.createDevice({ deviceId: 'throttled-1' });
    hub.faults.throttleNext('registry', 2, 1);
    const slept: number[] = [];
    await expect(
      adapter(
        5000,
        () => 0,
        (ms) => {
          slept.push(ms);
          return Promise.resolve();
        },
      ).createModule('throttled-1', 'sec', { type: 'sas' }),
    ).resolves.toBe('created');
    expect(slept).toEqual([1000, 1000]); // Retry-After: 1, and random 0 adds no jitter
    expect(warnings.map((w) => [w.fields?.statusCode, w.fields?.delayMs])).toEqual([
      [429, 1000],
      [429, 1000],
    ]);
    expect(JSON.stringify(warnings)).not.toMatch(/SharedAccessKey|sig=/);
  });

  it('gives up with TransientError when 503s outlast the budget', async () => {
    hub.faults.failNext('registry', 50, 503);
    const error = await adapter(300, () => 0.99)
      .getModule('any', 'sec')
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).message).toMatch(/gave up after \d+ attempts/);
    expect((error as TransientError).statusCode).toBe(503);
  });

  it('pages a twin query with continuation tokens', async () => {
    for (let i = 0; i < 5; i += 1) {
      hub.registry.createDevice({ deviceId: `query-${i}` });
      hub.registry.createModule({ deviceId: `query-${i}`, moduleId: 'pager' });
    }
    const registry = adapter();
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await registry.queryTwins("SELECT * FROM devices.modules WHERE moduleId = 'pager'", 2, token);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((item) => String(item.deviceId)));
      token = page.continuationToken;
    } while (token);
    expect(seen).toEqual(['query-0', 'query-1', 'query-2', 'query-3', 'query-4']);
  });
});
