/**
 * The drill report: what was checked, against which backup, with what outcome, as JSON for
 * machines and auditors (`--output json`, and the copy stored next to the backups) and as a
 * readable summary. Secret VALUES never appear in it; namespaces and Secret names do in
 * findings and per-namespace results (the stored copy can leave them out:
 * `--stored-report-detail summary`).
 *
 * Stored under `<cluster>/reports/<drillTime>_<backupId>_<pass|fail>.json` (see BackupLayout),
 * with a detached OpenPGP signature `….json.asc` when a signing key is configured:
 * `gpg --verify <report>.json.asc <report>.json` proves who ran the drill and that the report
 * was not edited since.
 */
import { performance } from 'node:perf_hooks';
import type { BackupLayout } from '../backup/backup-layout.js';
import { type SigningKey, signDetached } from '../crypto/index.js';
import { formatAge, formatBytes, renderTable } from '../runtime/format.js';
import { type ObjectStore, StorageError } from '../storage/index.js';
import type { KeyReadabilityReport } from './key-readability.js';

export const DRILL_REPORT_FORMAT = 'secret-steward.io/drill-report/v1';

export const CHECK_NAMES = [
  'freshness',
  'integrity',
  'validity',
  'restorability',
  'drift',
  'key-health',
  'catalogue',
  'deep-check',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/**
 * - `pass`: checked, nothing wrong (warnings may exist);
 * - `fail`: checked, something is wrong (exit 1);
 * - `error`: could not be completed because infrastructure failed (exit 4 unless a check failed);
 * - `skipped`: not run (not configured, or an earlier failure made it meaningless; `summary` says why).
 */
export type CheckStatus = 'pass' | 'fail' | 'error' | 'skipped';

export interface Finding {
  message: string;
  namespace?: string;
  name?: string;
  segment?: number;
}

export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  /** One line, without namespace or Secret names. */
  summary: string;
  durationMs: number;
  /** The first findings (capped); `findingsTotal` counts them all. */
  findings: Finding[];
  findingsTotal: number;
  /** Check-specific facts (expected slot, drift counts, ...). */
  details?: Record<string, unknown>;
}

export interface NamespaceResult {
  /** Secrets of this namespace in the backup's index. */
  secrets: number;
  /** Read from intact segments and matching their index entry. */
  verified: number;
  valid: number;
  /** Created in the drill namespace and read back byte-identical. */
  restored: number;
  /** Not restored on purpose (service-account tokens, invalid objects). */
  skipped: number;
  /** Findings about this namespace's Secrets. */
  problems: number;
}

export interface DrillReport {
  format: typeof DRILL_REPORT_FORMAT;
  drillId: string;
  result: 'pass' | 'fail' | 'error';
  cluster: string;
  /** Set when the drill was one index of a fleet drill (--fleet-cluster): its completion index and the fleet's size. */
  fleet?: { index: number; size: number };
  store: string;
  drillNamespace: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  backup?: {
    id: string;
    kind?: string;
    createdAt: string;
    completedAt?: string;
    ageSeconds: number;
    signature?: string;
    signer?: string;
    recipients?: string[];
    secrets?: number;
    segments?: number;
    storedBytes?: number;
    toolVersion?: string;
    /** How the backup was authenticated: by its seal, or (made before seals) by its index signature alone. */
    authenticatedBy?: 'seal' | 'index-signature';
    /** The kube-system UID of the cluster that sealed it. */
    clusterUid?: string;
  };
  checks: CheckResult[];
  counts: {
    secretsInBackup: number;
    secretsVerified: number;
    secretsValid: number;
    secretsRestored: number;
    secretsSkipped: number;
    segments: number;
    segmentsVerified: number;
  };
  namespaces: Record<string, NamespaceResult>;
  warnings: string[];
  tool: { version: string; runner: string };
  /** How long restoring the drilled backup took, and the projection to the whole backup (absent when nothing was restored). */
  rto?: RtoReport;
  /** The deep check of the other retained backups (absent when --deep-check-cycle is 0). */
  deepCheck?: DeepCheckReport;
  /**
   * Whether the drill's decryption keys can read each retained backup, from the recipients its
   * seal names (absent when the keys could not be unlocked or the catalogue is ambiguous).
   */
  keyReadability?: KeyReadabilityReport;
}

/**
 * The measured restore time (RTO) of a drill. `measuredMs` is the wall time of the one pass that
 * reads, decrypts and checks the backup and creates, reads back and deletes its copies, which is
 * what a restore into an empty cluster does plus the read-back and delete: a projection from it
 * errs on the long side.
 */
export interface RtoReport {
  measuredMs: number;
  /** Secrets created in the drill namespace and read back byte-identical. */
  secretsRestored: number;
  /** Secrets the pass read from intact segments (restored, skipped by type or invalid). */
  secretsRead: number;
  secretsInBackup: number;
  /** `measuredMs` scaled from the Secrets read to every Secret of the backup: restoring it whole into an empty cluster. */
  projectedFullRestoreMs: number;
  /** Namespaces in the backup. */
  namespaces: number;
  /** The namespaces whose Secrets took longest to read and restore, longest first (at most {@link RTO_TOP_NAMESPACES}). */
  byNamespace: Array<{ namespace: string; secrets: number; ms: number }>;
}

export const RTO_TOP_NAMESPACES = 10;

/** One retained backup verified whole by the deep check. */
export interface DeepCheckedBackup {
  backupId: string;
  /** Sealed creation time. */
  createdAt: string;
  /** pass: every check below held; fail: one did not (`failedChecks`); error: the store failed. */
  result: 'pass' | 'fail' | 'error';
  /** When it was verified (the drill's start). */
  at: string;
  /** The checks that failed: a verification kind (`segment-damaged`, `bad-signature`, …) or `secret-digest`. */
  failedChecks: string[];
  segments: number;
  segmentsVerified: number;
  secretsVerified: number;
  durationMs: number;
}

/**
 * The deep check (restic's `check --read-data-subset`): besides the drilled backup, a rotating
 * subset of the other retained backups is downloaded and verified whole (seal, index signature,
 * each segment's SHA-256, decryption, every Secret's hash), the ones verified longest ago first,
 * so that each is verified at least once per cycle. Its time is reported here, not in the
 * drill's `durationMs`.
 */
export interface DeepCheckReport {
  cycleMs: number;
  /** Backups this run could verify (--deep-check-per-run; 0 there: every one due). */
  budget: number;
  durationMs: number;
  checked: DeepCheckedBackup[];
  /**
   * Every retained backup (sealed, this cluster), oldest first, with when it was last verified
   * as signed drill reports (and this run) show; null: never. A later drill reads this list from
   * the newest signed report instead of walking all earlier ones.
   */
  backups: Array<{ id: string; createdAt: string; lastVerified: string | null }>;
  /** Retained backups neither verified nor created within the cycle. */
  notVerifiedInCycle: string[];
  /** Where the last verification times came from, e.g. why none could be believed. */
  history: string;
}

const MAX_FINDINGS = 200;

/** Collects one check's outcome while the drill runs. */
export class CheckRecorder {
  status: CheckStatus = 'pass';
  summary = '';
  details: Record<string, unknown> | undefined;
  private readonly findings: Finding[] = [];
  private total = 0;
  private ms = 0;

  constructor(readonly name: CheckName) {}

  /** Records a problem and marks the check failed. */
  fail(f: Finding): void {
    this.status = 'fail';
    this.add(f);
  }

  /** Marks the check as not completed because of an infrastructure failure (unless it already failed). */
  error(f: Finding): void {
    if (this.status !== 'fail') this.status = 'error';
    this.add(f);
  }

  skip(why: string): void {
    this.status = 'skipped';
    this.summary = why;
  }

  get failed(): boolean {
    return this.status === 'fail';
  }

  get findingCount(): number {
    return this.total;
  }

  /** Runs `fn`, adding its wall time to the check's duration (checks interleave while segments stream). */
  async time<T>(fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.ms += performance.now() - t;
    }
  }

  timeSync<T>(fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.ms += performance.now() - t;
    }
  }

  result(): CheckResult {
    return {
      name: this.name,
      status: this.status,
      summary: this.summary,
      durationMs: Math.round(this.ms),
      findings: [...this.findings],
      findingsTotal: this.total,
      ...(this.details ? { details: this.details } : {}),
    };
  }

  private add(f: Finding): void {
    this.total++;
    if (this.findings.length < MAX_FINDINGS) this.findings.push(f);
  }
}

/** `fail` when any check failed, else `error` when any could not complete, else `pass`. */
export function overallResult(checks: readonly CheckResult[]): DrillReport['result'] {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'error')) return 'error';
  return 'pass';
}

/**
 * The copy stored in the bucket: with `summary`, everything that names a namespace or Secret
 * (findings, per-namespace results and restore times, drift examples, warnings) is left out.
 */
export function storedCopy(report: DrillReport, detail: 'full' | 'summary'): DrillReport {
  if (detail === 'full') return report;
  return {
    ...report,
    checks: report.checks.map((c) => {
      const { examples: _names, ...details } = c.details ?? {};
      return { ...c, findings: [], ...(c.details ? { details } : {}) };
    }),
    namespaces: {},
    warnings: report.warnings.length > 0 ? [`${report.warnings.length} warning(s); see the drill's own output`] : [],
    ...(report.rto ? { rto: { ...report.rto, byNamespace: [] } } : {}),
  };
}

export interface StoredReport {
  key: string;
  location: string;
  signatureKey?: string;
}

/**
 * Stores the report (and its detached signature when `signingKey` is given), reading both back
 * to check what the store kept.
 */
export async function storeDrillReport(
  store: ObjectStore,
  layout: BackupLayout,
  report: DrillReport,
  o: { backupId: string; drillTime: Date; signingKey?: SigningKey; detail: 'full' | 'summary' },
): Promise<StoredReport> {
  const key = layout.reportKey(o.drillTime, o.backupId, report.result === 'pass');
  const bytes = Buffer.from(`${JSON.stringify(storedCopy(report, o.detail), null, 2)}\n`);
  const stored: StoredReport = { key, location: `${store.location}/${key}` };
  const put = await store.put(key, bytes, { contentType: 'application/json' });
  await checkReadBack(store, key, put.sha256);
  if (o.signingKey) {
    const signature = Buffer.from(await signDetached(bytes, o.signingKey, { label: `drill report ${key}`, now: o.drillTime }));
    const sigKey = layout.reportSignatureKey(key);
    const sigPut = await store.put(sigKey, signature, { contentType: 'application/pgp-signature' });
    await checkReadBack(store, sigKey, sigPut.sha256);
    stored.signatureKey = sigKey;
  }
  return stored;
}

async function checkReadBack(store: ObjectStore, key: string, sha256: string): Promise<void> {
  const back = await store.digest(key);
  if (back.sha256 !== sha256) {
    throw new StorageError({
      kind: 'integrity',
      operation: 'verify (read back)',
      location: `${store.location}/${key}`,
      detail: 'the stored report differs from what was uploaded',
    });
  }
}

/** The readable summary printed without `--output json`. */
export function renderDrillReport(r: DrillReport, stored?: StoredReport): string {
  const lines: string[] = [];
  const verdict = r.result === 'pass' ? 'PASSED' : r.result === 'fail' ? 'FAILED' : 'DID NOT COMPLETE';
  const b = r.backup;
  lines.push(
    `DR drill ${verdict}${b ? ` for backup ${b.id} (${formatAge(b.ageSeconds * 1000)} old` + `${b.secrets !== undefined ? `, ${b.secrets} Secrets` : ''}` + `${b.storedBytes !== undefined ? `, ${formatBytes(b.storedBytes)}` : ''})` : ''}` +
      ` of cluster ${r.cluster}${r.fleet ? ` (fleet index ${r.fleet.index} of ${r.fleet.size})` : ''} in ${(r.durationMs / 1000).toFixed(1)}s (drill ${r.drillId}).`,
  );
  lines.push('');
  lines.push(
    renderTable(
      ['CHECK', 'RESULT', 'TIME', 'SUMMARY'],
      r.checks.map((c) => [c.name, c.status.toUpperCase(), `${(c.durationMs / 1000).toFixed(1)}s`, c.summary]),
    ).trimEnd(),
  );
  if (r.rto) {
    lines.push('');
    lines.push(
      `Restore time: ${(r.rto.measuredMs / 1000).toFixed(1)}s for ${r.rto.secretsRestored} Secrets restored (${r.rto.secretsRead} read); ` +
        `projected full restore of the ${r.rto.secretsInBackup} Secrets into an empty cluster: ${(r.rto.projectedFullRestoreMs / 1000).toFixed(1)}s`,
    );
  }
  if (r.deepCheck) {
    const d = r.deepCheck;
    lines.push('');
    lines.push(
      `Deep check (${(d.durationMs / 1000).toFixed(1)}s, not in the drill's time): ${d.checked.length} backup(s) verified whole; last verified from ${d.history}`,
    );
    if (d.checked.length > 0) {
      lines.push(
        renderTable(
          ['BACKUP', 'CREATED', 'RESULT', 'SEGMENTS', 'SECRETS', 'FAILED CHECKS'],
          d.checked.map((c) => [
            c.backupId,
            c.createdAt,
            c.result.toUpperCase(),
            `${c.segmentsVerified}/${c.segments}`,
            String(c.secretsVerified),
            c.failedChecks.join(', ') || '-',
          ]),
        ).trimEnd(),
      );
    }
    lines.push(
      d.notVerifiedInCycle.length === 0
        ? `Every one of the ${d.backups.length} retained backup(s) was verified or created within the cycle.`
        : `Not verified within the cycle: ${d.notVerifiedInCycle.join(', ')}`,
    );
  }
  if (r.keyReadability) {
    const k = r.keyReadability;
    lines.push('');
    lines.push(
      k.unreadable.length === 0
        ? `Key readability: every one of the ${k.backups.length} retained backup(s) is encrypted to a decryption key this drill holds.`
        : `Key readability: ${k.unreadable.length} of ${k.backups.length} retained backup(s) can be read by NONE of this drill's decryption keys (keep the old key configured, or run rekey):`,
    );
    if (k.unreadable.length > 0) {
      lines.push(
        renderTable(
          ['BACKUP', 'KIND', 'ENCRYPTED TO'],
          k.backups.filter((b) => !b.readable).map((b) => [b.id, b.kind, b.recipients.join(', ') || '-']),
        ).trimEnd(),
      );
    }
  }
  const namespaces = Object.entries(r.namespaces).sort(([a], [b2]) => a.localeCompare(b2));
  if (namespaces.length > 0) {
    lines.push('');
    lines.push(
      renderTable(
        ['NAMESPACE', 'SECRETS', 'VERIFIED', 'VALID', 'RESTORED', 'SKIPPED', 'PROBLEMS'],
        namespaces.map(([ns, n]) => [
          ns,
          String(n.secrets),
          String(n.verified),
          String(n.valid),
          String(n.restored),
          String(n.skipped),
          String(n.problems),
        ]),
      ).trimEnd(),
    );
  }
  const withFindings = r.checks.filter((c) => c.findings.length > 0);
  if (withFindings.length > 0) {
    lines.push('');
    lines.push('Findings:');
    for (const c of withFindings) {
      for (const f of c.findings) lines.push(`  [${c.name}] ${f.message}`);
      if (c.findingsTotal > c.findings.length) lines.push(`  [${c.name}] … and ${c.findingsTotal - c.findings.length} more`);
    }
  }
  if (r.warnings.length > 0) {
    lines.push('');
    lines.push('Warnings:');
    for (const w of r.warnings) lines.push(`  ${w}`);
  }
  lines.push('');
  if (stored)
    lines.push(`Report: ${stored.location}${stored.signatureKey ? ' (signed: .asc beside it)' : ' (not signed: no --report-signing-key)'}`);
  return `${lines.join('\n')}\n`;
}
