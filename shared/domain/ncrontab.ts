/**
 * NCRONTAB schedules exactly as the Azure Functions timer trigger evaluates them, so the standalone host fires
 * at the same instants as Azure and config validation accepts only what both run.
 *
 * Confirmed in the sources (atifaziz/NCrontab `CrontabSchedule.cs`, `CrontabFieldImpl.cs`, `CrontabField.cs`;
 * Azure/azure-webjobs-sdk-extensions `Timers/Scheduling/CronSchedule.cs`, `TimerSchedule.cs`):
 * - Fields are split on spaces only (`expression.Split(' ', RemoveEmptyEntries)`). The timer extension's
 *   `CronSchedule.HasSeconds` parses with `IncludingSeconds` unless there are exactly 5 fields, so 6 fields are
 *   `{second} {minute} {hour} {day} {month} {day-of-week}` and 5 are `{minute} {hour} {day} {month}
 *   {day-of-week}` firing at second 0; any other count is an error.
 * - Per field: `*`, a value, `a-b`, a list `x,y`, and steps `*\/n`, `a-b/n` and `a/n`, where `a/n` means
 *   a through the field's maximum every n (`CrontabFieldImpl.InternalParse`: `acc(value, MaxValue, every)`;
 *   NCrontab's own test `2/5 * * * * *` fires at :02, :07, … :57).
 * - Months and days of week also by English name, case-insensitive, any prefix of the full name
 *   (`CompareInfo.IsPrefix(name, text, IgnoreCase)`: `Jan`, `january`, `Augu`). Day of week is 0–6 with
 *   Sunday 0; 7 is out of range (`DayOfWeek = new(…, 0, 6, …)`).
 * - Day of month AND day of week must both match: `TryGetNextOccurrence` picks the date from the day and month
 *   fields, then returns it only if `daysOfWeek.Contains(nextTime.DayOfWeek)`, else retries from 23:59:59 that
 *   day (NCrontab's test `45 16 1 * Mon` after 2003-01-01 is 2003-09-01, the next 1st that is a Monday). So
 *   `0 0 0 13 * 5` is Friday the 13th only, not Vixie cron's "the 13th or any Friday".
 * - The next occurrence is strictly after the base time, at whole seconds (`second = baseSecond + 1`).
 *
 * Stricter than NCrontab, on purpose (each is accepted there but almost certainly a mistake; rejecting it
 * never changes when an accepted expression fires): a backwards range `22-2` (NCrontab silently reads 2-22),
 * a step of 0 or a signed step (read as 1), a name of fewer than three letters (`m` would be March), a value
 * beyond a 32-bit integer (NCrontab throws an unhandled OverflowException), and an expression that never fires
 * (`0 0 0 31 feb *`, which NCrontab runs to year 9999 and returns DateTime.MaxValue for).
 *
 * Time zone: UTC only. NCrontab works on the host's local time, which Azure sets from WEBSITE_TIME_ZONE on
 * Windows and Linux Premium/Dedicated plans only; Flex Consumption (infra/azuredeploy.json) supports neither
 * WEBSITE_TIME_ZONE nor TZ, so TwinGuard's schedules are UTC everywhere (the standalone host refuses a
 * WEBSITE_TIME_ZONE other than UTC, see host/timer-scheduler.ts).
 *
 * Libraries considered and not used (tried croner 11.0.0 and cron-parser 5.10.5, both pure JavaScript):
 * cron-parser ORs the day fields (`0 0 0 13 * 5` → next Friday); croner with `domAndDow` ANDs them but
 * rejects `a/n` and full names (`January`), and accepts what Azure rejects (day of week 7, a 7th year field,
 * `?`, `L`, `@daily`). Neither matches, so this file implements the semantics itself.
 */

export class ScheduleSyntaxError extends Error {}

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const SECOND: Field = { name: 'second', min: 0, max: 59 };
const FIELDS: readonly Field[] = [
  SECOND,
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'],
  },
  { name: 'day-of-week', min: 0, max: 6, names: ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] },
];

/** Largest value .NET's int.Parse takes; NCrontab overflows beyond it. */
const INT32_MAX = 2 ** 31 - 1;

/** Days each month can have (February 29 in leap years). */
const MAX_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export interface Schedule {
  readonly expression: string;
  /** False for a 5-field expression, which fires at second 0. */
  readonly includesSeconds: boolean;
  readonly seconds: ReadonlySet<number>;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
}

function rangeText(field: Field): string {
  return field.name === 'day-of-week' ? '0-6 (Sunday is 0)' : `${field.min}-${field.max}`;
}

function parseValue(text: string, field: Field, item: string): number {
  if (text === '') throw new ScheduleSyntaxError(`${field.name}: "${item}" has an empty value`);
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < field.min || value > field.max) throw new ScheduleSyntaxError(`${field.name}: ${text} is outside ${rangeText(field)}`);
    return value;
  }
  if (field.names && /^[A-Za-z]+$/.test(text)) {
    const lower = text.toLowerCase();
    const index = field.names.findIndex((name) => name.startsWith(lower));
    if (index >= 0 && text.length >= 3) return index + field.min;
    if (index >= 0)
      throw new ScheduleSyntaxError(
        `${field.name}: "${text}" is too short; use a three-letter name such as "${field.names[index]!.slice(0, 3)}"`,
      );
    throw new ScheduleSyntaxError(`${field.name}: "${text}" is not a ${field.name === 'month' ? 'month' : 'day'} name`);
  }
  if (/\s/.test(text)) throw new ScheduleSyntaxError(`${field.name}: "${item}" contains a tab or line break; separate fields with spaces`);
  throw new ScheduleSyntaxError(`${field.name}: "${text}" is not a number${field.names ? ' or a name' : ''}`);
}

function parseStep(text: string, field: Field): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > INT32_MAX)
    throw new ScheduleSyntaxError(`${field.name}: step "${text}" must be a whole number from 1`);
  return Number(text);
}

/** One comma-separated item: `*`, `v`, `a-b`, each optionally `/step` (NCrontab looks for the step first). */
function addItem(item: string, field: Field, values: Set<number>): void {
  const slash = item.indexOf('/');
  const base = slash > 0 ? item.slice(0, slash) : item;
  const step = slash > 0 ? parseStep(item.slice(slash + 1), field) : undefined;
  let from: number;
  let to: number;
  if (base === '*') {
    from = field.min;
    to = field.max;
  } else if (base.indexOf('-') > 0) {
    const dash = base.indexOf('-');
    from = parseValue(base.slice(0, dash), field, item);
    to = parseValue(base.slice(dash + 1), field, item);
    if (from > to)
      throw new ScheduleSyntaxError(
        `${field.name}: range ${base} runs backwards (NCrontab would read it as ${to}-${from}; list both ends for a range that wraps, e.g. 22-23,0-2)`,
      );
  } else {
    from = parseValue(base, field, item);
    to = step === undefined ? from : field.max;
  }
  for (let v = from; v <= to; v += step ?? 1) values.add(v);
}

function parseField(text: string, field: Field): Set<number> {
  const values = new Set<number>();
  // NCrontab splits on commas only when one follows the first character; a leading comma is a bad value.
  const items = text.indexOf(',') > 0 ? text.split(',') : [text];
  for (const item of items) {
    if (item === '') throw new ScheduleSyntaxError(`${field.name}: "${text}" has an empty list item`);
    addItem(item, field, values);
  }
  return values;
}

/** Whether some date matches the day, month and day-of-week fields (every weekday recurs on each date). */
function everFires(days: ReadonlySet<number>, months: ReadonlySet<number>): boolean {
  for (const month of months) for (const day of days) if (day <= MAX_DAYS_IN_MONTH[month - 1]!) return true;
  return false;
}

/**
 * Parses a 6-field (seconds first) or 5-field NCRONTAB expression as the Functions timer trigger does.
 * @throws ScheduleSyntaxError naming the field and what is wrong with it.
 */
export function parseSchedule(expression: string): Schedule {
  const parts = expression.split(' ').filter((part) => part !== '');
  if (parts.length !== 5 && parts.length !== 6)
    throw new ScheduleSyntaxError(
      `"${expression}" has ${parts.length} field${parts.length === 1 ? '' : 's'}; NCRONTAB takes 6 (second minute hour day month day-of-week) or 5 (minute hour day month day-of-week, at second 0)`,
    );
  const includesSeconds = parts.length === 6;
  const fields = includesSeconds ? FIELDS : FIELDS.slice(1);
  const sets = parts.map((part, i) => parseField(part, fields[i]!));
  if (!includesSeconds) sets.unshift(new Set([SECOND.min]));
  const [seconds, minutes, hours, days, months, weekdays] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  if (!everFires(days, months)) throw new ScheduleSyntaxError(`"${expression}" never fires: no month in it has any of its days`);
  return { expression, includesSeconds, seconds, minutes, hours, days, months, weekdays };
}

/** Gregorian dates repeat their weekdays every 400 years; a valid schedule fires well within one cycle. */
const SEARCH_LIMIT_MS = 401 * 366 * 86_400_000;

/** The first occurrence strictly after `after`, in UTC and at a whole second, as NCrontab computes it. */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + SEARCH_LIMIT_MS;
  while (t.getTime() <= limit) {
    if (!schedule.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0);
      continue;
    }
    // Both day fields must match (see the file comment): NCrontab's AND, not Vixie cron's OR.
    if (!schedule.days.has(t.getUTCDate()) || !schedule.weekdays.has(t.getUTCDay())) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0);
      continue;
    }
    if (!schedule.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0);
      continue;
    }
    if (!schedule.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0);
      continue;
    }
    if (!schedule.seconds.has(t.getUTCSeconds())) {
      t.setUTCSeconds(t.getUTCSeconds() + 1);
      continue;
    }
    return t;
  }
  // Unreachable for a schedule parseSchedule accepted (it checks that some date matches).
  throw new ScheduleSyntaxError(`"${schedule.expression}" never fires`);
}
