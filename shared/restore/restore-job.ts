import { BackupLayout } from '../backup/backup-layout.js';
import { readingNote } from '../backup/backup-readers.js';
import { loadSealTrust } from '../backup/catalogue-settings.js';
import { cleanUpAbandonedBackup } from '../backup/run-backup.js';
import { type KeyWarning, loadRecipientKeys, loadSigningKey, type RecipientKey } from '../crypto/index.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { errorText, InterruptedError } from '../errors/index.js';
import {
  createKubeClients,
  KubeEventRecorder,
  KubeNamespaceStore,
  KubeSecretStore,
  loadKubeConfig,
  READING_ANNOTATION,
  readClusterUid,
  toolNamespace,
  withJobLock,
} from '../kube/index.js';
import { jobEventSubject, reportKeyWarnings } from '../kube/job-events.js';
import { scopeOf } from '../kube/scope.js';
import { redactor } from '../log/index.js';
import { epochSeconds, METRICS, type MetricSample, sample } from '../metrics/catalogue.js';
import { pushMetrics } from '../metrics/pushgateway.js';
import { AdaptiveLimit } from '../runtime/adaptive-limit.js';
import type { CommandContext } from '../runtime/command.js';
import { renderTable } from '../runtime/format.js';
import { documentChunks, isDocumentOutput, type OutputFormat, writePieces } from '../runtime/output.js';
import { Progress } from '../runtime/progress.js';
import { createObjectStore } from '../storage/index.js';
import { loadVerificationKeys } from '../verify-restore/verification-keys.js';
import { RestoreSelection } from './restore-selection.js';
import type { RestoreSettings } from './restore-settings.js';
import { emptyRestoreReport, type RestoreReport, runRestore } from './run-restore.js';

/** Version of the `-o json` / `-o yaml` document; changes are listed in CHANGELOG.md. */
export const RESTORE_FORMAT = 'secret-steward.io/restore/v1';

/**
 * `secret-steward restore`: builds the dependencies, runs the restore (under the job's Lease
 * unless --dry-run), prints the plan and outcome per Secret, records an Event. Exit 0 when
 * every planned write succeeded (deliberate skips are fine), 1 when the backup failed
 * verification, the restore was refused, any Secret failed, or the backup holds a selected
 * Secret the API server would reject (it cannot be restored: a damaged or forged backup must
 * not pass for a complete restore; the others are still written).
 */
export async function runRestoreJob(s: RestoreSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const now = ctx.clock.now();
  const keys = await loadVerificationKeys(s);
  let recipients: RecipientKey[] = [];
  const warnings: KeyWarning[] = [];
  if (s.recipientKey.length > 0) {
    const r = await loadRecipientKeys(s.recipientKey, {
      now,
      warnWithinMs: s.keyExpiryWarning,
      setting: '--recipient-key / SECRET_STEWARD_RECIPIENT_KEY',
    });
    recipients = r.keys;
    warnings.push(...r.warnings);
  }
  const signing = s.preRestoreSigningKey
    ? await loadSigningKey(s.preRestoreSigningKey, s.preRestoreSigningKeyPassphraseFile, {
        now,
        warnWithinMs: s.keyExpiryWarning,
        setting: '--pre-restore-signing-key / SECRET_STEWARD_PRE_RESTORE_SIGNING_KEY',
        passphraseSetting: '--pre-restore-signing-key-passphrase-file / SECRET_STEWARD_PRE_RESTORE_SIGNING_KEY_PASSPHRASE_FILE',
      })
    : undefined;
  warnings.push(...(signing?.warnings ?? []));
  // Never refused here: a restore runs during an incident. When it seals a pre-restore backup
  // (the undo: --mode overwrite) that readers given the same list would not believe, it says so,
  // in the log and in its output.
  const trust = await loadSealTrust(s, signing ? { now, own: { kind: 'pre-restore', key: signing.key }, unlistedOwn: 'warn' } : { now });
  const ownKeyWarnings = s.mode === 'overwrite' ? trust.ownKeyWarnings : [];
  for (const w of ownKeyWarnings) ctx.log.warn({ setting: w.setting, fingerprint: w.fingerprint }, w.message);

  // Every 429 or 5xx any call of this job meets slows the Secret writes down.
  const writeLimit = new AdaptiveLimit({ max: s.restoreConcurrency, clock: ctx.clock });
  const kc = loadKubeConfig(s, ctx.io.env);
  const kube = createKubeClients(kc, {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
    congestion: writeLimit,
  });
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const scope = scopeOf(s);
  const selection = new RestoreSelection({
    namespaces: s.namespace,
    names: s.name,
    selector: s.selector,
    mapping: s.mapNamespace,
    ...(scope.kind === 'namespaces' ? { scope: scope.namespaces } : {}),
  });
  const deps = {
    // With the kubeconfig: each create is a plain JSON request (raw-request.ts), not the typed client's.
    secrets: new KubeSecretStore(kube.core, kube.caller, ctx.log, kc),
    namespaces: new KubeNamespaceStore(kube.core, kube.caller),
    store,
    layout,
    keys,
    recipients,
    trust,
    log: ctx.log,
    clock: ctx.clock,
    shutdown: ctx.shutdown,
    progress: new Progress({ log: ctx.log, clock: ctx.clock, intervalMs: s.progressInterval, line: ctx.statusLine }),
    writeLimit,
    spoolLimit: s.restoreSpoolLimit,
  };
  const options = {
    backup: s.backup,
    selection,
    mode: s.mode,
    recreateImmutable: s.recreateImmutable,
    createNamespaces: s.createNamespaces,
    dryRun: s.dryRun,
  };
  const report = emptyRestoreReport(options);
  report.warnings.push(...ownKeyWarnings.map((w) => w.message));

  if (s.dryRun) {
    for (const w of warnings) ctx.log.warn({ fingerprint: w.fingerprint }, w.message);
    try {
      await runRestore(deps, options, report);
    } catch (e) {
      await print(s.output, ctx, report, errorText(e));
      throw e;
    }
    await print(s.output, ctx, report);
    return incomplete(report) ? ExitCode.Failed : ExitCode.Success;
  }

  const subject = jobEventSubject('restore', toolNamespace(s), ctx.io.env, true);
  const events = new KubeEventRecorder(kube.core, kube.caller, ctx.clock, ctx.log, ctx.identity);
  await reportKeyWarnings(warnings, ctx, events, subject);
  let code: ExitCodeValue | undefined;
  try {
    code = await restoreUnderLock();
    return code;
  } finally {
    if (s.pushgateway !== undefined)
      await pushMetrics(s.pushgateway, 'restore', s.clusterName, restoreMetrics(report, code, ctx.clock.now()), ctx.log);
  }

  function restoreUnderLock(): Promise<ExitCodeValue> {
    return withJobLock('restore', s, kube, ctx, async (lock) => {
      await cleanUpAbandonedBackup(lock.inherited, deps.store, deps.layout, ctx.log);
      // The pre-restore backup records the UID of the cluster whose Secrets it saves: this one.
      const preRestore =
        signing && s.mode === 'overwrite'
          ? { signingKey: signing.key, clusterUid: await readClusterUid(kube.core, kube.caller) }
          : undefined;
      const reading = {
        record: (id: string | undefined) =>
          lock.record(id === undefined ? undefined : readingNote(id), READING_ANNOTATION).catch((e: unknown) => {
            if (e instanceof InterruptedError) throw e;
            ctx.log.warn({ err: e }, 'could not note on the Lease which backup the restore reads');
          }),
      };
      try {
        await runRestore({ ...deps, inFlight: lock, preRestore, reading }, options, report);
      } catch (e) {
        const message = errorText(e);
        const stopped = e instanceof InterruptedError ? 'stopped' : 'failed';
        await events.record({
          subject,
          type: 'Warning',
          reason: 'RestoreFailed',
          message: `restore from backup ${report.backupId ?? s.backup} ${stopped} (${report.counts.written} Secrets written): ${message}${undoHint(report)}`,
          action: 'Restore',
        });
        await print(s.output, ctx, report, message);
        throw e;
      }
      // What the store was asked for on the pre-restore backup and did not confirm (--s3-sse, Object Lock).
      report.warnings.push(...store.warnings());
      const failed = incomplete(report);
      await events.record({
        subject,
        type: failed ? 'Warning' : 'Normal',
        reason: failed ? 'RestoreFailed' : 'RestoreCompleted',
        message: `restore from backup ${report.backupId}: ${summaryLine(report)}${undoHint(report)}`,
        action: 'Restore',
      });
      ctx.log.info(
        { backupId: report.backupId, preRestoreBackupId: report.preRestoreBackupId, ...report.counts, durationMs: report.durationMs },
        failed ? 'restore finished with failures' : 'restore complete',
      );
      await print(s.output, ctx, report);
      return failed ? ExitCode.Failed : ExitCode.Success;
    });
  }
}

/**
 * The restore's gauges: success (exit 0), when it last ran and succeeded, its duration and the
 * selected Secrets by result. `code` is undefined when the restore stopped with an error.
 */
export function restoreMetrics(r: RestoreReport, code: ExitCodeValue | undefined, now: Date): MetricSample[] {
  const m = METRICS.restore;
  const ok = code === ExitCode.Success;
  const by = { created: 0, overwritten: 0, unchanged: 0, skipped: 0, failed: 0 };
  for (const p of r.items) {
    if (p.outcome === 'failed') by.failed++;
    else if (p.action === 'unchanged') by.unchanged++;
    else if (p.action === 'skip' || p.outcome === 'skipped') by.skipped++;
    else if (p.outcome === 'done') by[p.action === 'create' ? 'created' : 'overwritten']++;
  }
  const samples = [
    sample(m.success, ok ? 1 : 0),
    sample(m.lastRun, epochSeconds(now)),
    sample(m.duration, r.durationMs / 1000),
    ...Object.entries(by).map(([result, n]) => sample(m.secrets, n, { result })),
  ];
  if (ok) samples.push(sample(m.lastSuccess, epochSeconds(now)));
  return samples;
}

/** Selected Secrets of the backup that the API server would reject: never restorable as they are. */
function unrestorable(r: RestoreReport): number {
  return r.items.filter((p) => p.action === 'skip' && (p.invalid?.length ?? 0) > 0).length;
}

/** Something selected was not restored that should have been. */
function incomplete(r: RestoreReport): boolean {
  return r.counts.failed > 0 || unrestorable(r) > 0;
}

function summaryLine(r: RestoreReport): string {
  const c = r.counts;
  const verb = r.dryRun ? 'would ' : '';
  return (
    `${verb}create ${c.create}, ${verb}overwrite ${c.overwrite}, ${verb}recreate ${c.recreate}, unchanged ${c.unchanged}, skipped ${c.skip}` +
    `${c.failed > 0 ? `, FAILED ${c.failed}` : ''}${unrestorable(r) > 0 ? `, UNRESTORABLE ${unrestorable(r)} (the API server would reject them)` : ''}${r.namespacesCreated.length > 0 ? `; created namespaces ${r.namespacesCreated.join(', ')}` : ''}`
  );
}

function undoHint(r: RestoreReport): string {
  return r.preRestoreBackupId
    ? `; undo with: secret-steward restore --backup ${r.preRestoreBackupId} --mode overwrite --recreate-immutable`
    : '';
}

/**
 * Fields of a planned Secret that are unkeyed SHA-256 digests of its data: the plan compares and
 * checks with them, but they never leave the process. Printed, a digest of a Secret holding one
 * guessable value (a hand-chosen password) would confirm a guess to whoever reads the job's log.
 */
const DATA_DIGEST_FIELDS = new Set(['dataSha256', 'contentSha256']);

async function print(output: OutputFormat, ctx: CommandContext, r: RestoreReport, error?: string): Promise<void> {
  const stoppedBy = error === undefined ? undefined : redactor.sanitize(error);
  if (isDocumentOutput(output)) {
    const doc = { format: RESTORE_FORMAT, ...r, ...(stoppedBy === undefined ? {} : { error: stoppedBy }) };
    // In pieces, each written once the last has drained: one line per Secret would otherwise be held at once, whole, at the end.
    await writePieces(ctx.io.stdout, documentChunks(doc, output, 'items', DATA_DIGEST_FIELDS));
    return;
  }
  const out: string[] = [];
  if (r.backupId === undefined) {
    if (stoppedBy !== undefined) ctx.io.stdout.write(`Restore stopped: ${stoppedBy}\n`);
    return;
  }
  out.push(
    `${r.dryRun ? 'Dry run (every write sent with dryRun=All; nothing persisted): ' : ''}restore from backup ${r.backupId}, mode ${r.mode}.`,
  );
  if (r.items.length > 0) {
    out.push(
      renderTable(
        ['ACTION', 'SOURCE', 'TARGET', 'RESULT', 'NOTE'],
        r.items.map((p) => [
          p.action,
          `${p.source.namespace}/${p.source.name}`,
          `${p.target.namespace}/${p.target.name}`,
          p.outcome === 'would' ? 'would' : p.outcome,
          [p.message ?? p.reason ?? '', ...(p.contentWarnings ?? [])].filter((x) => x !== '').join('; '),
        ]),
      ).trimEnd(),
    );
  }
  out.push(`${summaryLine(r)} (${(r.durationMs / 1000).toFixed(1)}s).`);
  if (r.preRestoreBackupId)
    out.push(
      `The overwritten Secrets were saved first in backup ${r.preRestoreBackupId}.\nUndo: secret-steward restore --backup ${r.preRestoreBackupId} --mode overwrite --recreate-immutable`,
    );
  if (r.dryRun && r.counts.overwrite + r.counts.recreate > 0)
    out.push(`A pre-restore backup of the ${r.counts.overwrite + r.counts.recreate} Secret(s) to be overwritten would be taken first.`);
  for (const w of r.warnings) out.push(`Warning: ${w}`);
  if (r.stage !== 'written') out.push(`Stopped after stage "${r.stage}"${stoppedBy ? `: ${stoppedBy}` : ''}.`);
  ctx.io.stdout.write(`${out.join('\n')}\n`);
}
