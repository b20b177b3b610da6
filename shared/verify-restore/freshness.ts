/**
 * Freshness: is the newest complete backup as recent as the backup CronJob's schedule says it
 * should be?
 *
 * At drill time `now`, the backup of the most recent slot may still be running, so the slot
 * that must be covered is the latest one at or before `now - grace`. The newest complete
 * scheduled backup must have started at or after that slot (less a small allowance for clock
 * skew between the clusters: a minute, or half the schedule's interval if that is shorter).
 * Cron semantics, time zones and daylight saving time are those of the rotation schedules
 * (`shared/rotate/schedule.ts`), which follow the Kubernetes CronJob controller.
 */
import { formatDuration } from '../config/options.js';
import { type CronTrigger, latestSlot } from '../runtime/cron-schedule.js';

export interface FreshnessInput {
  /** The backup CronJob's schedule (5 fields or a macro such as @daily). */
  schedule: string;
  /** IANA time zone of the schedule (the CronJob's `timeZone`). */
  timeZone: string;
  /** How long after a slot its backup may still be missing. */
  graceMs: number;
  now: Date;
  /** The newest complete scheduled backup, if any. */
  newest?: { id: string; createdAt: Date };
}

export interface FreshnessResult {
  fresh: boolean;
  /** The slot the newest backup must cover; undefined when no slot is due yet. */
  expectedAfter?: Date;
  /** A later slot whose backup has not appeared yet but is still within the grace period. */
  pendingSlot?: Date;
  /** One line for the report. */
  message: string;
}

const MAX_SKEW_MS = 60_000;

export function assessFreshness(i: FreshnessInput): FreshnessResult {
  const trigger: CronTrigger = { kind: 'schedule', cron: i.schedule, timeZone: i.timeZone };
  const where = `schedule "${i.schedule}" in ${i.timeZone}, grace ${formatDuration(i.graceMs)}`;
  const newestText = i.newest ? `${i.newest.createdAt.toISOString()} (backup ${i.newest.id})` : 'none';
  const expected = latestSlot(trigger, new Date(i.now.getTime() - i.graceMs));
  if (expected === undefined) {
    return { fresh: true, message: `no backup is due yet (${where}); newest is ${newestText}` };
  }
  const previous = latestSlot(trigger, new Date(expected.getTime() - 1));
  const skew = previous === undefined ? MAX_SKEW_MS : Math.min(MAX_SKEW_MS, Math.floor((expected.getTime() - previous.getTime()) / 2));
  const fresh = i.newest !== undefined && i.newest.createdAt.getTime() >= expected.getTime() - skew;
  if (!fresh) {
    return {
      fresh,
      expectedAfter: expected,
      message: `backup stale: expected one after ${expected.toISOString()}, newest is ${newestText} (${where})`,
    };
  }
  const current = latestSlot(trigger, i.now);
  if (current !== undefined && current.getTime() > expected.getTime() && i.newest!.createdAt.getTime() < current.getTime() - skew) {
    return {
      fresh,
      expectedAfter: expected,
      pendingSlot: current,
      message:
        `newest backup ${newestText} covers the slot of ${expected.toISOString()}; the backup due at ${current.toISOString()} ` +
        `has not completed yet, which is within the grace period until ${new Date(current.getTime() + i.graceMs).toISOString()} (${where})`,
    };
  }
  const covered = current !== undefined && current.getTime() > expected.getTime() ? current : expected;
  return {
    fresh,
    expectedAfter: expected,
    message: `newest backup ${newestText} covers the latest scheduled time, ${covered.toISOString()} (${where})`,
  };
}
