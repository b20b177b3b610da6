import { loadRecipientKeys, loadSigningKey } from '../crypto/keys.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { errorText, exitCodeFor } from '../errors/index.js';
import { createKubeClients, loadKubeConfig } from '../kube/client.js';
import { readClusterUid } from '../kube/cluster-identity.js';
import { KubeEventRecorder } from '../kube/events.js';
import { jobEventSubject, reportKeyWarnings } from '../kube/job-events.js';
import { toolNamespace, withJobLock } from '../kube/job-lock.js';
import { namespacesToList, type Scope, scopeOf } from '../kube/scope.js';
import { KubeSecretStore } from '../kube/secrets.js';
import { epochSeconds, keyExpirySamples, METRICS, type MetricSample, sample } from '../metrics/catalogue.js';
import { pushMetrics } from '../metrics/pushgateway.js';
import type { CommandContext } from '../runtime/command.js';
import { formatBytes, renderTable } from '../runtime/format.js';
import { isDocumentOutput, type OutputFormat, renderDocument } from '../runtime/output.js';
import { Progress } from '../runtime/progress.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { latestAuthenticated, readCatalogue } from './backup-catalog.js';
import { BackupLayout } from './backup-layout.js';
import type { SealTrust } from './backup-seal.js';
import { type BackupSettings, DEFAULT_EXCLUDED_TYPES } from './backup-settings.js';
import { loadSealTrust } from './catalogue-settings.js';
import { planBackup } from './plan-backup.js';
import { finishAbandonedDeletion } from './prune.js';
import { isEmptyPolicy } from './retention.js';
import { type RetentionPassDeps, retentionPass } from './retention-pass.js';
import { retentionPolicyOf } from './retention-settings.js';
import { type BackupOptions, type BackupResult, cleanUpAbandonedBackup, runBackup } from './run-backup.js';
import type { SecretSelection } from './secret-source.js';

const MIB = 1024 * 1024;

/** What a backup covers; within a namespaced scope, its namespaces unless `--namespace` narrows them. */
export function selectionOf(
  s: Pick<BackupSettings, 'namespace' | 'excludeNamespace' | 'selector' | 'excludeType'>,
  scope: Scope = { kind: 'cluster' },
): SecretSelection {
  return {
    namespaces: namespacesToList(s.namespace, scope),
    excludeNamespaces: s.excludeNamespace,
    selector: s.selector,
    excludeTypes: [...new Set([...DEFAULT_EXCLUDED_TYPES, ...s.excludeType])],
  };
}

/** Versions of the `-o json` / `-o yaml` documents (the summary, the dry-run plan); changes are listed in CHANGELOG.md. */
export const BACKUP_FORMAT = 'secret-steward.io/backup/v1';
export const BACKUP_PLAN_FORMAT = 'secret-steward.io/backup-plan/v1';

/**
 * `secret-steward backup`: builds the dependencies from settings, then either prints the plan
 * (`--dry-run`, no writes at all) or takes the backup under the job's Lease, records an Event,
 * pushes metrics, applies retention when configured, and prints a summary.
 */
export async function runBackupJob(s: BackupSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const now = ctx.clock.now();
  // Keys first: an expired or revoked key fails the run before anything is listed or uploaded.
  const { keys: recipients, warnings } = await loadRecipientKeys(s.recipientKey, {
    now,
    warnWithinMs: s.keyExpiryWarning,
    setting: '--recipient-key / SECRET_STEWARD_RECIPIENT_KEY',
  });
  const signing = await loadSigningKey(s.signingKey, s.signingKeyPassphraseFile, { now, warnWithinMs: s.keyExpiryWarning });
  const kc = loadKubeConfig(s, ctx.io.env);
  const kube = createKubeClients(kc, {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const secrets = new KubeSecretStore(kube.core, kube.caller, ctx.log, kc);
  const selection = selectionOf(s, scopeOf(s));
  // Before anything is read or written, the dry run included: a signing key the configured
  // --trusted-signer-key does not list would seal backups every reader calls forged.
  const ownTrust = await loadSealTrust(s, { now, own: { kind: 'scheduled', key: signing.key }, unlistedOwn: 'refuse-unless-empty' });

  if (s.dryRun) {
    const plan = await planBackup(secrets, selection, { pageSize: s.pageSize, log: ctx.log });
    if (isDocumentOutput(s.output)) ctx.io.stdout.write(renderDocument({ format: BACKUP_PLAN_FORMAT, dryRun: true, ...plan }, s.output));
    else {
      const rows = Object.entries(plan.byNamespace)
        .sort(([a], [b]) => a.localeCompare(b))
        .flatMap(([ns, byType]) => Object.entries(byType).map(([type, n]) => [ns, type, String(n)]));
      ctx.io.stdout.write(`Dry run: nothing written. Would back up ${plan.secrets} Secrets (${formatBytes(plan.dataBytes)} of data):\n`);
      ctx.io.stdout.write(renderTable(['NAMESPACE', 'TYPE', 'SECRETS'], rows));
    }
    for (const w of [...warnings, ...signing.warnings]) ctx.log.warn({ fingerprint: w.fingerprint }, w.message);
    return ExitCode.Success;
  }

  const ns = toolNamespace(s);
  const subject = jobEventSubject('backup', ns);
  const events = new KubeEventRecorder(kube.core, kube.caller, ctx.clock, ctx.log, ctx.identity);
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  await reportKeyWarnings([...warnings, ...signing.warnings], ctx, events, subject);
  const clusterUid = await readClusterUid(kube.core, kube.caller);
  const trust = { ...ownTrust, clusterUid };

  const usedKeys = [
    ...recipients.map((k) => ({ role: 'recipient' as const, fingerprint: k.fingerprint, expiresAt: k.expiresAt })),
    { role: 'signing' as const, fingerprint: signing.key.fingerprint, expiresAt: signing.key.expiresAt },
  ];

  return withJobLock('backup', s, kube, ctx, async (lock) => {
    await cleanUpAbandonedBackup(lock.inherited, store, layout, ctx.log);
    await finishAbandonedDeletion(lock.inherited, store, layout, ctx.log);
    const previous = await previousBackup(store, layout, trust, ctx);
    let result: BackupResult;
    try {
      result = await runBackup(
        {
          secrets,
          store,
          layout,
          recipients,
          signingKey: signing.key,
          clusterUid,
          log: ctx.log,
          clock: ctx.clock,
          shutdown: ctx.shutdown,
          inFlight: lock,
          progress: new Progress({ log: ctx.log, clock: ctx.clock, intervalMs: s.progressInterval, line: ctx.statusLine }),
        },
        {
          selection,
          compression: s.compression,
          segmentBytes: s.segmentSize * MIB,
          pageSize: s.pageSize,
          allowEmpty: s.allowEmpty,
          allowShrink: s.allowShrink,
          shrinkThreshold: s.shrinkThreshold,
          previous,
        },
      );
    } catch (e) {
      const message = errorText(e);
      await events.record({ subject, type: 'Warning', reason: 'BackupFailed', message: `backup failed: ${message}`, action: 'Backup' });
      await pushBackupMetrics(s, ctx, { keys: usedKeys });
      throw e;
    }
    ctx.log.info(
      {
        backupId: result.backupId,
        secrets: result.secrets,
        segments: result.segments,
        storedBytes: result.storedBytes,
        durationMs: result.durationMs,
      },
      'backup complete',
    );
    await events.record({
      subject,
      type: 'Normal',
      reason: 'BackupCompleted',
      message: `backup ${result.backupId}: ${result.secrets} Secrets in ${result.segments} segments, ${formatBytes(result.storedBytes)} stored`,
      action: 'Backup',
    });
    const pruned = await maybePrune(
      s,
      ctx,
      {
        store,
        layout,
        // Judged now, not at the start of the run: the seal this run just wrote is signed after
        // that, and a signature dated after `trust.now` does not verify (it was reported forged).
        trust: { ...trust, now: ctx.clock.now() },
        log: ctx.log,
        clock: ctx.clock,
        cluster: { coordination: kube.coordination, caller: kube.caller, namespace: ns },
        events: { recorder: events, subject },
        inFlight: lock,
        checkpoint: () => ctx.shutdown.checkpoint(),
      },
      result.backupId,
    );
    await pushBackupMetrics(s, ctx, { result, retention: pruned.retention, keys: usedKeys });
    const warnings = store.warnings();
    printSummary(s.output, ctx, {
      ...result,
      ...(pruned.retention ? { retention: pruned.retention } : {}),
      ...(warnings.length > 0 ? { warnings: [...warnings] } : {}),
    });
    return pruned.code;
  });
}

/**
 * The newest authenticated scheduled backup and its SEALED Secret count: what the shrink guard
 * compares with. Object metadata is never used for it: anyone who can write the bucket could
 * set it. Without one (a first backup, or only backups made before seals existed) the guard
 * has nothing to compare with, and says so.
 */
async function previousBackup(
  store: ObjectStore,
  layout: BackupLayout,
  trust: SealTrust,
  ctx: CommandContext,
): Promise<BackupOptions['previous']> {
  const latest = latestAuthenticated(await readCatalogue(store, layout, trust), layout.cluster, 'scheduled');
  if (latest === undefined) {
    ctx.log.info('no authenticated earlier backup: the shrink guard has nothing to compare with this time');
    return undefined;
  }
  return { id: latest.id, secrets: latest.seal.totals.secrets };
}

/** What backup's retention did, for its result: counts, and what the store kept. */
export interface RetentionSummary {
  deletedBackups: number;
  deletedBytes: number;
  kept: number;
  /** Backups retention would delete that the store keeps (an Object Lock), with why. */
  keptByStore: string[];
  /** Objects under the prefix that are not authenticated backups (reported, left alone). */
  unauthenticated: number;
  /** Why nothing was deleted, when retention refused. */
  refused?: string;
}

async function maybePrune(
  s: BackupSettings,
  ctx: CommandContext,
  deps: RetentionPassDeps,
  written: string,
): Promise<{ code: ExitCodeValue; retention?: RetentionSummary }> {
  if (isEmptyPolicy(retentionPolicyOf(s))) return { code: ExitCode.Success };
  try {
    const r = await retentionPass(deps, s, {
      dryRun: false,
      protect: new Map([[written, 'written by this run']]),
      incompleteGraceMs: s.incompleteGrace,
    });
    const retention: RetentionSummary = {
      deletedBackups: r.deletedBackups,
      deletedBytes: r.deletedBytes,
      kept: r.decisions.filter((d) => d.keep).length,
      keptByStore: r.keptByStore.map((k) => `${k.id}: ${k.reason}`),
      unauthenticated: r.unauthenticated.filter((u) => !u.inProgress).length,
      ...(r.refused !== undefined ? { refused: r.refused } : {}),
    };
    ctx.log.info(retention, 'retention applied');
    return { code: r.refused === undefined ? ExitCode.Success : ExitCode.Failed, retention };
  } catch (e) {
    // The backup itself is complete; a failed prune is reported but does not undo it.
    ctx.log.error({ err: e }, 'retention failed after a successful backup');
    return { code: exitCodeFor(e) === ExitCode.Interrupted ? ExitCode.Interrupted : ExitCode.Failed };
  }
}

/** What the backup run pushes: the backup's numbers when one was written, and the keys it used. */
export function backupMetrics(
  now: Date,
  o: { result?: BackupResult; retention?: RetentionSummary; keys: Parameters<typeof keyExpirySamples>[0] },
): MetricSample[] {
  const m = METRICS.backup;
  const r = o.result;
  const samples = [sample(m.success, r ? 1 : 0), sample(m.lastRun, epochSeconds(now)), ...keyExpirySamples(o.keys)];
  if (r) {
    samples.push(
      sample(m.lastSuccess, epochSeconds(now)),
      sample(m.duration, r.durationMs / 1000),
      sample(m.secrets, r.secrets),
      sample(m.size, r.storedBytes),
    );
  }
  // Only when retention listed the catalogue: without a policy the backup run does not look.
  if (o.retention !== undefined) samples.push(sample(METRICS.unauthenticatedBackups, o.retention.unauthenticated));
  return samples;
}

async function pushBackupMetrics(s: BackupSettings, ctx: CommandContext, o: Parameters<typeof backupMetrics>[1]): Promise<void> {
  if (!s.pushgateway) return;
  await pushMetrics(s.pushgateway, 'backup', s.clusterName, backupMetrics(ctx.clock.now(), o), ctx.log);
}

/**
 * The run's result: the backup, what retention did (when a policy is set), and what the store
 * was asked for and did not confirm (`--s3-sse`, Object Lock), so that no report claims it.
 */
function printSummary(
  output: OutputFormat,
  ctx: CommandContext,
  r: BackupResult & { retention?: RetentionSummary; warnings?: string[] },
): void {
  if (isDocumentOutput(output)) {
    ctx.io.stdout.write(renderDocument({ format: BACKUP_FORMAT, ...r }, output));
    return;
  }
  const lines = [
    `Backup ${r.backupId} complete: ${r.secrets} Secrets from ${Object.keys(r.perNamespace).length} namespaces in ${r.segments} segment(s), ` +
      `${formatBytes(r.storedBytes)} stored (${formatBytes(r.plaintextBytes)} before compression and encryption), ${(r.durationMs / 1000).toFixed(1)}s.`,
    `Location: ${r.location}`,
  ];
  const t = r.retention;
  if (t !== undefined) {
    lines.push(
      t.refused !== undefined
        ? `Retention refused to delete: ${t.refused}`
        : `Retention: kept ${t.kept}, deleted ${t.deletedBackups} backup(s) (${formatBytes(t.deletedBytes)}).`,
    );
    for (const k of t.keptByStore) lines.push(`Retention: not deleted, ${k}`);
    if (t.unauthenticated > 0)
      lines.push(`Retention: ${t.unauthenticated} backup id(s) under the prefix are not authenticated: left alone (see list-backups).`);
  }
  for (const w of r.warnings ?? []) lines.push(`Warning: ${w}`);
  ctx.io.stdout.write(`${lines.join('\n')}\n`);
}
