import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { renderTable } from '../runtime/format.js';
import { type FollowedReport, isFollowFailure } from './follow.js';
import { shortWorkload, type WorkloadOutcome } from './rollout.js';

/** What happened to (or, in a dry run, would happen to) one Secret carrying a policy. */
export type SecretAction =
  | 'rotated'
  | 'rolled-back'
  | 'rollback-failed'
  | 'failed'
  | 'skipped'
  | 'invalid'
  | 'not-due'
  | 'deferred'
  | 'would-rotate'
  | 'would-resume';

export interface SecretReport {
  namespace: string;
  name: string;
  action: SecretAction;
  /** Why, in words: the due reason, the failure, the skip reason, the policy problems. */
  detail: string;
  rotation?: string;
  strategy?: 'in-place' | 'versioned';
  /** Data keys the rotation changes. */
  keys?: string[];
  /** `key=hmac:...` of the new values (never the values), keyed as `Fingerprinter` says. */
  fingerprints?: string[];
  /** Consumers (`deployment/api`) restarted, repointed or, in a dry run, to be restarted. */
  consumers?: string[];
  warnings?: string[];
  /** Versioned: the version made (or to be made). */
  version?: string;
  nextDue?: string;
  /** The failure was transient (API unreachable, 5xx after retries): a later run may succeed. */
  transient?: boolean;
}

export interface RotationReport {
  dryRun: boolean;
  /** The time due-ness was judged at. */
  now: string;
  durationMs: number;
  secrets: SecretReport[];
  workloads: WorkloadOutcome[];
  /** Housekeeping done (or to be done) for interrupted earlier runs. */
  cleanups: string[];
  /** Follow mode (follow.ts): each followed Secret and its consumers; absent when none is followed. */
  followed?: FollowedReport[];
}

export type ReportCounts = Record<SecretAction, number>;

export function countActions(report: RotationReport): ReportCounts {
  const counts = Object.fromEntries(
    (
      [
        'rotated',
        'rolled-back',
        'rollback-failed',
        'failed',
        'skipped',
        'invalid',
        'not-due',
        'deferred',
        'would-rotate',
        'would-resume',
      ] as const
    ).map((a) => [a, 0]),
  ) as ReportCounts;
  for (const s of report.secrets) counts[s.action]++;
  return counts;
}

/**
 * The run's exit code: 1 when any Secret failed, was rolled back or has an invalid policy;
 * 4 when the only failures were transient (API unreachable; a rollback the API server caused
 * counts as one); 0 otherwise (skipped and
 * deferred Secrets are not failures).
 */
export function exitCodeOf(report: RotationReport): ExitCodeValue {
  let transient = false;
  for (const s of report.secrets) {
    if (s.action === 'rollback-failed' || s.action === 'invalid') return ExitCode.Failed;
    if (s.action === 'failed' || s.action === 'rolled-back') {
      if (!s.transient) return ExitCode.Failed;
      transient = true;
    }
  }
  for (const f of report.followed ?? []) {
    if (f.state === 'invalid') return ExitCode.Failed;
    if (f.state === 'error') {
      if (!f.transient) return ExitCode.Failed;
      transient = true;
    }
    for (const c of f.consumers) {
      if (!isFollowFailure(c.state)) continue;
      if (!c.transient) return ExitCode.Failed;
      transient = true;
    }
  }
  return transient ? ExitCode.Transient : ExitCode.Success;
}

const ORDER: Record<SecretAction, number> = {
  'rollback-failed': 0,
  'rolled-back': 1,
  failed: 2,
  invalid: 3,
  rotated: 4,
  'would-resume': 5,
  'would-rotate': 6,
  deferred: 7,
  skipped: 8,
  'not-due': 9,
};

/** The human-readable summary (or plan, in a dry run) written to stdout. */
export function renderReport(report: RotationReport): string {
  const counts = countActions(report);
  const lines: string[] = [];
  const sorted = [...report.secrets].sort(
    (a, b) => ORDER[a.action] - ORDER[b.action] || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  if (report.dryRun) {
    lines.push(`Dry run at ${report.now}: nothing written.`);
    lines.push(
      `Would rotate ${counts['would-rotate']}, resume ${counts['would-resume']}; deferred ${counts.deferred}, not due ${counts['not-due']}, skipped ${counts.skipped}, invalid ${counts.invalid}.`,
    );
  } else {
    lines.push(
      `Rotation run at ${report.now} (${(report.durationMs / 1000).toFixed(1)}s): rotated ${counts.rotated}, rolled back ${counts['rolled-back']}, ` +
        `rollback failed ${counts['rollback-failed']}, failed ${counts.failed}, invalid ${counts.invalid}, skipped ${counts.skipped}, deferred ${counts.deferred}, not due ${counts['not-due']}.`,
    );
  }
  if (sorted.length > 0) {
    lines.push('');
    const rows = sorted.map((s) => [
      `${s.namespace}/${s.name}`,
      s.action,
      s.strategy ?? '',
      (s.keys ?? []).join(','),
      (s.consumers ?? []).join(',') || (s.action === 'would-rotate' || s.action === 'rotated' ? '-' : ''),
      [s.version ? `-> ${s.version}` : '', s.detail, ...(s.warnings ?? []).map((w) => `warning: ${w}`)].filter((x) => x !== '').join('; '),
    ]);
    lines.push(renderTable(['SECRET', 'ACTION', 'STRATEGY', 'KEYS', 'CONSUMERS', 'DETAIL'], rows).trimEnd());
  }
  const notable = report.workloads.filter((w) => w.state !== 'ready' || w.patched);
  if (notable.length > 0) {
    lines.push('');
    lines.push(
      renderTable(
        ['WORKLOAD', 'NAMESPACE', 'STATE', 'DETAIL'],
        notable.map((w) => [shortWorkload(w.key), w.namespace, w.state, w.message]),
      ).trimEnd(),
    );
  }
  if (report.followed !== undefined && report.followed.length > 0) {
    lines.push('', 'Followed Secrets (follow mode):');
    const rows: string[][] = [];
    for (const f of report.followed) {
      if (f.state !== 'ok' || f.consumers.length === 0) rows.push([`${f.namespace}/${f.name}`, '-', f.state, f.detail]);
      for (const c of f.consumers) rows.push([`${f.namespace}/${f.name}`, c.workload, c.state, c.message]);
      for (const w of f.warnings ?? []) rows.push([`${f.namespace}/${f.name}`, '-', 'warning', w]);
    }
    lines.push(renderTable(['SECRET', 'CONSUMER', 'STATE', 'DETAIL'], rows).trimEnd());
  }
  if (report.cleanups.length > 0) {
    lines.push('', `${report.dryRun ? 'Would clean up' : 'Cleaned up'}:`, ...report.cleanups.map((c) => `  - ${c}`));
  }
  return `${lines.join('\n')}\n`;
}
