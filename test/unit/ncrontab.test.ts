import { nextOccurrence, parseSchedule, ScheduleSyntaxError } from '../../shared/domain/ncrontab';

const next = (expression: string, after: string): string => nextOccurrence(parseSchedule(expression), new Date(after)).toISOString();

describe('NCRONTAB schedules', () => {
  it.each([
    ['0 */5 * * * *', '2026-11-23T10:02:30Z', '2026-11-23T10:05:00.000Z'],
    ['0 0 2 * * *', '2026-11-23T10:02:30Z', '2026-11-24T02:00:00.000Z'],
    ['30 15 9 * * mon-fri', '2026-11-21T00:00:00Z', '2026-11-23T09:15:30.000Z'],
    ['0 0 0 1 jan *', '2026-11-23T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ['0 0 12 29 feb *', '2026-03-01T00:00:00Z', '2028-02-29T12:00:00.000Z'],
    ['*/10 * * * * *', '2026-11-23T10:00:09.999Z', '2026-11-23T10:00:10.000Z'],
    ['0 0 * * * 0', '2026-11-23T10:00:00Z', '2026-11-29T00:00:00.000Z'],
    ['0 0,30 8-9 * * *', '2026-11-23T08:30:00Z', '2026-11-23T09:00:00.000Z'],
    ['0 0 0 13 * 5', '2026-11-23T00:00:00Z', '2026-11-27T00:00:00.000Z'],
    ['*/15 * * * *', '2026-11-23T10:01:00Z', '2026-11-23T10:15:00.000Z'],
  ])('%s after %s is %s', (expression, after, expected) => {
    expect(next(expression, after)).toBe(expected);
  });

  it('fires strictly after the given instant', () => {
    expect(next('0 0 2 * * *', '2026-11-23T02:00:00Z')).toBe('2026-11-24T02:00:00.000Z');
  });

  it.each([
    ['0 0 2 * *  * *', /must have 6 fields/],
    ['60 * * * * *', /second: 60 is outside 0-59/],
    ['0 0 25 * * *', /hour: 25 is outside 0-23/],
    ['0 0 0 * foo *', /month: "foo" is not a number or a name/],
    ['0 */0 * * * *', /minute: step "0" must be a positive whole number/],
    ['0 10-5 * * * *', /minute: range 10-5 runs backwards/],
    ['0 0 0 31 feb *', /never fires/],
  ])('rejects %s', (expression, message) => {
    expect(() => next(expression, '2026-11-23T00:00:00Z')).toThrow(ScheduleSyntaxError);
    expect(() => next(expression, '2026-11-23T00:00:00Z')).toThrow(message);
  });
});
