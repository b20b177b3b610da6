import { formatDuration } from '../config/options.js';
import { type CronTrigger, latestSlot, nextSlot } from '../runtime/cron-schedule.js';
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
 * Slots follow runtime/cron-schedule.ts (daylight saving time included): a wall-clock time
 * that occurs twice is rotated once.
 */

export interface MaxAgeTrigger {
  kind: 'max-age';
  maxAgeMs: number;
}

export type { CronTrigger };

export type Trigger = CronTrigger | MaxAgeTrigger;

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
