import { BackupLayout } from '../backup/backup-layout.js';
import { backupsBeingRead } from '../backup/backup-readers.js';
import { loadSealTrust } from '../backup/catalogue-settings.js';
import { finishAbandonedDeletion } from '../backup/prune.js';
import { cleanUpAbandonedBackup } from '../backup/run-backup.js';
import { loadRecipientKeys, loadSigningKey } from '../crypto/index.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { ConfigError } from '../errors/index.js';
import { createKubeClients, KubeEventRecorder, loadKubeConfig, toolNamespace, withJobLock } from '../kube/index.js';
import { jobEventSubject, reportKeyWarnings } from '../kube/job-events.js';
import type { CommandContext } from '../runtime/command.js';
import { renderTable } from '../runtime/format.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { Progress } from '../runtime/progress.js';
import { createObjectStore } from '../storage/index.js';
import { loadVerificationKeys } from '../verify-restore/verification-keys.js';
import type { RekeySettings } from './rekey-settings.js';
import { type RekeyReport, runRekey } from './run-rekey.js';

/** Version of the `-o json` / `-o yaml` document; changes are listed in CHANGELOG.md. */
export const REKEY_FORMAT = 'secret-steward.io/rekey/v1';

const REKEY_SIGNING = '--rekey-signing-key / SECRET_STEWARD_REKEY_SIGNING_KEY';

/**
 * `secret-steward rekey`: re-encrypts retained backups to the current recipients (run-rekey.ts),
 * holding the backup job's Lease (backup, prune and rekey never change the catalogue at once)
 * and leaving alone any backup a restore or drill is reading. Exit 1 when a backup could not
 * be rekeyed (its current copy is kept whole).
 */
export async function runRekeyJob(s: RekeySettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const now = ctx.clock.now();
  const { keys: recipients, warnings } = await loadRecipientKeys(s.recipientKey, {
    now,
    warnWithinMs: s.keyExpiryWarning,
    setting: '--recipient-key / SECRET_STEWARD_RECIPIENT_KEY',
  });
  const signing = await loadSigningKey(s.rekeySigningKey, s.rekeySigningKeyPassphraseFile, {
    now,
    warnWithinMs: s.keyExpiryWarning,
    setting: REKEY_SIGNING,
    passphraseSetting: '--rekey-signing-key-passphrase-file / SECRET_STEWARD_REKEY_SIGNING_KEY_PASSPHRASE_FILE',
  });
  const keys = await loadVerificationKeys(s);
  const trust = await loadSealTrust(s, { now, own: { kind: 'rekey', key: signing.key }, unlistedOwn: 'refuse-unless-empty' });
  if ([...trust.signers.scheduled, ...trust.signers['pre-restore']].some((k) => k.fingerprint === signing.key.fingerprint)) {
    throw new ConfigError(
      [
        {
          setting: REKEY_SIGNING,
          message: `is ${signing.key.fingerprint}, a key trusted to seal backups: rekey must have its own key, so that what it signs is trusted only for re-encryption`,
        },
      ],
      'cannot use the rekey signing key',
    );
  }
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const kube = createKubeClients(loadKubeConfig(s, ctx.io.env), {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const namespace = toolNamespace(s);
  // Its Job (JOB_NAME, set by manifests/jobs/rekey), else the backup Lease it holds, as for prune.
  const subject = jobEventSubject('backup', namespace, ctx.io.env, true);
  const events = new KubeEventRecorder(kube.core, kube.caller, ctx.clock, ctx.log, ctx.identity);
  await reportKeyWarnings([...warnings, ...signing.warnings], ctx, events, subject);
  // The backup job's Lease, as prune takes it: a backup or prune never runs beside a rekey.
  return withJobLock('backup', s, kube, ctx, async (lock) => {
    if (!s.dryRun) {
      await cleanUpAbandonedBackup(lock.inherited, store, layout, ctx.log);
      await finishAbandonedDeletion(lock.inherited, store, layout, ctx.log);
    }
    const report = await runRekey(
      {
        store,
        layout,
        trust,
        keys,
        recipients,
        signingKey: signing.key,
        log: ctx.log,
        clock: ctx.clock,
        shutdown: ctx.shutdown,
        progress: new Progress({ log: ctx.log, clock: ctx.clock, intervalMs: s.progressInterval, line: ctx.statusLine }),
        beingRead: () => backupsBeingRead(kube, namespace, ctx.clock.now()),
      },
      { dryRun: s.dryRun, only: s.only },
    );
    print(s, ctx, report);
    const failed = report.outcomes.filter((o) => o.action === 'failed').length;
    if (!s.dryRun) {
      const rekeyed = report.outcomes.filter((o) => o.action === 'rekeyed').length;
      const message = `re-encrypted ${rekeyed} backup(s) to ${report.recipients.join(', ')}; ${failed} failed`;
      await events.record(
        failed > 0
          ? { subject, type: 'Warning', reason: 'RekeyFailed', message, action: 'Rekey' }
          : { subject, type: 'Normal', reason: 'RekeyCompleted', message, action: 'Rekey' },
      );
    }
    return failed > 0 ? ExitCode.Failed : ExitCode.Success;
  });
}

function print(s: RekeySettings, ctx: CommandContext, r: RekeyReport): void {
  if (isDocumentOutput(s.output)) {
    ctx.io.stdout.write(renderDocument({ format: REKEY_FORMAT, dryRun: s.dryRun, ...r }, s.output));
    return;
  }
  const action = (a: string) => (a === 'would-rekey' ? 'rekey (dry run)' : a);
  ctx.io.stdout.write(
    renderTable(
      ['BACKUP', 'KIND', 'ACTION', 'GENERATION', 'ENCRYPTED TO (BEFORE)', 'NOTE'],
      r.outcomes.map((o) => [
        o.id,
        o.kind ?? '-',
        action(o.action),
        o.generation === undefined ? '-' : String(o.generation),
        o.from?.join(', ') ?? '-',
        o.reason ?? o.keptByStore?.reason ?? (o.removed ? `${o.removed} old object version(s) removed` : ''),
      ]),
    ),
  );
  const count = (a: string) => r.outcomes.filter((o) => o.action === a).length;
  ctx.io.stdout.write(
    s.dryRun
      ? `Dry run: nothing written. ${count('would-rekey')} backup(s) would be re-encrypted to ${r.recipients.join(', ')}; ${count('current')} already are.\n`
      : `Re-encrypted ${count('rekeyed')} backup(s) to ${r.recipients.join(', ')}; ${count('current')} already were; ${count('failed')} failed; ${count('deferred')} deferred (being read).\n`,
  );
  if (r.oldVersionsKept > 0) {
    ctx.io.stdout.write(
      `The store keeps ${r.oldVersionsKept} old object version(s) (Object Lock or legal hold): until their lock expires they stay in the bucket, still encrypted to the old key; keep that key's private half safe (or destroyed) until then.\n`,
    );
  }
  const skipped = count('skipped');
  if (skipped > 0) {
    ctx.io.stdout.write(
      `${skipped} backup(s) are not authenticated and were not touched: they stay encrypted to whatever key they were (see list-backups).\n`,
    );
  }
}
