/**
 * NCRONTAB schedules as Azure Functions timer triggers read them: six fields
 * `{second} {minute} {hour} {day} {month} {day-of-week}` (a five-field expression gets second 0),
 * each `*`, a value, a range `a-b`, a list `a,b`, or a step `*\/n` / `a-b/n`; months and days of
 * week also by three-letter name. Times are UTC (WEBSITE_TIME_ZONE is not supported here).
 */

export class ScheduleSyntaxError extends Error {}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day-of-week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

export interface Schedule {
  readonly expression: string;
  readonly seconds: ReadonlySet<number>;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  /** Both day fields restricted: cron matches either (standard cron semantics). */
  readonly dayOrWeekday: boolean;
}

function parseValue(text: string, field: Field): number {
  const lower = text.toLowerCase();
  const named = field.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + field.min;
  if (!/^\d+$/.test(text)) throw new ScheduleSyntaxError(`${field.name}: "${text}" is not a number${field.names ? ' or a name' : ''}`);
  const value = Number(text);
  // Day of week 7 means Sunday in most crons.
  if (field.name === 'day-of-week' && value === 7) return 0;
  if (value < field.min || value > field.max) throw new ScheduleSyntaxError(`${field.name}: ${value} is outside ${field.min}-${field.max}`);
  return value;
}

function parseField(text: string, field: Field): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1)
      throw new ScheduleSyntaxError(`${field.name}: step "${stepText}" must be a positive whole number`);
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      from = parseValue(a, field);
      to = parseValue(b, field);
      if (from > to) throw new ScheduleSyntaxError(`${field.name}: range ${range} runs backwards`);
    } else {
      from = parseValue(range, field);
      to = stepText === undefined ? from : field.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

export function parseSchedule(expression: string): Schedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length === 5) parts.unshift('0');
  if (parts.length !== 6) throw new ScheduleSyntaxError(`"${expression}" must have 6 fields (second minute hour day month day-of-week)`);
  const sets = parts.map((part, i) => parseField(part, FIELDS[i]!));
  return {
    expression,
    seconds: sets[0]!,
    minutes: sets[1]!,
    hours: sets[2]!,
    days: sets[3]!,
    months: sets[4]!,
    weekdays: sets[5]!,
    dayOrWeekday: parts[3] !== '*' && parts[5] !== '*',
  };
}

function dayMatches(schedule: Schedule, at: Date): boolean {
  const day = schedule.days.has(at.getUTCDate());
  const weekday = schedule.weekdays.has(at.getUTCDay());
  return schedule.dayOrWeekday ? day || weekday : day && weekday;
}

/** The first occurrence strictly after `after` (UTC), searching at most ~5 years ahead. */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!schedule.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0);
      continue;
    }
    if (!dayMatches(schedule, t)) {
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
  throw new ScheduleSyntaxError(`"${schedule.expression}" never fires`);
}
