import { readStandaloneSettings, StandaloneHost } from '../../host/standalone-host';
import type { FunctionRegistration } from '../../shared/triggers/register-functions';
import { silentLogger } from '../../shared/logger';

/** The standalone host's timer path: binding expression, then the NCRONTAB scheduler (no storage, no sockets). */
describe('StandaloneHost timers', () => {
  afterEach(() => jest.useRealTimers());

  const timer = (schedule: string, fired: string[]): FunctionRegistration => ({
    kind: 'timer',
    name: 'compliance-sweep',
    options: { schedule, handler: () => void fired.push(new Date().toISOString()) },
  });

  it('resolves a %SETTING% schedule before scheduling it, as the Functions host does', async () => {
    jest.useFakeTimers({ now: new Date('2026-11-23T00:00:00Z') });
    const fired: string[] = [];
    const env = { SWEEP_CRON: '0 0 0 13 * fri' };
    const host = new StandaloneHost({
      env,
      settings: readStandaloneSettings(env),
      logger: silentLogger,
      registrations: [timer('%SWEEP_CRON%', fired)],
    });
    await host.start();
    await jest.advanceTimersByTimeAsync(Date.parse('2027-08-14T00:00:00Z') - Date.now());
    expect(fired).toEqual(['2027-08-13T00:00:00.000Z']);
    await host.stop();
  });

  it('refuses to start when the schedule refers to a setting that is not defined', async () => {
    const host = new StandaloneHost({
      env: {},
      settings: readStandaloneSettings({}),
      logger: silentLogger,
      registrations: [timer('%SWEEP_CRON%', [])],
    });
    await expect(host.start()).rejects.toThrow('binding expression %SWEEP_CRON% refers to an app setting that is not defined');
  });

  it('refuses to start with a WEBSITE_TIME_ZONE other than UTC (schedules here are UTC)', async () => {
    const env = { WEBSITE_TIME_ZONE: 'W. Europe Standard Time' };
    const host = new StandaloneHost({
      env,
      settings: readStandaloneSettings(env),
      logger: silentLogger,
      registrations: [timer('0 0 2 * * *', [])],
    });
    await expect(host.start()).rejects.toThrow(
      'WEBSITE_TIME_ZONE is "W. Europe Standard Time", but timer schedules are evaluated in UTC here',
    );
  });
});
