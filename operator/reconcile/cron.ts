/**
 * Cron schedules for DynamoScheduledBackup, in UTC: five fields (minute hour day-of-month month day-of-week) with `*`,
 * numbers, names (JAN-DEC, SUN-SAT), ranges `a-b`, steps `*\/n` and `a-b/n`, and lists; or a macro (@hourly, @daily,
 * @midnight, @weekly, @monthly, @yearly, @annually). As in cron, when both day fields are restricted a day matching
 * either one runs. Pure, so the schedule is tested without a clock.
 */
export class CronError extends Error {
  readonly code = "invalid_schedule";
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

export interface CronSchedule {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Whether day-of-month and day-of-week were both restricted (not `*`): then either one matching is enough. */
  eitherDay: boolean;
}

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** The value names count from (1 for months, 0 for days). */
  namesFrom?: number;
}

const FIELDS: FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_NAMES, namesFrom: 1 },
  // 7 is Sunday too, as in most crons.
  { name: "day-of-week", min: 0, max: 7, names: DAY_NAMES, namesFrom: 0 },
];

function value(text: string, field: FieldSpec): number {
  const byName = field.names?.indexOf(text.toUpperCase()) ?? -1;
  const n = byName >= 0 ? byName + (field.namesFrom ?? 0) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < field.min || n > field.max) throw new CronError(`${field.name} '${text}' is not a value from ${field.min} to ${field.max}`);
  return n;
}

function parseField(text: string, field: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [range, stepText, extra] = part.split("/");
    if (extra !== undefined || range === undefined || range === "") throw new CronError(`${field.name} '${text}' is not a cron field`);
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) && Number(stepText) > 0 ? Number(stepText) : NaN;
    if (!Number.isFinite(step)) throw new CronError(`${field.name} '${text}': the step must be a whole number above 0`);
    let from: number;
    let to: number;
    if (range === "*") {
      [from, to] = [field.min, field.max];
    } else if (range.includes("-")) {
      const [a, b] = range.split("-");
      from = value(a ?? "", field);
      to = value(b ?? "", field);
      if (from > to) throw new CronError(`${field.name} '${text}': the range runs backwards`);
    } else {
      from = value(range, field);
      to = stepText === undefined ? from : field.max;
    }
    for (let v = from; v <= to; v += step) out.add(field.name === "day-of-week" && v === 7 ? 0 : v);
  }
  return out;
}

export function parseCron(expression: string): CronSchedule {
  const text = MACROS[expression.trim().toLowerCase()] ?? expression.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new CronError(`'${expression}' is not five cron fields (minute hour day-of-month month day-of-week) or a macro such as @daily`);
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(p, FIELDS[i]!)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  return { minutes, hours, days, months, weekdays, eitherDay: parts[2] !== "*" && parts[4] !== "*" };
}

function dayMatches(s: CronSchedule, date: Date): boolean {
  const dom = s.days.has(date.getUTCDate());
  const dow = s.weekdays.has(date.getUTCDay());
  return s.eitherDay ? dom || dow : dom && dow;
}

/** Five years of days: a schedule that never fires within them (30 February) never will. */
const SEARCH_DAYS = 5 * 366;

/** The first time strictly after `afterMs` (to the minute) the schedule fires. */
export function nextCronTime(schedule: CronSchedule, afterMs: number): number {
  const t = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
  const limit = afterMs + SEARCH_DAYS * 86_400_000;
  while (t.getTime() <= limit) {
    if (!schedule.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(schedule, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!schedule.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!schedule.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else {
      return t.getTime();
    }
  }
  throw new CronError("the schedule never fires");
}

/** The last time after `sinceMs` and at or before `nowMs` the schedule fired, or undefined when it has not. */
export function lastDueTime(schedule: CronSchedule, sinceMs: number, nowMs: number): number | undefined {
  // The last day first (at most 1440 fires); only a schedule that fires less than daily needs to look further back,
  // and it fires few times in any span.
  const recent = latestFire(schedule, Math.max(sinceMs, nowMs - 86_400_000), nowMs, 24 * 60 + 1);
  if (recent !== undefined || sinceMs >= nowMs - 86_400_000) return recent;
  return latestFire(schedule, sinceMs, nowMs, 100_000);
}

function latestFire(schedule: CronSchedule, fromMs: number, nowMs: number, steps: number): number | undefined {
  let due: number | undefined;
  let t = fromMs;
  for (let i = 0; i < steps; i++) {
    let next: number;
    try {
      next = nextCronTime(schedule, t);
    } catch {
      return due;
    }
    if (next > nowMs) return due;
    due = next;
    t = next;
  }
  return due;
}
