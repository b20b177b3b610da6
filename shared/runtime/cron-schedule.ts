import { CronExpressionParser } from 'cron-parser';

/**
 * Cron schedules in an IANA time zone: validation and slots (the most recent scheduled time at
 * or before a moment, the next one after it). Shared by rotation policies and by the backup
 * freshness that verify-restore and status judge against the backup CronJob's schedule.
 *
 * Daylight saving time, schedule in a zone that observes it: a wall-clock time skipped when
 * clocks go forward does not occur that day; a wall-clock time that occurs twice when they go
 * back is one slot, except for schedules whose hour field is `*`, for which both instants are
 * slots (an hourly job runs every real hour, as Vixie cron does).
 */

export interface CronTrigger {
  kind: 'schedule';
  cron: string;
  timeZone: string;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** True for an IANA time zone name this runtime knows (`UTC`, `Europe/Berlin`). */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The 5-field form of an expression (macros expanded); throws Error with a readable message. */
export function normaliseCron(expression: string): string {
  const text = expression.trim();
  if (/^(CRON_)?TZ=/i.test(text)) throw new Error('time zone prefixes are not supported in the expression; use the timeZone field');
  if (text.startsWith('@')) {
    const macro = MACROS[text.toLowerCase()];
    if (macro === undefined) throw new Error(`unknown macro ${text} (known: ${Object.keys(MACROS).join(', ')})`);
    return macro;
  }
  const fields = text.split(/\s+/);
  if (fields.length === 6) throw new Error('expected 5 fields (minute hour day-of-month month day-of-week); seconds are not supported');
  if (fields.length !== 5) throw new Error(`expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  const withoutNames = fields.join(' ').replace(/\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)\b/gi, '');
  if (/h/i.test(withoutNames)) throw new Error('the H (hash) character is not supported');
  return fields.join(' ');
}

/** Problem with a cron expression and time zone, or undefined when both are usable. */
export function cronProblem(expression: string, timeZone: string): { field: 'schedule' | 'timeZone'; message: string } | undefined {
  if (!isValidTimeZone(timeZone))
    return { field: 'timeZone', message: `unknown time zone "${timeZone}" (expected an IANA name such as UTC or Europe/Berlin)` };
  try {
    const cron = normaliseCron(expression);
    CronExpressionParser.parse(cron, { tz: timeZone, currentDate: new Date(0) }).next();
  } catch (e) {
    return { field: 'schedule', message: `invalid cron expression "${expression}": ${(e as Error).message}` };
  }
  return undefined;
}

function localLabel(d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(d);
}

/** The most recent slot at or before `now`; undefined when the expression has none. */
export function latestSlot(t: CronTrigger, now: Date): Date | undefined {
  const cron = normaliseCron(t.cron);
  const it = CronExpressionParser.parse(cron, { tz: t.timeZone, currentDate: new Date(now.getTime() + 1) });
  let slot: Date;
  try {
    slot = it.prev().toDate();
  } catch {
    return undefined;
  }
  if (cron.split(' ')[1] === '*') return slot;
  // A wall-clock time repeated when clocks go back is one slot: its first instant.
  try {
    const before = it.prev().toDate();
    if (slot.getTime() - before.getTime() <= 3_600_000 && localLabel(before, t.timeZone) === localLabel(slot, t.timeZone)) return before;
  } catch {
    // no earlier slot
  }
  return slot;
}

/** The first slot strictly after `after` (skipping the repeat of a wall-clock time). */
export function nextSlot(t: CronTrigger, after: Date): Date | undefined {
  const cron = normaliseCron(t.cron);
  const it = CronExpressionParser.parse(cron, { tz: t.timeZone, currentDate: after });
  try {
    const first = it.next().toDate();
    if (cron.split(' ')[1] === '*') return first;
    const latest = latestSlot(t, first);
    if (latest !== undefined && latest.getTime() <= after.getTime()) return it.next().toDate();
    return first;
  } catch {
    return undefined;
  }
}
