import { CronExpressionParser } from 'cron-parser';
import { formatDuration } from '../config/options.js';
import { type LastOutcome, parseLastOutcome } from './metadata.js';

/**
 * When a Secret is due. A policy has one trigger: a cron `schedule` (in an IANA time zone,
 * UTC by default) or a `maxAge`. Due-ness is computed from what we recorded on the Secret:
 *
 * - schedule: due when the last rotation (creation time if never) is older than the most
 *   recent scheduled time at or before now (the "slot"). A slot is satisfied once: a second
 *   run for the same slot (CronJobs are at-least-once) finds it done.
 * - maxAge: due when the last rotation (or creation) is at least `maxAge` ago.
 * - `rotate-now` (any value) makes the Secret due whatever the trigger says.
 * - After a rollback the Secret is held until the next slot (schedule) or until `maxAge` has
 *   passed since that attempt, so a broken consumer does not get a restart every run;
 *   `rotate-now` retries at once.
 *
 * Daylight saving time, schedule in a zone that observes it: a wall-clock time skipped when
 * clocks go forward does not occur that day; a wall-clock time that occurs twice when they go
 * back is one slot (rotated once), except for schedules whose hour field is `*`, for which
 * both instants are slots (an hourly job runs every real hour, as Vixie cron does).
 */

export interface CronTrigger {
  kind: 'schedule';
  cron: string;
  timeZone: string;
}

export interface MaxAgeTrigger {
  kind: 'max-age';
  maxAgeMs: number;
}

export type Trigger = CronTrigger | MaxAgeTrigger;

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

/** What we recorded about a Secret's rotations (from its annotations). */
export interface RotationRecord {
  created: Date;
  lastRotated?: Date;
  lastSlot?: string;
  lastOutcome?: LastOutcome;
  /** Value of `rotate-now`, when present. */
  rotateNow?: string;
}

export function rotationRecord(meta: { creationTimestamp?: Date | string; annotations?: Record<string, string> }): RotationRecord {
  const a = meta.annotations ?? {};
  const parseTime = (v: string | undefined) => {
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : new Date(t);
  };
  const created = meta.creationTimestamp === undefined ? new Date(0) : new Date(meta.creationTimestamp);
  return {
    created,
    lastRotated: parseTime(a['secret-steward.io/last-rotated']),
    lastSlot: a['secret-steward.io/last-slot'],
    lastOutcome: parseLastOutcome(a['secret-steward.io/last-outcome']),
    rotateNow: a['secret-steward.io/rotate-now'],
  };
}

export type DueReason = 'rotate-now' | 'schedule' | 'max-age';

export type Dueness =
  | { due: true; reason: DueReason /** The slot this rotation satisfies (ISO time). */; slot: string; detail: string }
  | { due: false; held: boolean; nextDue?: Date; detail: string };

/** Decides whether a Secret is due at `now`; see the module comment for the rules. */
export function assessDue(trigger: Trigger, record: RotationRecord, now: Date): Dueness {
  const reference = record.lastRotated ?? record.created;
  const since = record.lastRotated ? `last rotated ${reference.toISOString()}` : `never rotated (created ${reference.toISOString()})`;
  if (record.rotateNow !== undefined) {
    return {
      due: true,
      reason: 'rotate-now',
      slot: `rotate-now@${now.toISOString()}`,
      detail: 'annotation secret-steward.io/rotate-now is set',
    };
  }
  // A rollback holds the Secret, unless the API server caused it (the values and the consumers were never judged).
  const rolledBack =
    (record.lastOutcome?.result === 'rolled-back' || record.lastOutcome?.result === 'rollback-failed') &&
    record.lastOutcome.transient !== true
      ? record.lastOutcome
      : undefined;
  if (trigger.kind === 'schedule') {
    const slot = latestSlot(trigger, now);
    if (slot === undefined || reference.getTime() >= slot.getTime() || record.lastSlot === slot.toISOString()) {
      return { due: false, held: false, nextDue: nextSlot(trigger, now), detail: `${since}; no slot missed since` };
    }
    if (rolledBack !== undefined && rolledBack.slot === slot.toISOString()) {
      return {
        due: false,
        held: true,
        nextDue: nextSlot(trigger, now),
        detail: `the rotation for slot ${slot.toISOString()} was rolled back (${rolledBack.rotation}); held until the next slot (set secret-steward.io/rotate-now to retry now)`,
      };
    }
    return {
      due: true,
      reason: 'schedule',
      slot: slot.toISOString(),
      detail: `${since}, before the slot ${slot.toISOString()} (${trigger.cron} ${trigger.timeZone})`,
    };
  }
  const dueAt = new Date(reference.getTime() + trigger.maxAgeMs);
  if (now.getTime() < dueAt.getTime()) {
    return { due: false, held: false, nextDue: dueAt, detail: `${since}; younger than maxAge ${formatDuration(trigger.maxAgeMs)}` };
  }
  if (rolledBack !== undefined) {
    const retryAt = new Date(Date.parse(rolledBack.at) + trigger.maxAgeMs);
    if (now.getTime() < retryAt.getTime()) {
      return {
        due: false,
        held: true,
        nextDue: retryAt,
        detail: `the last rotation (${rolledBack.rotation}) was rolled back at ${rolledBack.at}; held until ${retryAt.toISOString()} (set secret-steward.io/rotate-now to retry now)`,
      };
    }
  }
  return {
    due: true,
    reason: 'max-age',
    slot: `max-age@${dueAt.toISOString()}`,
    detail: `${since}, older than maxAge ${formatDuration(trigger.maxAgeMs)}`,
  };
}
