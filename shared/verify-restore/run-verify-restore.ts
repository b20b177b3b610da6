/**
 * The DR drill: every check of verify-restore, in order, producing one {@link DrillReport}.
 *
 * 1. freshness      newest complete backup vs the backup CronJob's schedule
 * 2. integrity      index signature and identity, each segment's size and SHA-256, decryption,
 *                   every Secret against its recorded hash, item counts
 * 3. validity       every Secret a valid object with usable content for its type
 * 4. restorability  every Secret created in the drill namespace, read back byte for byte, deleted,
 *                   in batches (one list and one deletecollection per batch)
 * 5. drift          (--compare-live) the backup vs the live cluster, by hashes
 * 6. key health     keys expiring within the warning window
 *
 * Checks 2-4 run in ONE pass over the backup, segment by segment and Secret by Secret, so the
 * drill holds one segment and two batches of drill copies (each at most `batch` Secrets or
 * bytes) at a time, however large the backup. Each batch is deleted as soon as it was read
 * back and compared, and whatever may remain is removed in a `finally`, also when a check
 * fails, the API fails or a shutdown is requested; leftovers of an earlier drill that was
 * killed are removed first.
 */
import { performance } from 'node:perf_hooks';
import { latestCompleteBackup } from '../backup/backup-catalog.js';
import { type BackupLayout, backupIdTime } from '../backup/backup-layout.js';
import { errorText } from '../errors/index.js';
import { isKubeError, type SecretStore } from '../kube/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Shutdown } from '../runtime/shutdown.js';
import { TOOL_VERSION } from '../runtime/version.js';
import type { ObjectStore } from '../storage/index.js';
import { VerifiedBackup } from './backup-reader.js';
import { compareWithLive } from './drift.js';
import type { DrillNamespace } from './drill-namespace.js';
import { CheckRecorder, DRILL_REPORT_FORMAT, type DrillReport, type NamespaceResult, overallResult } from './drill-report.js';
import { assessFreshness } from './freshness.js';
import { assessKeyHealth, type KeyHealthInput } from './key-health.js';
import { NEVER_RESTORED_TYPES } from './never-restored.js';
import { DEFAULT_BATCH_LIMITS, type DrillBatchLimits, DrillRestorer } from './restorability.js';
import { validateSecret } from './secret-validity.js';
import { BackupVerificationError } from './verification-error.js';
import type { VerificationKeys } from './verification-keys.js';

const MAX_SECRET_WARNINGS = 50;

export interface DrillDeps {
  /** The live Secrets, listed only by the drift check (--compare-live). */
  secrets: Pick<SecretStore, 'list'>;
  drillNamespace: DrillNamespace;
  store: ObjectStore;
  layout: BackupLayout;
  /** The loaded keys, or why they could not be used (a wrong passphrase fails integrity). */
  keys: VerificationKeys | BackupVerificationError;
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
  drillId: string;
  /** Who ran the drill (pod name), for the report. */
  runner: string;
}

export interface DrillOptions {
  /** `latest` or a backup id. */
  backup: string;
  freshness?: { schedule: string; timeZone: string; graceMs: number };
  concurrency: number;
  /** Bounds of one batch of drill copies. @default DEFAULT_BATCH_LIMITS (250 Secrets, 8 MiB) */
  batch?: DrillBatchLimits;
  compareLive: boolean;
  pageSize: number;
  keyHealth: Omit<KeyHealthInput, 'now' | 'decryptionKeys' | 'trustedSigners' | 'backupRecipients'>;
}

export interface DrillOutcome {
  report: DrillReport;
  /** The backup drilled (undefined when there was none to drill). */
  backupId?: string;
}

export async function runDrill(deps: DrillDeps, o: DrillOptions): Promise<DrillOutcome> {
  const { store, layout, log, clock, shutdown } = deps;
  const started = clock.now();
  const t0 = performance.now();
  const freshness = new CheckRecorder('freshness');
  const integrity = new CheckRecorder('integrity');
  const validity = new CheckRecorder('validity');
  const restorability = new CheckRecorder('restorability');
  const drift = new CheckRecorder('drift');
  const keyHealth = new CheckRecorder('key-health');
  const warnings: string[] = [];
  const namespaces = new Map<string, NamespaceResult>();
  const nsOf = (ns: string) => {
    let r = namespaces.get(ns);
    if (r === undefined) {
      r = { secrets: 0, verified: 0, valid: 0, restored: 0, skipped: 0, problems: 0 };
      namespaces.set(ns, r);
    }
    return r;
  };
  const counts = {
    secretsInBackup: 0,
    secretsVerified: 0,
    secretsValid: 0,
    secretsRestored: 0,
    secretsSkipped: 0,
    segments: 0,
    segmentsVerified: 0,
  };

  // 1. Freshness, from the store's listing alone (no key needed).
  const newest = await freshness.time(() => latestCompleteBackup(store, layout, 'scheduled'));
  if (o.freshness) {
    const f = assessFreshness({
      ...o.freshness,
      now: started,
      newest: newest ? { id: newest.id, createdAt: newest.createdAt } : undefined,
    });
    freshness.summary = f.message;
    freshness.details = {
      schedule: o.freshness.schedule,
      timeZone: o.freshness.timeZone,
      graceSeconds: o.freshness.graceMs / 1000,
      ...(f.expectedAfter ? { expectedAfter: f.expectedAfter.toISOString() } : {}),
      ...(f.pendingSlot ? { pendingSlot: f.pendingSlot.toISOString() } : {}),
      newestBackup: newest ? { id: newest.id, createdAt: newest.createdAt.toISOString() } : null,
    };
    if (!f.fresh) freshness.fail({ message: f.message });
  } else {
    freshness.skip('no --backup-schedule given');
  }

  // 2. Which backup, and its index.
  const backupId = o.backup === 'latest' ? newest?.id : o.backup;
  let backup: VerifiedBackup | undefined;
  const skipAfterIntegrity = (why: string) => {
    for (const c of [validity, restorability, drift]) c.skip(why);
  };
  if (backupId === undefined) {
    integrity.fail({ message: `there is no complete scheduled backup under ${store.location}/${layout.backupsPrefix()} to verify` });
    integrity.summary = 'no backup to verify';
    skipAfterIntegrity('no backup to verify');
  } else if (deps.keys instanceof BackupVerificationError) {
    integrity.fail({ message: `backup ${backupId} cannot be read with the keys given: ${deps.keys.message}` });
    integrity.summary = 'the decryption key could not be unlocked';
    skipAfterIntegrity('the backup could not be read');
  } else {
    try {
      backup = await integrity.time(() =>
        VerifiedBackup.open({ store, layout, keys: deps.keys as VerificationKeys, now: started }, backupId),
      );
    } catch (e) {
      if (!(e instanceof BackupVerificationError)) throw e;
      integrity.fail({ message: e.message });
      integrity.summary = `the index of backup ${backupId} failed verification (${e.kind})`;
      skipAfterIntegrity('the backup index failed verification');
    }
  }

  if (backup !== undefined) {
    warnings.push(...backup.warnings);
    counts.secretsInBackup = backup.index.secrets.length;
    counts.segments = backup.segmentCount;
    for (const e of backup.index.secrets) nsOf(e.namespace).secrets++;
    await verifyAndRestore(backup);
    if (o.compareLive) await runDrift(backup);
    else drift.skip('--compare-live not given');
  }

  // 6. Key health.
  const keys = deps.keys instanceof BackupVerificationError ? undefined : deps.keys;
  const health = assessKeyHealth({
    ...o.keyHealth,
    now: started,
    decryptionKeys: keys?.decryptionKeys ?? [],
    trustedSigners: keys?.trustedSigners ?? [],
    backupRecipients: backup?.index.recipients,
  });
  keyHealth.details = { ...health.details, warnings: health.warnings };
  keyHealth.summary =
    health.warnings.length === 0 ? 'no key expires within the warning window' : `${health.warnings.length} key warning(s)`;
  warnings.push(...health.warnings);

  const checks = [freshness, integrity, validity, restorability, drift, keyHealth].map((c) => c.result());
  const finished = clock.now();
  const createdAt = backupId !== undefined ? backupIdTime(backupId) : undefined;
  const report: DrillReport = {
    format: DRILL_REPORT_FORMAT,
    drillId: deps.drillId,
    result: overallResult(checks),
    cluster: layout.cluster,
    store: store.location,
    drillNamespace: deps.drillNamespace.namespace,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    ...(backupId !== undefined && createdAt !== undefined
      ? {
          backup: {
            id: backupId,
            createdAt: createdAt.toISOString(),
            ageSeconds: Math.max(0, Math.floor((started.getTime() - createdAt.getTime()) / 1000)),
            ...(backup
              ? {
                  kind: backup.index.kind,
                  completedAt: backup.index.completedAt,
                  signature: backup.signature.status,
                  ...(backup.signature.signerFingerprint ? { signer: backup.signature.signerFingerprint } : {}),
                  recipients: backup.index.recipients,
                  secrets: backup.index.totals.secrets,
                  segments: backup.index.totals.segments,
                  storedBytes: backup.index.totals.storedBytes,
                  toolVersion: backup.index.toolVersion,
                }
              : {}),
          },
        }
      : {}),
    checks,
    counts,
    namespaces: Object.fromEntries([...namespaces.entries()].sort(([a], [b]) => a.localeCompare(b))),
    warnings,
    tool: { version: TOOL_VERSION, runner: deps.runner },
  };
  return { report, backupId };

  // -------------------------------------------------------------------------------------------

  async function verifyAndRestore(b: VerifiedBackup): Promise<void> {
    const restorer = new DrillRestorer(deps.drillNamespace, restorability, {
      drillId: deps.drillId,
      backupId: b.id,
      concurrency: o.concurrency,
      batch: o.batch ?? DEFAULT_BATCH_LIMITS,
      log,
      checkpoint: () => shutdown.checkpoint(),
      onRestored: (item) => {
        counts.secretsRestored++;
        nsOf(item.entry.namespace).restored++;
      },
      onFailed: (item) => nsOf(item.entry.namespace).problems++,
      warn: (message) => warnings.push(message),
    });
    const restoreEnabled = await restorability.time(() => removeLeftovers());
    let secretWarnings = 0;
    let notAttempted = 0;
    try {
      for (let n = 1; n <= b.segmentCount; n++) {
        shutdown.checkpoint();
        const it = b.readSegment(n)[Symbol.asyncIterator]();
        try {
          for (;;) {
            const step = await integrity.time(() => it.next());
            if (step.done) break;
            const item = step.value;
            const ns = nsOf(item.entry.namespace || item.secret.metadata.namespace);
            const where = { namespace: item.secret.metadata.namespace, name: item.secret.metadata.name, segment: n };
            if (item.mismatch !== undefined) {
              integrity.fail({ ...where, message: item.mismatch });
              ns.problems++;
              continue;
            }
            counts.secretsVerified++;
            ns.verified++;
            const who = `${item.secret.metadata.namespace}/${item.secret.metadata.name}`;
            const v = validity.timeSync(() => validateSecret(item.secret, started));
            for (const w of v.warnings) {
              if (secretWarnings++ < MAX_SECRET_WARNINGS) warnings.push(`Secret ${who}: ${w}`);
            }
            if (v.problems.length > 0) {
              for (const p of v.problems)
                validity.fail({ namespace: where.namespace, name: where.name, message: `Secret ${who}: ${p.message}` });
              ns.problems++;
            } else {
              counts.secretsValid++;
              ns.valid++;
            }
            if (NEVER_RESTORED_TYPES.includes(item.secret.type) || v.problems.some((p) => p.severity === 'invalid')) {
              counts.secretsSkipped++;
              ns.skipped++;
              if (!NEVER_RESTORED_TYPES.includes(item.secret.type)) notAttempted++;
              continue;
            }
            if (restoreEnabled && !restorer.isStopped) await restorability.time(() => restorer.submit(item));
          }
          counts.segmentsVerified++;
        } catch (e) {
          if (!(e instanceof BackupVerificationError)) throw e;
          integrity.fail({ segment: n, message: e.message });
          for (const entry of b.entriesOf(n)) nsOf(entry.namespace).problems++;
        } finally {
          await it.return?.(undefined);
        }
      }
      await restorability.time(() => restorer.finish());
    } finally {
      await restorability.time(() => restorer.cleanup());
      const limits = o.batch ?? DEFAULT_BATCH_LIMITS;
      restorability.details = {
        batches: restorer.batches,
        batchLimits: { secrets: limits.secrets, bytes: limits.bytes },
        apiRequests: { ...restorer.calls },
      };
    }

    if (secretWarnings > MAX_SECRET_WARNINGS) warnings.push(`… and ${secretWarnings - MAX_SECRET_WARNINGS} more warnings about Secrets`);
    const segmentsBad = b.segmentCount - counts.segmentsVerified;
    integrity.summary = integrity.failed
      ? `${integrity.findingCount} problem(s): ${segmentsBad} of ${b.segmentCount} segment(s) failed verification; ${counts.secretsVerified} of ${counts.secretsInBackup} Secrets verified`
      : `index ${signatureText(b)}; ${b.segmentCount} segment(s) and ${counts.secretsVerified} Secrets match the SHA-256 recorded in the index`;
    const ofIntact = counts.secretsVerified === counts.secretsInBackup ? '' : ' (of those from intact segments)';
    validity.summary = validity.failed
      ? `${counts.secretsVerified - counts.secretsValid} of ${counts.secretsVerified} Secrets${ofIntact} have problems`
      : `${counts.secretsValid} of ${counts.secretsVerified} Secrets${ofIntact} are valid for their type`;
    if (!restoreEnabled) return;
    const skippedText =
      counts.secretsSkipped > 0
        ? `; ${counts.secretsSkipped} skipped (${counts.secretsSkipped - notAttempted} never restored by type, ${notAttempted} invalid)`
        : '';
    restorability.summary =
      restorability.status === 'pass'
        ? `${counts.secretsRestored} Secrets${ofIntact} created in namespace ${deps.drillNamespace.namespace}, read back byte-identical and deleted, in ${restorer.batches} batch(es)${skippedText}`
        : `${restorability.findingCount} problem(s); ${counts.secretsRestored} Secrets restored byte-identical${skippedText}; every drill object was removed${restorability.failed && restorability.result().findings.some((f) => /could not be deleted/.test(f.message)) ? ' except those listed' : ''}`;

    async function removeLeftovers(): Promise<boolean> {
      try {
        const removed = await restorer.removeEarlierDrills();
        if (removed > 0) {
          warnings.push(
            `removed ${removed} leftover drill object(s) of an earlier, interrupted drill from namespace ${deps.drillNamespace.namespace}`,
          );
          log.warn({ namespace: deps.drillNamespace.namespace, objects: removed }, 'removed leftover drill objects of an earlier drill');
        }
        return true;
      } catch (e) {
        const text = errorText(e);
        if (isKubeError(e, (k) => k.transient)) restorability.error({ message: `could not look for leftovers of earlier drills: ${text}` });
        else
          restorability.fail({
            message: `could not look for or remove leftovers of earlier drills in namespace ${deps.drillNamespace.namespace}: ${text}`,
          });
        restorability.summary = 'not run: the drill namespace could not be prepared';
        return false;
      }
    }
  }

  async function runDrift(b: VerifiedBackup): Promise<void> {
    try {
      const d = await drift.time(() =>
        compareWithLive(deps.secrets, b.index, { pageSize: o.pageSize, log, checkpoint: () => shutdown.checkpoint() }),
      );
      drift.details = { ...d };
      drift.summary = `since the backup: ${d.changedSince} changed, ${d.deletedSince} deleted, ${d.missingFromBackup} created (not in the backup); ${d.unchanged} unchanged`;
    } catch (e) {
      if (!isKubeError(e)) throw e;
      if (e.transient) drift.error({ message: `could not compare with the live cluster: ${e.message}` });
      else
        drift.fail({
          message: `could not compare with the live cluster: ${e.message}${e.forbidden ? ' (--compare-live needs list on Secrets in the backed-up namespaces)' : ''}`,
        });
      drift.summary = 'could not list the live Secrets';
    }
  }
}

function signatureText(b: VerifiedBackup): string {
  switch (b.signature.status) {
    case 'valid':
      return `signed by trusted key ${b.signature.signerFingerprint}`;
    case 'unsigned':
      return 'NOT signed (accepted with --allow-unsigned)';
    case 'untrusted':
      return `signed by untrusted key ${b.signature.signerFingerprint ?? b.signature.signerKeyId} (accepted with --allow-unsigned)`;
    default:
      return b.signature.status;
  }
}
