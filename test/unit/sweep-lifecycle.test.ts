/** How sweeps end, pure parts: failure reasons, the trigger's dequeue count, stalled runs, retention, import outcomes. */
import { parseImportErrors } from '../../shared/adapters/iothub-import-jobs';
import { importOutcome, MAX_REPAIR_ERROR_CHARS, type FinishedImport } from '../../shared/domain/import-outcome';
import { mayDeleteRun, retentionCutoff } from '../../shared/domain/sweep-retention';
import { isStalled, lastActivityMs, STALLED_AFTER_MS } from '../../shared/domain/sweep-stall';
import type { SweepMessage } from '../../shared/ports/sweep-queue';
import { describeStep } from '../../shared/services/sweep/fail-sweep';
import { dequeueCountOf } from '../../shared/services/sweep/handle-sweep-delivery';

describe('sweep lifecycle', () => {
  it.each<[SweepMessage, string]>([
    [{ kind: 'plan', sweepId: 's' }, 'plan'],
    [{ kind: 'shard', sweepId: 's', shard: 3 }, 'shard 3'],
    [{ kind: 'finalize', sweepId: 's' }, 'finalize'],
    [{ kind: 'importJob', sweepId: 's', jobId: 'j-1' }, 'import job j-1'],
  ])('names the step of %j as %j', (message, step) => {
    expect(describeStep(message)).toBe(step);
  });

  it.each<[unknown, number | undefined]>([
    [5, 5],
    ['5', 5],
    [BigInt(2), 2],
    [undefined, undefined],
    [0, undefined],
    ['x', undefined],
    [1.5, undefined],
  ])('reads dequeueCount %p as %p', (value, expected) => {
    expect(dequeueCountOf(value === undefined ? {} : { dequeueCount: value })).toBe(expected);
    expect(dequeueCountOf(undefined)).toBeUndefined();
  });

  const started = '2026-11-23T02:00:00.000Z';
  const at = (minutes: number): string => new Date(Date.parse(started) + minutes * 60_000).toISOString();
  it.each<[string, { startedAt: string; updatedAt?: string }, { updatedAt: string }[], number, boolean]>([
    ['a run that just started', { startedAt: started }, [], 1, false],
    ['a run silent since it started', { startedAt: started }, [], 101, true],
    ['a run whose shard progressed lately', { startedAt: started }, [{ updatedAt: at(90) }, { updatedAt: at(0) }], 150, false],
    ['a run whose shards all went quiet', { startedAt: started }, [{ updatedAt: at(10) }, { updatedAt: at(20) }], 121, true],
    ['an import that heart-beats on the run row', { startedAt: started, updatedAt: at(300) }, [{ updatedAt: at(20) }], 310, false],
  ])('stalled: %s', (_name, run, shards, nowMinutes, stalled) => {
    expect(isStalled(run, shards, new Date(at(nowMinutes)))).toBe(stalled);
  });

  it('takes the newest of the run and its shards as the last activity', () => {
    expect(lastActivityMs({ startedAt: started, updatedAt: at(5) }, [{ updatedAt: at(7) }, { updatedAt: 'garbage' }])).toBe(
      Date.parse(at(7)),
    );
    expect(STALLED_AFTER_MS).toBe(100 * 60_000);
  });

  const now = new Date('2026-11-23T02:00:00Z');
  const cutoff = retentionCutoff(now, 90);
  it('cuts off 90 days back', () => {
    expect(cutoff.toISOString()).toBe('2026-08-25T02:00:00.000Z');
  });

  it.each<[string, { sweepId: string; status: string; startedAt: string }, boolean]>([
    ['an old completed run', { sweepId: 'a', status: 'completed', startedAt: '2026-08-01T00:00:00Z' }, true],
    ['an old failed run', { sweepId: 'b', status: 'failed', startedAt: '2026-08-25T01:59:59Z' }, true],
    ['a run started at the cutoff', { sweepId: 'c', status: 'completed', startedAt: '2026-08-25T02:00:00Z' }, false],
    ['an old run still running', { sweepId: 'd', status: 'running', startedAt: '2026-01-01T00:00:00Z' }, false],
    ['an old run still importing', { sweepId: 'e', status: 'importing', startedAt: '2026-01-01T00:00:00Z' }, false],
    ['the newest completed run, however old', { sweepId: 'keep', status: 'completed', startedAt: '2026-01-01T00:00:00Z' }, false],
    ['a run with an unreadable start', { sweepId: 'f', status: 'completed', startedAt: '' }, false],
  ])('retention: %s → delete %p', (_name, run, deletable) => {
    expect(mayDeleteRun(run, cutoff, new Set(['keep']))).toBe(deletable);
  });

  const job = (overrides: Partial<FinishedImport> = {}): FinishedImport => ({
    jobFailed: false,
    errors: new Map([['gone-1', 'DeviceNotFound: Device gone-1 not found']]),
    unattributedErrors: 0,
    ...overrides,
  });
  it.each<[string, string, FinishedImport, object]>([
    ['a device the job rejected', 'gone-1', job(), { repairResult: 'failed', repairError: 'DeviceNotFound: Device gone-1 not found' }],
    ['a device the job accepted', 'ok-1', job(), { repairResult: 'created' }],
    [
      'any device of a failed job',
      'ok-1',
      job({ jobFailed: true, failureReason: 'blob unreadable' }),
      { repairResult: 'failed', repairError: 'import job failed: blob unreadable' },
    ],
    [
      'an accepted device when some errors name no device',
      'ok-1',
      job({ unattributedErrors: 2 }),
      { repairResult: 'importUnconfirmed', repairError: 'the import job rejected 2 line(s) without naming their device' },
    ],
  ])('import outcome: %s', (_name, deviceId, finished, expected) => {
    expect(importOutcome(deviceId, finished)).toEqual(expected);
  });

  it('clips long import errors', () => {
    const outcome = importOutcome('x', job({ errors: new Map([['x', 'e'.repeat(5_000)]]) }));
    expect(outcome.repairError).toHaveLength(MAX_REPAIR_ERROR_CHARS);
  });

  it('reads importErrors.log lines as IoT Hub writes them', () => {
    expect(
      parseImportErrors(
        [
          '{"deviceId":"gone-1","moduleId":"DefenderIotMicroAgent","errorCode":"DeviceNotFound","errorStatus":"Device gone-1 not found"}',
          '{"errorCode":400012,"errorStatus":"Invalid device format in line: {}"}',
          '',
          '{"id":"legacy-1","errorCode":"ModuleAlreadyExistsOnDevice","errorStatus":"exists"}\r',
          'not json',
        ].join('\n'),
      ),
    ).toEqual([
      { deviceId: 'gone-1', message: 'DeviceNotFound: Device gone-1 not found' },
      { deviceId: '', message: '400012: Invalid device format in line: {}' },
      { deviceId: 'legacy-1', message: 'ModuleAlreadyExistsOnDevice: exists' },
      { deviceId: '', message: 'Error: not json' },
    ]);
  });
});
