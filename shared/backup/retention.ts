import type { BackupKind } from './backup-index.js';

/**
 * Retention over AUTHENTICATED backups only (sealed, ours, undamaged: backup-catalog.ts);
 * everything else is reported and never deleted automatically, so objects anyone puts in the
 * bucket can neither take a keep slot nor push a real backup out of one.
 *
 * Scheduled backups follow restic's `forget` semantics: rules are ORed; `last N` keeps the N
 * newest; `hourly/daily/weekly/monthly/yearly N` keep the newest backup in each of the N most
 * recent calendar periods that have one (weekly = ISO week); `within D` keeps every backup
 * created within D of the NEWEST backup (not of now). Periods are computed in UTC from the
 * sealed creation time. Pre-restore backups (the undo of a restore) are kept by their own rule,
 * within a time of now and optionally the last N, and never take or displace a scheduled slot.
 * The newest authenticated backup of each kind is never deleted, nor any backup a caller
 * protects (the one this run wrote, one a running restore or drill reads).
 */

/** Rules for scheduled backups. */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Milliseconds. */
  within?: number;
}

/** Rules for pre-restore backups: kept while younger than `within` (of now), and the `last` newest. */
export interface PreRestorePolicy {
  /** Milliseconds. */
  within: number;
  last?: number;
}

/** One authenticated backup, as its seal describes it. */
export interface RetentionCandidate {
  id: string;
  createdAt: Date;
  kind: BackupKind;
}

export interface RetentionDecision extends RetentionCandidate {
  keep: boolean;
  /** Why it is kept (`last 3`, `daily 2026-11-26`, `within 7d of newest`, `newest scheduled backup`, `pre-restore within 30d`) or deleted. */
  reasons: string[];
}

/** True when the policy has no rule; such a policy is refused (it would delete everything). */
export function isEmptyPolicy(p: RetentionPolicy): boolean {
  return (
    !(p.last && p.last > 0) &&
    !(p.hourly && p.hourly > 0) &&
    !(p.daily && p.daily > 0) &&
    !(p.weekly && p.weekly > 0) &&
    !(p.monthly && p.monthly > 0) &&
    !(p.yearly && p.yearly > 0) &&
    !(p.within && p.within > 0)
  );
}

type PeriodRule = { name: keyof RetentionPolicy; period: (d: Date) => string };

const PERIOD_RULES: PeriodRule[] = [
  { name: 'hourly', period: (d) => d.toISOString().slice(0, 13) },
  { name: 'daily', period: (d) => d.toISOString().slice(0, 10) },
  { name: 'weekly', period: isoWeek },
  { name: 'monthly', period: (d) => d.toISOString().slice(0, 7) },
  { name: 'yearly', period: (d) => d.toISOString().slice(0, 4) },
];

export interface RetentionOptions {
  now: Date;
  preRestore: PreRestorePolicy;
  /** Backups never to delete, with why (`written by this run`, `being read by restore job X`). */
  protect?: ReadonlyMap<string, string>;
  formatDuration?: (ms: number) => string;
}

/** Applies the rules; returns one decision per candidate, newest first. */
export function applyRetention(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  opts: RetentionOptions,
): RetentionDecision[] {
  if (isEmptyPolicy(policy)) throw new Error('refusing an empty retention policy: it would delete every backup');
  const fmt = opts.formatDuration ?? ((ms: number) => `${ms}ms`);
  const sorted = [...candidates].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  const decisions: RetentionDecision[] = sorted.map((c) => ({ ...c, keep: false, reasons: [] }));
  const scheduled = decisions.filter((d) => d.kind === 'scheduled');
  const preRestore = decisions.filter((d) => d.kind === 'pre-restore');

  if (policy.last && policy.last > 0) {
    for (const [i, d] of scheduled.slice(0, policy.last).entries()) d.reasons.push(`last ${i + 1}/${policy.last}`);
  }
  for (const rule of PERIOD_RULES) {
    let remaining = policy[rule.name] ?? 0;
    let lastPeriod: string | undefined;
    for (const d of scheduled) {
      if (remaining <= 0) break;
      const p = rule.period(d.createdAt);
      if (p !== lastPeriod) {
        d.reasons.push(`${rule.name} ${p}`);
        lastPeriod = p;
        remaining--;
      }
    }
  }
  if (policy.within && policy.within > 0 && scheduled.length > 0) {
    const newest = scheduled[0].createdAt.getTime();
    for (const d of scheduled)
      if (d.createdAt.getTime() >= newest - policy.within) d.reasons.push(`within ${fmt(policy.within)} of newest`);
  }
  if (scheduled.length > 0 && scheduled[0].reasons.length === 0) scheduled[0].reasons.push('newest scheduled backup');

  for (const [i, d] of preRestore.entries()) {
    if (opts.now.getTime() - d.createdAt.getTime() < opts.preRestore.within)
      d.reasons.push(`pre-restore within ${fmt(opts.preRestore.within)}`);
    if (opts.preRestore.last !== undefined && i < opts.preRestore.last) d.reasons.push(`pre-restore last ${i + 1}/${opts.preRestore.last}`);
  }
  if (preRestore.length > 0 && preRestore[0].reasons.length === 0) preRestore[0].reasons.push('newest pre-restore backup');

  for (const d of decisions) {
    const why = opts.protect?.get(d.id);
    if (why !== undefined) d.reasons.push(why);
    d.keep = d.reasons.length > 0;
    if (!d.keep) d.reasons.push('matched no keep rule');
  }
  return decisions;
}

/**
 * A reason to refuse the whole deletion when it would remove more than `maxShare` (0 to 1) of the
 * authenticated backups in one run: a policy typo or a clock far off must not empty the bucket.
 */
export function deletionShareProblem(decisions: readonly RetentionDecision[], maxShare: number): string | undefined {
  const deleting = decisions.filter((d) => !d.keep).length;
  if (decisions.length === 0 || deleting / decisions.length <= maxShare) return undefined;
  return (
    `retention would delete ${deleting} of ${decisions.length} authenticated backups, more than ${Math.round(maxShare * 100)}%: ` +
    'nothing was deleted (check the --keep-* rules; raise --max-delete-share if this is intended)'
  );
}

/** ISO 8601 week, e.g. `2026-W48` (the year is the ISO week-numbering year). */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
