/**
 * Every metric secret-steward pushes, in one table: name, help, labels (beyond the `job` and
 * `cluster` grouping labels every push carries) and the commands that push it. The jobs build
 * their samples from these entries, and the tests check the PrometheusRule, the Grafana
 * dashboard and docs/monitoring.md against the table, so a query cannot name a metric that no
 * job pushes.
 *
 * Naming follows https://prometheus.io/docs/practices/naming/: base units (`_seconds`,
 * `_bytes`, `_timestamp_seconds`), one name per concept with the outcome in a label, no
 * `_total` (every metric here is a gauge: a job pushes the numbers of its last run). Label
 * values are outcomes, key roles and OpenPGP fingerprints: never a Secret's name or value.
 */

/** The commands that push metrics; the Pushgateway `job` label is `secret-steward-<command>`. */
export const PUSHING_COMMANDS = ['backup', 'rotate', 'verify-restore', 'restore', 'prune'] as const;
export type PushingCommand = (typeof PUSHING_COMMANDS)[number];

/** The Pushgateway job name a command pushes under. */
export function pushJobName(command: PushingCommand): string {
  return `secret-steward-${command}`;
}

/** Labels every pushed series carries: the Pushgateway grouping. */
export const GROUPING_LABELS = ['job', 'cluster'] as const;

export interface MetricDefinition {
  name: string;
  help: string;
  /** Labels set per sample, with the values each can take (fingerprints: any). */
  labels: Readonly<Record<string, readonly string[] | 'fingerprint'>>;
  pushedBy: readonly PushingCommand[];
}

const ROTATE_RESULTS = ['rotated', 'failed', 'rolled_back', 'skipped', 'deferred'] as const;
const FOLLOW_RESULTS = ['restarted', 'current', 'failed', 'deferred'] as const;
const KEY_ROLES = ['recipient', 'signing', 'decryption', 'trusted_signer'] as const;

function perCommand(command: PushingCommand, prefix: string) {
  return {
    success: {
      name: `secret_steward_${prefix}_success`,
      help: `1 if the last ${command} run succeeded, else 0`,
      labels: {},
      pushedBy: [command],
    },
    lastRun: {
      name: `secret_steward_${prefix}_last_run_timestamp_seconds`,
      help: `When the last ${command} run finished, successful or not`,
      labels: {},
      pushedBy: [command],
    },
    lastSuccess: {
      name: `secret_steward_${prefix}_last_success_timestamp_seconds`,
      help: `When the last successful ${command} run finished`,
      labels: {},
      pushedBy: [command],
    },
    duration: {
      name: `secret_steward_${prefix}_duration_seconds`,
      help: `Duration of the last ${command} run`,
      labels: {},
      pushedBy: [command],
    },
  } satisfies Record<string, MetricDefinition>;
}

export const METRICS = {
  backup: {
    ...perCommand('backup', 'backup'),
    secrets: {
      name: 'secret_steward_backup_secrets',
      help: 'Secrets in the last successful backup',
      labels: {},
      pushedBy: ['backup'],
    },
    size: {
      name: 'secret_steward_backup_size_bytes',
      help: 'Bytes stored (compressed and encrypted) by the last successful backup',
      labels: {},
      pushedBy: ['backup'],
    },
  },
  rotate: {
    ...perCommand('rotate', 'rotate'),
    secrets: {
      name: 'secret_steward_rotate_secrets',
      help: 'Secrets with a rotation policy by what the last rotation run did with them',
      labels: { result: ROTATE_RESULTS },
      pushedBy: ['rotate'],
    },
    followedConsumers: {
      name: 'secret_steward_rotate_followed_consumers',
      help: 'Consumers of followed Secrets (follow mode) by what the last rotation run found: restarted and ready, already running the current data, failed (not running it), or deferred to the next run',
      labels: { result: FOLLOW_RESULTS },
      pushedBy: ['rotate'],
    },
  },
  drill: {
    ...perCommand('verify-restore', 'drill'),
    secrets: {
      name: 'secret_steward_drill_secrets',
      help: 'Secrets the last DR drill verified (read intact from the backup) and restored (byte-identical in the drill namespace)',
      labels: { result: ['verified', 'restored'] },
      pushedBy: ['verify-restore'],
    },
    backupAge: {
      name: 'secret_steward_drill_backup_age_seconds',
      help: 'Age of the backup the last DR drill verified, when the drill ran',
      labels: {},
      pushedBy: ['verify-restore'],
    },
    restoreTime: {
      name: 'secret_steward_drill_restore_seconds',
      help: 'How long the last DR drill took to read, verify and restore its backup into the drill namespace (measured RTO)',
      labels: {},
      pushedBy: ['verify-restore'],
    },
    projectedRestoreTime: {
      name: 'secret_steward_drill_projected_restore_seconds',
      help: 'The time to restore the whole backup into an empty cluster, projected from what the last DR drill measured',
      labels: {},
      pushedBy: ['verify-restore'],
    },
    deepCheckBackups: {
      name: 'secret_steward_drill_deep_check_backups',
      help: 'Retained backups the last DR drill verified whole besides the drilled one (deep check), by result',
      labels: { result: ['pass', 'fail', 'error'] },
      pushedBy: ['verify-restore'],
    },
    deepCheckDuration: {
      name: 'secret_steward_drill_deep_check_duration_seconds',
      help: "Duration of the last DR drill's deep check (not part of the drill's own duration)",
      labels: {},
      pushedBy: ['verify-restore'],
    },
    unverifiedInCycle: {
      name: 'secret_steward_drill_backups_unverified_in_cycle',
      help: 'Retained backups neither verified nor created within the deep-check cycle, after the last DR drill',
      labels: {},
      pushedBy: ['verify-restore'],
    },
    unreadableBackups: {
      name: 'secret_steward_drill_backups_unreadable',
      help: "Retained backups none of the last DR drill's decryption keys can read (encrypted only to keys the drill does not hold), by their seals",
      labels: {},
      pushedBy: ['verify-restore'],
    },
  },
  restore: {
    ...perCommand('restore', 'restore'),
    secrets: {
      name: 'secret_steward_restore_secrets',
      help: 'Secrets selected by the last restore, by what it did with them',
      labels: { result: ['created', 'overwritten', 'unchanged', 'skipped', 'failed'] },
      pushedBy: ['restore'],
    },
  },
  prune: {
    ...perCommand('prune', 'prune'),
    backups: {
      name: 'secret_steward_prune_backups',
      help: 'Authenticated backups the last prune kept and deleted',
      labels: { decision: ['kept', 'deleted'] },
      pushedBy: ['prune'],
    },
    deletedBytes: {
      name: 'secret_steward_prune_deleted_bytes',
      help: 'Bytes the last prune deleted',
      labels: {},
      pushedBy: ['prune'],
    },
  },
  unauthenticatedBackups: {
    name: 'secret_steward_unauthenticated_backups',
    help: "Backups (for the drill also stray objects) under the cluster's prefix that are not authenticated, found by the last run; backups still being written are not counted",
    labels: {},
    pushedBy: ['backup', 'verify-restore', 'prune'],
  },
  keyExpiry: {
    name: 'secret_steward_key_expiry_timestamp_seconds',
    help: 'When a key the last run used expires (keys that never expire are not listed), by role and fingerprint',
    labels: { role: KEY_ROLES, fingerprint: 'fingerprint' },
    pushedBy: ['backup', 'verify-restore'],
  },
} as const satisfies Record<string, MetricDefinition | Record<string, MetricDefinition>>;

/** Every metric of {@link METRICS}, flattened. */
export const ALL_METRICS: readonly MetricDefinition[] = Object.values(METRICS).flatMap((v) =>
  'name' in v ? [v as MetricDefinition] : Object.values(v as Record<string, MetricDefinition>),
);

/** One value to push: a metric of the catalogue, its labels and value. */
export interface MetricSample {
  metric: MetricDefinition;
  labels?: Record<string, string>;
  value: number;
}

/** A sample of `metric`; throws (a programming error) on a label the catalogue does not list. */
export function sample(metric: MetricDefinition, value: number, labels: Record<string, string> = {}): MetricSample {
  const given = Object.keys(labels).sort().join(',');
  const declared = Object.keys(metric.labels).sort().join(',');
  if (given !== declared) throw new Error(`metric ${metric.name}: labels {${given}} given, {${declared}} declared`);
  for (const [k, v] of Object.entries(labels)) {
    const allowed = metric.labels[k];
    if (allowed !== 'fingerprint' && !allowed.includes(v)) throw new Error(`metric ${metric.name}: ${k}="${v}" is not a declared value`);
    if (allowed === 'fingerprint' && !/^[0-9A-F]{16,64}$/.test(v)) throw new Error(`metric ${metric.name}: ${k} is not a fingerprint`);
  }
  return { metric, value, labels };
}

/** Seconds since the epoch, as the `_timestamp_seconds` metrics carry them. */
export function epochSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

/** A key's role in the run, as the `role` label of {@link METRICS.keyExpiry} says it. */
export type KeyRole = (typeof KEY_ROLES)[number];

/** The key-expiry samples of the keys a run used; keys that never expire have none. */
export function keyExpirySamples(keys: ReadonlyArray<{ role: KeyRole; fingerprint: string; expiresAt?: Date }>): MetricSample[] {
  return keys.flatMap((k) =>
    k.expiresAt === undefined ? [] : [sample(METRICS.keyExpiry, epochSeconds(k.expiresAt), { role: k.role, fingerprint: k.fingerprint })],
  );
}
