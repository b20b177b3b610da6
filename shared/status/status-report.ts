/**
 * The status overview as data (`--output json`) and as tables for a terminal, and the rules
 * that make something overdue (exit 1) or worth a warning (exit 0).
 */
import { formatDuration } from '../config/options.js';
import { describeScope, type Scope } from '../kube/scope.js';
import { formatAge, formatBytes, renderTable } from '../runtime/format.js';
import type { BackupOverview } from './backup-status.js';
import type { FollowStatus } from './follow-status.js';
import type { KeyStatus } from './key-status.js';
import type { RotationStatus } from './rotation-status.js';

export const STATUS_FORMAT = 'secret-steward.io/status/v2';

/**
 * Overdue (exit 1):
 * - `rotation-overdue`: a Secret due for longer than the rotation grace period;
 * - `rotation-invalid`: a policy that cannot be used (the Secret will never rotate);
 * - `no-backup`: the store holds no authenticated scheduled backup;
 * - `backup-stale`: the newest authenticated scheduled backup is older than the schedule allows;
 * - `backup-unauthenticated`: something under the backups prefix is not an authenticated backup
 *   (unsealed beyond the incomplete grace, forged, foreign, future or damaged);
 * - `catalogue-ambiguous`: seals of several clusters share the cluster name (--cluster-uid);
 * - `drill-overdue`: no drill whose report verifies passed within the drill window;
 * - `backup-unverified`: an authenticated backup neither verified (drill or deep check, signed
 *   reports) nor created within the deep-check cycle;
 * - `key-unusable`: a recipient or signer key expired, was revoked or cannot be used.
 */
export type ProblemKind =
  | 'rotation-overdue'
  | 'rotation-invalid'
  | 'no-backup'
  | 'backup-stale'
  | 'backup-unauthenticated'
  | 'catalogue-ambiguous'
  | 'drill-overdue'
  | 'key-unusable'
  | 'backup-unverified';

/**
 * Warnings (exit 0): the last rotation did not succeed; the latest drill failed; a key expires
 * soon; a consumer of a followed Secret failed its rollout for the current data (follow mode);
 * a retained backup none of the newest verified drill's decryption keys could read
 * (`backup-unreadable`: a key rollover without rekey); `--fleet-discover` found prefixes under the
 * store that `--fleet-allow` does not allow (ignored). A discovery that finds no allowed cluster at
 * all is `no-backup` (overdue).
 */
export type WarningKind =
  | 'rotation-failed'
  | 'drill-failed'
  | 'key-expiring'
  | 'follow-failed'
  | 'backup-unreadable'
  | 'fleet-prefix-ignored';

export interface Finding<K extends string> {
  kind: K;
  /** What it is about: `payments/db-creds`, a backup id, a key fingerprint, `drills`. */
  subject: string;
  message: string;
}

export interface StatusReport {
  format: typeof STATUS_FORMAT;
  generatedAt: string;
  /** True when anything is overdue (exit 1). */
  overdue: boolean;
  problems: Array<Finding<ProblemKind>>;
  warnings: Array<Finding<WarningKind>>;
  /** Where the installation works: the whole cluster, or the namespaces of --scope-namespaces. */
  scope: Scope;
  rotation: {
    graceMs: number;
    namespaces: string[];
    selector?: string;
    secrets: RotationStatus[];
    /** Follow mode: Secrets with `secret-steward.io/follow` and their consumers; absent when none. */
    followed?: FollowStatus[];
  };
  /** Absent without a store, and with a fleet (--fleet-cluster). */
  backups?: BackupOverview & { cluster: string };
  /** With --fleet-cluster: each cluster's backups and drills, in the order given (a DR site). */
  fleet?: Array<BackupOverview & { cluster: string }>;
  /** With --fleet-discover: what the fleet was discovered from, and the prefixes it ignored. */
  fleetDiscovery?: FleetDiscoveryStatus;
  keys: KeyStatus[];
}

/** How a discovered fleet was found: its `fleet` rows are the clusters discovered, sorted by name (fleet index order). */
export interface FleetDiscoveryStatus {
  location: string;
  allow: string[];
  /** Prefixes not used (not allowed or not a cluster name): the count and the first few names, JSON-escaped. */
  ignored: { count: number; first: string[] };
}

export interface StatusParts {
  now: Date;
  /** @default cluster-wide */
  scope?: Scope;
  rotation: StatusReport['rotation'];
  backups?: StatusReport['backups'];
  fleet?: StatusReport['fleet'];
  fleetDiscovery?: FleetDiscoveryStatus;
  keys: KeyStatus[];
}

/** Applies the overdue and warning rules to what was collected. */
export function buildStatusReport(p: StatusParts): StatusReport {
  const problems: StatusReport['problems'] = [];
  const warnings: StatusReport['warnings'] = [];
  for (const r of p.rotation.secrets) {
    const subject = `${r.namespace}/${r.name}`;
    if (r.state === 'overdue')
      problems.push({ kind: 'rotation-overdue', subject, message: `rotation overdue since ${r.dueSince ?? 'unknown'}: ${r.detail}` });
    if (r.state === 'invalid')
      problems.push({
        kind: 'rotation-invalid',
        subject,
        message: `rotation policy cannot be used, so the Secret never rotates: ${r.detail}`,
      });
    if (r.lastOutcome !== undefined && r.lastOutcome.result !== 'succeeded') {
      warnings.push({
        kind: 'rotation-failed',
        subject,
        message: `last rotation ${r.lastOutcome.rotation} ${r.lastOutcome.result} at ${r.lastOutcome.at}${r.lastOutcome.message ? `: ${r.lastOutcome.message}` : ''}`,
      });
    }
  }
  for (const f of p.rotation.followed ?? [])
    for (const c of f.consumers.filter((x) => x.state === 'failed'))
      warnings.push({
        kind: 'follow-failed',
        subject: `${f.namespace}/${f.name}`,
        message: `${c.workload} was restarted for the current data and its rollout failed (not undone, not restarted again until the data changes): ${c.message}`,
      });
  if (p.backups !== undefined) backupFindings(p.backups, '', problems, warnings);
  // A fleet: the same rules for each cluster, each finding's subject prefixed with its cluster.
  for (const b of p.fleet ?? []) backupFindings(b, `${b.cluster}/`, problems, warnings);
  if (p.fleetDiscovery) fleetDiscoveryFindings(p.fleetDiscovery, p.fleet?.length ?? 0, problems, warnings);
  for (const k of p.keys) {
    const subject = `${k.role} key ${k.fingerprint}`;
    if (k.state === 'expired' || k.state === 'revoked' || k.state === 'unusable')
      problems.push({ kind: 'key-unusable', subject, message: `${k.role} key ${k.fingerprint} from ${k.file}: ${k.detail}` });
    if (k.state === 'expiring')
      warnings.push({ kind: 'key-expiring', subject, message: `${k.role} key ${k.fingerprint} from ${k.file} ${k.detail}` });
  }
  return {
    format: STATUS_FORMAT,
    generatedAt: p.now.toISOString(),
    overdue: problems.length > 0,
    problems,
    warnings,
    scope: p.scope ?? { kind: 'cluster' },
    rotation: p.rotation,
    ...(p.backups ? { backups: p.backups } : {}),
    ...(p.fleet ? { fleet: p.fleet } : {}),
    ...(p.fleetDiscovery ? { fleetDiscovery: p.fleetDiscovery } : {}),
    keys: p.keys,
  };
}

/** A discovered fleet: no allowed cluster is overdue (nothing is drilled); ignored prefixes are a warning. */
function fleetDiscoveryFindings(
  d: FleetDiscoveryStatus,
  found: number,
  problems: StatusReport['problems'],
  warnings: StatusReport['warnings'],
): void {
  if (found === 0)
    problems.push({
      kind: 'no-backup',
      subject: d.location,
      message: `no cluster under ${d.location} matches --fleet-allow ${d.allow.join(',')}: nothing is drilled`,
    });
  if (d.ignored.count > 0)
    warnings.push({
      kind: 'fleet-prefix-ignored',
      subject: d.location,
      message: `${d.ignored.count} prefix(es) not allowed by --fleet-allow (or not a cluster name), ignored: ${d.ignored.first.join(', ')}${d.ignored.count > d.ignored.first.length ? ', ...' : ''}`,
    });
}

/** The backup and drill rules for one cluster's overview; `at` prefixes each subject (`<cluster>/` in a fleet). */
function backupFindings(
  b: BackupOverview & { cluster: string },
  at: string,
  problems: StatusReport['problems'],
  warnings: StatusReport['warnings'],
): void {
  if (b.ambiguous !== undefined) problems.push({ kind: 'catalogue-ambiguous', subject: `${at}${b.location}`, message: b.ambiguous });
  else if (b.newestScheduled === undefined) {
    problems.push({ kind: 'no-backup', subject: `${at}${b.location}`, message: `no authenticated scheduled backup in ${b.location}` });
  } else if (b.freshness !== undefined && !b.freshness.fresh) {
    problems.push({ kind: 'backup-stale', subject: `${at}${b.newestScheduled.id}`, message: b.freshness.message });
  }
  for (const u of b.unauthenticated.filter((x) => !x.inProgress)) {
    problems.push({
      kind: 'backup-unauthenticated',
      subject: `${at}${u.id}`,
      message: `backup ${u.id} is not authenticated (${u.problem}): it is never used or deleted automatically`,
    });
  }
  if (!b.drills.ok) {
    const last = b.drills.latestPass;
    problems.push({
      kind: 'drill-overdue',
      subject: `${at}drills`,
      message:
        `no DR drill passed within ${formatDuration(b.drills.maxAgeMs)}` +
        (last
          ? `; the last one that passed ran at ${last.at} (backup ${last.backupId})`
          : '; none that passed has a report that verifies') +
        ': run verify-restore',
    });
  }
  for (const id of b.deepCheck?.notVerifiedInCycle ?? []) {
    const last = b.backups.find((x) => x.id === id)?.lastVerified;
    problems.push({
      kind: 'backup-unverified',
      subject: `${at}${id}`,
      message: `backup ${id} was not verified within ${formatDuration(b.deepCheck!.cycleMs)} (${last ? `last verified ${last}` : 'never verified, as signed drill reports show'}): the drills' deep check has not reached it (raise verify-restore --deep-check-per-run)`,
    });
  }
  for (const u of b.keyReadability?.unreadable ?? []) {
    warnings.push({
      kind: 'backup-unreadable',
      subject: `${at}${u.id}`,
      message: `backup ${u.id} is encrypted only to ${u.recipients.join(', ') || 'no recorded key'}, which the drill of ${b.keyReadability!.at} did not hold: keep that private key configured where backups are restored, or run rekey`,
    });
  }
  if (b.drills.latest?.result === 'fail') {
    warnings.push({
      kind: 'drill-failed',
      subject: `${at}${b.drills.latest.backupId}`,
      message: `the latest DR drill (${b.drills.latest.at}) failed; report ${b.drills.latest.report}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Text

type Mark = 'red' | 'yellow' | undefined;
const ANSI: Record<'red' | 'yellow', [string, string]> = { red: ['\x1b[1;31m', '\x1b[0m'], yellow: ['\x1b[33m', '\x1b[0m'] };

function paint(text: string, mark: Mark, color: boolean): string {
  return color && mark !== undefined ? `${ANSI[mark][0]}${text}${ANSI[mark][1]}` : text;
}

/** A table whose rows are painted whole, so that colour codes never upset the alignment. */
function table(header: string[], rows: string[][], marks: Mark[], color: boolean): string {
  const lines = renderTable(header, rows).trimEnd().split('\n');
  return lines.map((l, i) => (i === 0 ? l : paint(l, marks[i - 1], color))).join('\n');
}

/** `3h12m ago` / `in 2d4h`. */
export function relative(isoTime: string | undefined, now: Date): string {
  if (isoTime === undefined) return '-';
  const t = Date.parse(isoTime);
  if (Number.isNaN(t)) return isoTime;
  const d = t - now.getTime();
  return d >= 0 ? `in ${formatAge(d)}` : `${formatAge(-d)} ago`;
}

function nextDueCell(s: RotationStatus, now: Date): string {
  if (s.state !== 'overdue' && s.state !== 'due' && !(s.state === 'in-flight' && s.nextDue === undefined)) return relative(s.nextDue, now);
  return s.dueSince === undefined ? 'now (rotate-now)' : `now (due ${relative(s.dueSince, now)})`;
}

const ROTATION_MARK: Record<RotationStatus['state'], Mark> = {
  ok: undefined,
  due: 'yellow',
  overdue: 'red',
  held: 'yellow',
  'in-flight': 'yellow',
  invalid: 'red',
  skipped: undefined,
};

function rotationSection(r: StatusReport['rotation'], now: Date, color: boolean): string[] {
  const counts = new Map<string, number>();
  for (const s of r.secrets) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const scope = r.namespaces.length > 0 ? ` in ${r.namespaces.join(', ')}` : '';
  const head =
    `ROTATION: ${r.secrets.length} Secret${r.secrets.length === 1 ? '' : 's'} with a policy${scope}${r.selector ? ` matching ${r.selector}` : ''}` +
    (r.secrets.length > 0 ? ` (${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')})` : '');
  if (r.secrets.length === 0) return [head];
  const rows = r.secrets.map((s) => [
    `${s.namespace}/${s.name}`,
    s.state === 'overdue' || s.state === 'invalid' ? s.state.toUpperCase() : s.state,
    s.schedule ?? '-',
    s.strategy ?? '-',
    s.lastRotated ? relative(s.lastRotated, now) : 'never',
    nextDueCell(s, now),
    s.consumers.join(',') || '-',
    s.lastOutcome ? `${s.lastOutcome.result} ${relative(s.lastOutcome.at, now)}` : '-',
  ]);
  const out = [
    head,
    table(
      ['SECRET', 'STATE', 'SCHEDULE', 'STRATEGY', 'LAST ROTATED', 'NEXT DUE', 'CONSUMERS', 'LAST OUTCOME'],
      rows,
      r.secrets.map((s) => ROTATION_MARK[s.state]),
      color,
    ),
  ];
  const notes = r.secrets.filter((s) => s.state === 'invalid' || s.state === 'skipped' || s.state === 'held' || s.state === 'in-flight');
  for (const s of notes) out.push(`  ${s.namespace}/${s.name}: ${s.detail}`);
  return out;
}

const FOLLOW_MARK: Record<FollowStatus['consumers'][number]['state'], Mark> = {
  current: undefined,
  stale: 'yellow',
  'rolling-out': 'yellow',
  failed: 'red',
  unknown: 'yellow',
};

/** Follow mode: each followed Secret's consumers and whether they run its current data. */
function followSection(followed: readonly FollowStatus[], color: boolean): string[] {
  const out = [`FOLLOWED: ${followed.length} Secret${followed.length === 1 ? '' : 's'} (restarted by rotate when their data changes)`];
  const rows: string[][] = [];
  const marks: Mark[] = [];
  for (const f of followed) {
    if (f.consumers.length === 0) {
      rows.push([`${f.namespace}/${f.name}`, '-', '-', f.detail ?? 'no consumer found']);
      marks.push(undefined);
    }
    for (const c of f.consumers) {
      rows.push([`${f.namespace}/${f.name}`, c.workload, c.state === 'failed' ? 'FAILED' : c.state, c.message]);
      marks.push(FOLLOW_MARK[c.state]);
    }
  }
  out.push(table(['SECRET', 'CONSUMER', 'DATA', 'DETAIL'], rows, marks, color));
  return out;
}

function backupSection(b: NonNullable<StatusReport['backups']>, now: Date, color: boolean): string[] {
  const pending = b.unauthenticated.filter((u) => u.inProgress).length;
  const out = [
    `BACKUPS of cluster ${b.cluster} in ${b.location}: ${b.authenticatedBackups} authenticated, ${b.unauthenticated.length - pending} not authenticated` +
      (pending > 0 ? `, ${pending} unsealed (may be in progress)` : ''),
  ];
  if (b.backups.length > 0) {
    const rows = b.backups.map((x) => [
      x.id,
      x.kind,
      formatAge(now.getTime() - Date.parse(x.createdAt)),
      x.secrets === undefined ? '-' : String(x.secrets),
      formatBytes(x.storedBytes),
      x.lastDrill
        ? `${x.lastDrill.result} ${relative(x.lastDrill.at, now)}${x.lastDrill.verified ? '' : ' (unverified)'}`
        : 'never drilled',
    ]);
    out.push(
      table(
        ['BACKUP', 'KIND', 'AGE', 'SECRETS', 'SIZE', 'LAST DRILL'],
        rows,
        b.backups.map((x) => (x.lastDrill?.result === 'fail' ? 'yellow' : undefined)),
        color,
      ),
    );
  }
  if (b.freshness)
    out.push(
      paint(`Freshness: ${b.freshness.fresh ? 'ok' : 'STALE'}: ${b.freshness.message}`, b.freshness.fresh ? undefined : 'red', color),
    );
  else out.push('Freshness: not checked (give --backup-schedule)');
  const d = b.drills;
  const pass = d.latestPass
    ? `last passed ${relative(d.latestPass.at, now)} (backup ${d.latestPass.backupId})`
    : 'none passed with a report that verifies';
  const latest =
    d.latest && d.latest !== d.latestPass && d.latest.at !== d.latestPass?.at
      ? `; latest ${d.latest.result} ${relative(d.latest.at, now)} (backup ${d.latest.backupId}${d.latest.verified ? '' : ', unverified'})`
      : '';
  const window =
    d.maxAgeMs === 0
      ? 'not checked'
      : d.ok
        ? `ok (required within ${formatDuration(d.maxAgeMs)})`
        : `OVERDUE (required within ${formatDuration(d.maxAgeMs)})`;
  out.push(paint(`Drills: ${pass}${latest}: ${window}`, d.ok ? (d.latest?.result === 'fail' ? 'yellow' : undefined) : 'red', color));
  if (b.deepCheck) {
    const n = b.deepCheck.notVerifiedInCycle;
    out.push(
      n.length === 0
        ? `Deep check: every authenticated backup verified or created within ${formatDuration(b.deepCheck.cycleMs)}`
        : paint(
            `Deep check: ${n.length} backup(s) NOT verified within ${formatDuration(b.deepCheck.cycleMs)}: ${n.join(', ')}`,
            'red',
            color,
          ),
    );
  }
  if (b.keyReadability) {
    const k = b.keyReadability;
    const when = `drill ${relative(k.at, now)}`;
    out.push(
      k.unreadable.length === 0
        ? `Key readability (${when}): every retained backup readable with the drill's decryption keys`
        : paint(
            `Key readability (${when}): ${k.unreadable.length} backup(s) readable by none of the drill's decryption keys (keep the old key, or run rekey): ${k.unreadable.map((u) => u.id).join(', ')}`,
            'yellow',
            color,
          ),
    );
  }
  if (b.rto) {
    out.push(
      `Restore time (drill of backup ${b.rto.backupId}, ${relative(b.rto.at, now)}): ${(b.rto.measuredMs / 1000).toFixed(1)}s for ${b.rto.secretsRestored} Secrets; ` +
        `projected full restore into an empty cluster: ${(b.rto.projectedFullRestoreMs / 1000).toFixed(1)}s`,
    );
  }
  return out;
}

/**
 * A DR site's fleet, one row per cluster: its newest authenticated scheduled backup, whether that
 * is fresh, its latest drill and result, and the projected RTO of the newest drill that
 * measured one (`-` when none did).
 */
function fleetSection(r: StatusReport, now: Date, color: boolean): string[] {
  const fleet = r.fleet ?? [];
  const problems = r.problems;
  const location = r.fleetDiscovery?.location ?? fleet[0]?.location.replace(/\/[^/]+\/backups\/$/, '') ?? '';
  const rows = fleet.map((b) => {
    const latest = b.drills.latest;
    return [
      b.cluster,
      b.newestScheduled ? `${b.newestScheduled.id} (${relative(b.newestScheduled.createdAt, now)})` : b.ambiguous ? 'AMBIGUOUS' : 'NONE',
      b.freshness ? (b.freshness.fresh ? 'ok' : 'STALE') : '-',
      latest ? `${relative(latest.at, now)}${latest.verified ? '' : ' (unverified)'}` : 'never',
      latest ? (latest.result === 'pass' ? 'pass' : latest.result.toUpperCase()) : '-',
      b.drills.maxAgeMs === 0 ? 'not checked' : b.drills.ok ? 'ok' : 'OVERDUE',
      b.rto ? `${(b.rto.projectedFullRestoreMs / 1000).toFixed(1)}s` : '-',
    ];
  });
  const marks: Mark[] = fleet.map((b) =>
    problems.some((p) => p.subject.startsWith(`${b.cluster}/`)) ? 'red' : b.drills.latest?.result === 'fail' ? 'yellow' : undefined,
  );
  // A discovered fleet maps fleet index i to the i-th row: the drill Job needs one completion per row.
  const discovered = r.fleetDiscovery
    ? ` (discovered, --fleet-allow ${r.fleetDiscovery.allow.join(',')}: the verify-restore Job needs completions: ${fleet.length}, index i drills row i)`
    : '';
  return [
    `FLEET: ${fleet.length} cluster${fleet.length === 1 ? '' : 's'} in ${location}${discovered}`,
    table(['CLUSTER', 'LAST BACKUP', 'FRESHNESS', 'LAST DRILL', 'RESULT', 'DRILLS', 'PROJECTED RTO'], rows, marks, color),
  ];
}

const KEY_MARK: Record<KeyStatus['state'], Mark> = { ok: undefined, expiring: 'yellow', expired: 'red', revoked: 'red', unusable: 'red' };

function keySection(keys: KeyStatus[], now: Date, color: boolean): string[] {
  if (keys.length === 0) return ['KEYS: none given (--recipient-key, --trusted-signer-key)'];
  const rows = keys.map((k) => [
    k.role,
    k.fingerprint,
    k.userId || '-',
    k.expiresAt ? `${k.expiresAt.slice(0, 10)} (${relative(k.expiresAt, now)})` : 'never',
    KEY_MARK[k.state] === 'red' ? k.state.toUpperCase() : k.state,
  ]);
  return [
    'KEYS',
    table(
      ['ROLE', 'FINGERPRINT', 'USER ID', 'EXPIRES', 'STATE'],
      rows,
      keys.map((k) => KEY_MARK[k.state]),
      color,
    ),
  ];
}

/** The overview for a terminal: one section per area, then what is overdue and the warnings. */
export function renderStatus(r: StatusReport, o: { color: boolean }): string {
  const now = new Date(r.generatedAt);
  const sections: string[][] = [
    [`secret-steward status at ${r.generatedAt}`, `Scope: ${describeScope(r.scope)}`],
    rotationSection(r.rotation, now, o.color),
  ];
  if (r.rotation.followed !== undefined && r.rotation.followed.length > 0) sections.push(followSection(r.rotation.followed, o.color));
  if (r.backups) sections.push(backupSection(r.backups, now, o.color));
  if (r.fleet) sections.push(fleetSection(r, now, o.color));
  sections.push(keySection(r.keys, now, o.color));
  if (r.problems.length > 0) {
    sections.push([
      paint(`OVERDUE (${r.problems.length}; exit 1)`, 'red', o.color),
      ...r.problems.map((p) => paint(`  ! ${p.kind} ${p.subject}: ${p.message}`, 'red', o.color)),
    ]);
  }
  if (r.warnings.length > 0) {
    sections.push([
      paint(`WARNINGS (${r.warnings.length})`, 'yellow', o.color),
      ...r.warnings.map((w) => paint(`  - ${w.kind} ${w.subject}: ${w.message}`, 'yellow', o.color)),
    ]);
  }
  if (r.problems.length === 0)
    sections.push([
      `Nothing overdue${r.warnings.length > 0 ? ` (${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'})` : ''}.`,
    ]);
  return `${sections.map((s) => s.join('\n')).join('\n\n')}\n`;
}
