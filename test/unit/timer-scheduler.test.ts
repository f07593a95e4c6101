import type { Timer } from '@azure/functions';
import { assertSchedulesInUtc, TimerScheduler } from '../../host/timer-scheduler';
import { silentLogger } from '../../shared/logger';

describe('TimerScheduler (standalone host)', () => {
  afterEach(() => jest.useRealTimers());

  it('fires 0 0 0 13 * 5 on Friday the 13th only, as Azure does, with the timer object Azure passes', async () => {
    jest.useFakeTimers({ now: new Date('2026-11-23T00:00:00Z') });
    const fired: { at: string; timer: Timer }[] = [];
    const scheduler = new TimerScheduler(
      [
        {
          functionName: 'friday-13',
          schedule: '0 0 0 13 * 5',
          handler: (timer: Timer) => {
            fired.push({ at: new Date().toISOString(), timer });
          },
        },
      ],
      silentLogger,
    );
    scheduler.start();
    // Past Friday 2026-11-27 (Vixie cron's OR would fire there) and on to the next Friday the 13th, 2027-08-13.
    await jest.advanceTimersByTimeAsync(Date.parse('2027-08-14T00:00:00Z') - Date.now());
    expect(fired.map((f) => f.at)).toEqual(['2027-08-13T00:00:00.000Z']);
    expect(fired[0]!.timer).toMatchObject({
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: { next: '2028-10-13T00:00:00.000Z' },
    });
    await scheduler.stop();
  });

  it('fires a 5-field schedule at second 0 of its minute', async () => {
    jest.useFakeTimers({ now: new Date('2026-11-23T10:00:00Z') });
    const fired: string[] = [];
    const scheduler = new TimerScheduler(
      [{ functionName: 'every-15', schedule: '*/15 * * * *', handler: () => void fired.push(new Date().toISOString()) }],
      silentLogger,
    );
    scheduler.start();
    await jest.advanceTimersByTimeAsync(31 * 60_000);
    expect(fired).toEqual(['2026-11-23T10:15:00.000Z', '2026-11-23T10:30:00.000Z']);
    await scheduler.stop();
  });

  it('refuses a bad schedule at construction, naming the function', () => {
    expect(
      () => new TimerScheduler([{ functionName: 'compliance-sweep', schedule: '0 0 0 * * 7', handler: () => undefined }], silentLogger),
    ).toThrow(
      'timer function compliance-sweep: the schedule is not a valid NCRONTAB expression: day-of-week: 7 is outside 0-6 (Sunday is 0)',
    );
  });
});

describe('assertSchedulesInUtc', () => {
  it.each([{}, { WEBSITE_TIME_ZONE: '' }, { WEBSITE_TIME_ZONE: 'UTC' }, { WEBSITE_TIME_ZONE: 'Etc/UTC' }, { TZ: 'Europe/Berlin' }])(
    'accepts %j',
    (env) => {
      expect(() => assertSchedulesInUtc(env)).not.toThrow();
    },
  );

  it.each(['Eastern Standard Time', 'America/New_York', 'GMT Standard Time'])('refuses WEBSITE_TIME_ZONE=%s', (zone) => {
    expect(() => assertSchedulesInUtc({ WEBSITE_TIME_ZONE: zone })).toThrow(
      `WEBSITE_TIME_ZONE is "${zone}", but timer schedules are evaluated in UTC here (and Flex Consumption does not support WEBSITE_TIME_ZONE): remove it and write COMPLIANCE_SWEEP_SCHEDULE in UTC`,
    );
  });
});
