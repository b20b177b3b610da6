import { loadRecipientKeys, loadSigningKey } from '../crypto/keys.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { errorText, exitCodeFor } from '../errors/index.js';
import { createKubeClients, loadKubeConfig } from '../kube/client.js';
import { KubeEventRecorder } from '../kube/events.js';
import { jobEventSubject, reportKeyWarnings } from '../kube/job-events.js';
import { toolNamespace, withJobLock } from '../kube/job-lock.js';
import { KubeSecretStore } from '../kube/secrets.js';
import { pushMetrics } from '../metrics/pushgateway.js';
import type { CommandContext } from '../runtime/command.js';
import { formatBytes, renderTable } from '../runtime/format.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { BackupLayout } from './backup-layout.js';
import { type BackupSettings, DEFAULT_EXCLUDED_TYPES } from './backup-settings.js';
import { planBackup } from './plan-backup.js';
import { pruneBackups } from './prune.js';
import { isEmptyPolicy } from './retention.js';
import { retentionPolicyOf } from './retention-settings.js';
import { type BackupResult, cleanUpAbandonedBackup, runBackup } from './run-backup.js';
import type { SecretSelection } from './secret-source.js';

const MIB = 1024 * 1024;

export function selectionOf(s: Pick<BackupSettings, 'namespace' | 'excludeNamespace' | 'selector' | 'excludeType'>): SecretSelection {
  return {
    namespaces: s.namespace,
    excludeNamespaces: s.excludeNamespace,
    selector: s.selector,
    excludeTypes: [...new Set([...DEFAULT_EXCLUDED_TYPES, ...s.excludeType])],
  };
}

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
  const signing = s.signingKey
    ? await loadSigningKey(s.signingKey, s.signingKeyPassphraseFile, { now, warnWithinMs: s.keyExpiryWarning })
    : undefined;
  const kube = createKubeClients(loadKubeConfig(s, ctx.io.env), {
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const secrets = new KubeSecretStore(kube.core, kube.caller, ctx.log);
  const selection = selectionOf(s);

  if (s.dryRun) {
    const plan = await planBackup(secrets, selection, { pageSize: s.pageSize, log: ctx.log });
    if (s.output === 'json') ctx.io.stdout.write(`${JSON.stringify({ dryRun: true, ...plan }, null, 2)}\n`);
    else {
      const rows = Object.entries(plan.byNamespace)
        .sort(([a], [b]) => a.localeCompare(b))
        .flatMap(([ns, byType]) => Object.entries(byType).map(([type, n]) => [ns, type, String(n)]));
      ctx.io.stdout.write(`Dry run: nothing written. Would back up ${plan.secrets} Secrets (${formatBytes(plan.dataBytes)} of data):\n`);
      ctx.io.stdout.write(renderTable(['NAMESPACE', 'TYPE', 'SECRETS'], rows));
    }
    for (const w of [...warnings, ...(signing?.warnings ?? [])]) ctx.log.warn({ fingerprint: w.fingerprint }, w.message);
    return ExitCode.Success;
  }

  const ns = toolNamespace(s);
  const subject = jobEventSubject('backup', ns);
  const events = new KubeEventRecorder(kube.core, kube.caller, ctx.clock, ctx.log, ctx.identity);
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  await reportKeyWarnings([...warnings, ...(signing?.warnings ?? [])], ctx, events, subject);

  return withJobLock('backup', s, kube, ctx, async (lock) => {
    await cleanUpAbandonedBackup(lock.inherited, store, layout, ctx.log);
    let result: BackupResult;
    try {
      result = await runBackup(
        {
          secrets,
          store,
          layout,
          recipients,
          signingKey: signing?.key,
          log: ctx.log,
          clock: ctx.clock,
          shutdown: ctx.shutdown,
          inFlight: lock,
        },
        {
          selection,
          compression: s.compression,
          segmentBytes: s.segmentSize * MIB,
          pageSize: s.pageSize,
          allowEmpty: s.allowEmpty,
          allowShrink: s.allowShrink,
          shrinkThreshold: s.shrinkThreshold,
        },
      );
    } catch (e) {
      const message = errorText(e);
      await events.record({ subject, type: 'Warning', reason: 'BackupFailed', message: `backup failed: ${message}`, action: 'Backup' });
      await pushBackupMetrics(s, ctx, undefined);
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
    await pushBackupMetrics(s, ctx, result);
    const pruneCode = await maybePrune(s, ctx, store, layout);
    printSummary(s.output, ctx, result);
    return pruneCode;
  });
}

async function maybePrune(s: BackupSettings, ctx: CommandContext, store: ObjectStore, layout: BackupLayout): Promise<ExitCodeValue> {
  const policy = retentionPolicyOf(s);
  if (isEmptyPolicy(policy)) return ExitCode.Success;
  try {
    const r = await pruneBackups(store, layout, policy, {
      now: ctx.clock.now(),
      incompleteGraceMs: s.incompleteGrace,
      dryRun: false,
      log: ctx.log,
      checkpoint: () => ctx.shutdown.checkpoint(),
    });
    ctx.log.info(
      { deletedBackups: r.deletedBackups, deletedBytes: r.deletedBytes, kept: r.decisions.filter((d) => d.keep).length },
      'retention applied',
    );
    return ExitCode.Success;
  } catch (e) {
    // The backup itself is complete; a failed prune is reported but does not undo it.
    ctx.log.error({ err: e }, 'retention failed after a successful backup');
    return exitCodeFor(e) === ExitCode.Interrupted ? ExitCode.Interrupted : ExitCode.Failed;
  }
}

async function pushBackupMetrics(s: BackupSettings, ctx: CommandContext, r: BackupResult | undefined): Promise<void> {
  if (!s.pushgateway) return;
  const samples = [{ name: 'secret_steward_backup_success', help: '1 if the last backup run succeeded, else 0', value: r ? 1 : 0 }];
  if (r) {
    samples.push(
      {
        name: 'secret_steward_backup_last_success_timestamp_seconds',
        help: 'Completion time of the last successful backup',
        value: Math.floor(ctx.clock.now().getTime() / 1000),
      },
      { name: 'secret_steward_backup_duration_seconds', help: 'Duration of the last successful backup', value: r.durationMs / 1000 },
      { name: 'secret_steward_backup_items', help: 'Secrets in the last successful backup', value: r.secrets },
      { name: 'secret_steward_backup_bytes', help: 'Bytes stored by the last successful backup', value: r.storedBytes },
    );
  }
  await pushMetrics(s.pushgateway, 'secret-steward-backup', { cluster: s.clusterName }, samples, ctx.log);
}

function printSummary(output: 'text' | 'json', ctx: CommandContext, r: BackupResult): void {
  if (output === 'json') {
    ctx.io.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  ctx.io.stdout.write(
    `Backup ${r.backupId} complete: ${r.secrets} Secrets from ${Object.keys(r.perNamespace).length} namespaces in ${r.segments} segment(s), ` +
      `${formatBytes(r.storedBytes)} stored (${formatBytes(r.plaintextBytes)} before compression and encryption), ${(r.durationMs / 1000).toFixed(1)}s.\n` +
      `Location: ${r.location}\n`,
  );
}
