import { isValidClusterName } from '../backup/backup-layout.js';
import { clusterSetting } from '../backup/backup-settings.js';
import { fleetDiscoveryProblems, fleetDiscoverySettings } from '../backup/fleet-discovery.js';
import {
  booleanSetting,
  durationSetting,
  enumSetting,
  fileSetting,
  integerSetting,
  type SettingsOf,
  stringSetting,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { logSettings, progressSettings } from '../log/log-settings.js';
import { metricsSettings } from '../metrics/pushgateway.js';
import { cronProblem, isValidTimeZone } from '../runtime/cron-schedule.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { fleetDrillNamespace } from './fleet.js';
import { backupChoiceSetting, verificationKeySettings } from './verification-settings.js';

const FRESH = 'Freshness';
const DRILL = 'Drill';
const REPORT = 'Report';
const DEEP = 'Deep check';
const FLEET = 'Fleet (DR site)';

export const verifyRestoreSettings = {
  clusterName: {
    ...clusterSetting.clusterName,
    required: false,
    description:
      'Name of the cluster whose backups are drilled (<store>/<cluster-name>/). Required unless --fleet-cluster or --fleet-discover is given (then the completion index picks the cluster).',
  },
  ...storeSettings,
  ...backupChoiceSetting,
  backupSchedule: stringSetting({
    description:
      "The backup CronJob's schedule (5 cron fields or @hourly/@daily/...), to check that the newest backup is as recent as it should be. Without it the freshness check is skipped.",
    valueName: 'CRON',
    group: FRESH,
  }),
  backupTimezone: stringSetting({
    description: "IANA time zone of --backup-schedule (the CronJob's spec.timeZone), e.g. Europe/Berlin.",
    valueName: 'ZONE',
    default: 'UTC',
    group: FRESH,
  }),
  freshnessGrace: durationSetting({
    description:
      'How long after a scheduled time its backup may still be missing (it may be running) before the drill calls the backups stale.',
    default: 3_600_000,
    group: FRESH,
  }),
  ...verificationKeySettings,
  // Not for --fleet-plan, which reads no backup: required in validateVerifyRestoreSettings.
  decryptionKey: {
    ...verificationKeySettings.decryptionKey,
    description: `${verificationKeySettings.decryptionKey.description} Required, except with --fleet-plan.`,
    required: false,
  },
  drillNamespace: stringSetting({
    description:
      'Namespace the drill restores into (create, read back, delete; in batches). It must exist: the drill never creates namespaces, so that its RBAC can be limited to this one namespace.',
    valueName: 'NAMESPACE',
    required: true,
    pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    expected: 'a namespace name (DNS-1123 label)',
    group: DRILL,
  }),
  drillConcurrency: integerSetting({
    description: 'Creates of drill copies in flight at once.',
    min: 1,
    max: 32,
    default: 4,
    group: DRILL,
  }),
  drillBatchSecrets: integerSetting({
    description:
      'Secrets per batch: the drill creates a batch, reads it back with one list, compares it and deletes it with one deletecollection while it creates the next, so the drill namespace never holds more than two batches.',
    min: 1,
    max: 1000,
    default: 250,
    group: DRILL,
  }),
  drillBatchMib: integerSetting({
    description:
      "MiB of Secret data (base64, as sent) per batch, whichever of this and --drill-batch-secrets is reached first. Bounds the drill's memory and what the drill namespace holds in etcd.",
    min: 1,
    max: 64,
    default: 8,
    group: DRILL,
  }),
  compareLive: booleanSetting({
    description:
      'Also compare the backup with the live Secrets of this cluster, by hashes only: created, deleted and changed since the backup. Reported, never a failure. Needs list on Secrets in the backed-up namespaces.',
    default: false,
    group: DRILL,
  }),
  pageSize: integerSetting({ description: 'Secrets per list request for --compare-live.', min: 10, max: 5000, default: 250, group: DRILL }),
  recipientKey: fileSetting({
    description:
      "Public key(s) the backups are encrypted to (the backup job's --recipient-key): warned about before they expire, and expected as recipients of the backup besides the decryption keys (see --strict-recipients). Optional.",
    repeatable: true,
    group: 'Key health',
  }),
  strictRecipients: booleanSetting({
    description:
      'Fail the drill (key health) when the backup is encrypted to a key that is neither a --decryption-key nor a --recipient-key given here (a recipient added to the backup keys can read every later backup), or when a retained backup is encrypted to none of the --decryption-key keys (after a key rollover: keep the old key or run rekey). Without it either is a warning (report, log and Event).',
    default: false,
    group: 'Key health',
  }),
  keyExpiryWarning: durationSetting({
    description: 'Warn (report, log and Event) about keys expiring within this long.',
    default: 30 * 86_400_000,
    group: 'Key health',
  }),
  reportSigningKey: fileSetting({
    description:
      "Armored OpenPGP private key that signs the stored report (detached .asc signature), so an auditor can verify who ran the drill. Not the backup job's --signing-key.",
    formerly: { flag: 'signing-key', env: 'SECRET_STEWARD_SIGNING_KEY' },
    group: REPORT,
  }),
  reportSigningKeyPassphraseFile: fileSetting({
    description: 'File holding the report signing key passphrase.',
    formerly: { flag: 'signing-key-passphrase-file', env: 'SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE' },
    group: REPORT,
  }),
  storeReport: booleanSetting({
    description:
      'Store the report next to the backups (<cluster>/reports/, needs PutObject there); list-backups shows the last result per backup. --no-store-report for read-only storage credentials.',
    default: true,
    group: REPORT,
  }),
  storedReportDetail: enumSetting(['full', 'summary'] as const, {
    description:
      'full: the stored report includes findings and per-namespace results, i.e. namespace and Secret NAMES (never values) in clear in the bucket. summary: checks, counts and durations only, so the bucket keeps revealing nothing but counts and sizes.',
    default: 'full',
    group: REPORT,
  }),
  output: outputSetting({
    description: 'text: a readable summary.',
    wide: false,
    manifests:
      "with --fleet-plan, the Kubernetes objects the fleet needs besides the dr-site-verify-only overlay (a drill namespace with its quota, Role and RoleBinding per index; the Job's completions and parallelism and the Lease names as partial objects), for `kubectl apply --server-side --field-manager secret-steward-fleet-plan --force-conflicts -f -` (docs/dr-site.md).",
    group: REPORT,
  }),
  deepCheckCycle: durationSetting({
    description:
      "Deep check: besides the drilled backup, verify every other retained backup whole (seal, signature, SHA-256 of each segment, decryption, every Secret's hash; nothing restored) at least once per this long, the ones verified longest ago first, as signed drill reports show (needs --report-signing-key). 0 turns it off. Its time is reported apart from the drill's.",
    default: 7 * 86_400_000,
    group: DEEP,
  }),
  deepCheckPerRun: integerSetting({
    description:
      'Most backups one drill deep-checks. 0: every retained backup neither verified nor created within --deep-check-cycle (with daily backups and drills that is about one a day). Set it to spread a first run or a long retention over several drills.',
    min: 0,
    max: 1000,
    default: 0,
    group: DEEP,
  }),
  fleetCluster: stringSetting({
    description:
      "Drill one cluster of a fleet sharing the store, instead of --cluster-name: the clusters in order, and --fleet-index (the Indexed Job's JOB_COMPLETION_INDEX) picks the one this pod drills, into drill namespace <--drill-namespace>-<index> under Lease secret-steward-verify-restore-<index>. Run as an Indexed Job with completions = the number of clusters (manifests/overlays/dr-site-verify-only; docs/dr-site.md).",
    valueName: 'NAME',
    repeatable: true,
    pattern: /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    expected: 'a lower-case DNS label such as prod-eu-1',
    group: FLEET,
  }),
  fleetIndex: integerSetting({
    description:
      'Which cluster of --fleet-cluster this pod drills, from 0. The Job controller sets JOB_COMPLETION_INDEX in every pod of an Indexed Job; give it only to drill one member by hand.',
    min: 0,
    max: 999,
    extraEnv: ['JOB_COMPLETION_INDEX'],
    group: FLEET,
  }),
  ...fleetDiscoverySettings,
  fleetPlan: booleanSetting({
    description:
      "Drill nothing: print the fleet's index -> cluster -> drill namespace mapping (--fleet-cluster, or what --fleet-discover finds now) and the Job's completions to set, then exit 0; with -o manifests the objects to apply for that fleet. Reads the store only; no cluster access.",
    default: false,
    group: FLEET,
  }),
  ...metricsSettings,
  ...kubeSettings,
  ...lockSettings,
  ...logSettings,
  ...progressSettings,
} as const;

export type VerifyRestoreSettings = SettingsOf<typeof verifyRestoreSettings>;

export function validateVerifyRestoreSettings(s: VerifyRestoreSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  problems.push(...fleetProblems(s));
  if (!s.fleetPlan && s.decryptionKey.length === 0) {
    const key = verifyRestoreSettings.decryptionKey;
    problems.push(problemFor(verifyRestoreSettings, 'decryptionKey', `is required (${key.valueName ?? 'FILE'}): ${key.description}`));
  }
  if (!isValidTimeZone(s.backupTimezone)) {
    problems.push(
      problemFor(
        verifyRestoreSettings,
        'backupTimezone',
        `unknown time zone "${s.backupTimezone}" (expected an IANA name such as UTC or Europe/Berlin)`,
      ),
    );
  } else if (s.backupSchedule !== undefined) {
    const p = cronProblem(s.backupSchedule, s.backupTimezone);
    if (p !== undefined)
      problems.push(problemFor(verifyRestoreSettings, p.field === 'schedule' ? 'backupSchedule' : 'backupTimezone', p.message));
  }
  if (s.reportSigningKeyPassphraseFile !== undefined && s.reportSigningKey === undefined)
    problems.push(problemFor(verifyRestoreSettings, 'reportSigningKeyPassphraseFile', 'needs --report-signing-key'));
  if (s.decryptionKeyPassphraseFile !== undefined && s.decryptionKey.length === 0)
    problems.push(problemFor(verifyRestoreSettings, 'decryptionKeyPassphraseFile', 'needs --decryption-key'));
  return problems;
}

/** Either one cluster (--cluster-name) or a fleet whose completion index is known and in range. */
function fleetProblems(s: VerifyRestoreSettings): ConfigProblem[] {
  if (s.fleetPlan) return planProblems(s);
  if (s.output === 'manifests')
    return [problemFor(verifyRestoreSettings, 'output', 'manifests needs --fleet-plan (a drill prints a report)')];
  if (s.fleetDiscover) return discoveredFleetProblems(s);
  const problems: ConfigProblem[] = fleetDiscoveryProblems(verifyRestoreSettings, s);
  const fleet = s.fleetCluster;
  if (fleet.length === 0) {
    if (s.clusterName === undefined)
      problems.push(
        problemFor(
          verifyRestoreSettings,
          'clusterName',
          'is required (NAME): the cluster whose backups are drilled, or give --fleet-cluster',
        ),
      );
    else if (!isValidClusterName(s.clusterName))
      problems.push(problemFor(verifyRestoreSettings, 'clusterName', 'expected a lower-case DNS label'));
    return problems;
  }
  if (s.clusterName !== undefined)
    problems.push(
      problemFor(
        verifyRestoreSettings,
        'clusterName',
        'cannot be given with --fleet-cluster: the completion index picks the cluster from the fleet',
      ),
    );
  const twice = fleet.filter((c, i) => fleet.indexOf(c) !== i);
  if (twice.length > 0)
    problems.push(problemFor(verifyRestoreSettings, 'fleetCluster', `lists ${[...new Set(twice)].join(', ')} more than once`));
  if (s.fleetIndex === undefined)
    problems.push(
      problemFor(
        verifyRestoreSettings,
        'fleetIndex',
        'is required with --fleet-cluster: run as an Indexed Job (completionMode: Indexed), whose pods get JOB_COMPLETION_INDEX',
      ),
    );
  else if (s.fleetIndex >= fleet.length)
    problems.push(
      problemFor(
        verifyRestoreSettings,
        'fleetIndex',
        `is ${s.fleetIndex}, but --fleet-cluster lists ${fleet.length} cluster(s): the Job's completions must equal the number of clusters`,
      ),
    );
  else if (fleetDrillNamespace(s.drillNamespace, s.fleetIndex).length > 63)
    problems.push(
      problemFor(verifyRestoreSettings, 'drillNamespace', `with the index appended (-${s.fleetIndex}) is longer than 63 characters`),
    );
  return problems;
}

/** A discovered fleet: the allow-list and a completion index; whether the index is in range is known only once the store is listed. */
function discoveredFleetProblems(s: VerifyRestoreSettings): ConfigProblem[] {
  const problems = fleetDiscoveryProblems(verifyRestoreSettings, s);
  if (s.fleetIndex === undefined)
    problems.push(
      problemFor(
        verifyRestoreSettings,
        'fleetIndex',
        'is required with --fleet-discover: run as an Indexed Job (completionMode: Indexed), whose pods get JOB_COMPLETION_INDEX',
      ),
    );
  else if (fleetDrillNamespace(s.drillNamespace, s.fleetIndex).length > 63)
    problems.push(
      problemFor(verifyRestoreSettings, 'drillNamespace', `with the index appended (-${s.fleetIndex}) is longer than 63 characters`),
    );
  return problems;
}

/** --fleet-plan: a fleet to plan, listed or discovered; a completion index is not needed (the plan covers every index). */
function planProblems(s: VerifyRestoreSettings): ConfigProblem[] {
  const problems = fleetDiscoveryProblems(verifyRestoreSettings, s);
  if (!s.fleetDiscover && s.fleetCluster.length === 0)
    problems.push(problemFor(verifyRestoreSettings, 'fleetPlan', 'needs --fleet-cluster or --fleet-discover (the fleet to plan)'));
  return problems;
}
