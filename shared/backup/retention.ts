/**
 * Retention with restic's `forget` semantics: rules are ORed; `last N` keeps the N newest
 * backups; `hourly/daily/weekly/monthly/yearly N` keep the newest backup in each of the N most
 * recent calendar periods that have one (weekly = ISO week); `within D` keeps every backup
 * created within D of the NEWEST backup (not of now). Periods are computed in UTC. Only
 * complete backups take part; an incomplete backup (no index) is deleted once older than the
 * grace period (younger ones may still be in progress). The newest complete backup is never
 * deleted, whatever the rules say.
 */

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

export interface RetentionCandidate {
  id: string;
  createdAt: Date;
  complete: boolean;
}

export interface RetentionDecision {
  id: string;
  createdAt: Date;
  complete: boolean;
  keep: boolean;
  /** Why it is kept (`last 3`, `daily 2026-11-26`, `within 7d`, `newest complete backup`, `incomplete, may be in progress`) or deleted. */
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

/** Applies the policy; returns one decision per candidate, newest first. */
export function applyRetention(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  opts: { now: Date; incompleteGraceMs: number; formatWithin?: (ms: number) => string },
): RetentionDecision[] {
  if (isEmptyPolicy(policy)) throw new Error('refusing an empty retention policy: it would delete every backup');
  const sorted = [...candidates].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  const decisions = sorted.map((c) => ({ ...c, keep: false, reasons: [] as string[] }));
  const complete = decisions.filter((d) => d.complete);

  if (policy.last && policy.last > 0) {
    for (const [i, d] of complete.slice(0, policy.last).entries()) d.reasons.push(`last ${i + 1}/${policy.last}`);
  }
  for (const rule of PERIOD_RULES) {
    let remaining = policy[rule.name] ?? 0;
    let lastPeriod: string | undefined;
    for (const d of complete) {
      if (remaining <= 0) break;
      const p = rule.period(d.createdAt);
      if (p !== lastPeriod) {
        d.reasons.push(`${rule.name} ${p}`);
        lastPeriod = p;
        remaining--;
      }
    }
  }
  if (policy.within && policy.within > 0 && complete.length > 0) {
    const newest = complete[0].createdAt.getTime();
    const label = opts.formatWithin ? opts.formatWithin(policy.within) : `${policy.within}ms`;
    for (const d of complete) if (d.createdAt.getTime() >= newest - policy.within) d.reasons.push(`within ${label} of newest`);
  }
  if (complete.length > 0 && complete[0].reasons.length === 0) complete[0].reasons.push('newest complete backup');

  for (const d of decisions) {
    if (d.complete) {
      d.keep = d.reasons.length > 0;
      if (!d.keep) d.reasons.push('matched no keep rule');
    } else if (opts.now.getTime() - d.createdAt.getTime() < opts.incompleteGraceMs) {
      d.keep = true;
      d.reasons.push('incomplete, may still be in progress');
    } else {
      d.reasons.push('incomplete and older than the grace period');
    }
  }
  return decisions;
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
