/**
 * The DR drill: every check of verify-restore, in order, producing one {@link DrillReport}.
 *
 * 1. freshness      newest authenticated scheduled backup (its sealed time) vs the backup
 *                   CronJob's schedule
 * 2. integrity      seal, index signature and identity, each segment's size and SHA-256,
 *                   decryption, every Secret against its recorded hash, item counts
 * 3. validity       every Secret a valid object with usable content for its type
 * 4. restorability  every Secret created in the drill namespace, read back byte for byte, deleted,
 *                   in batches (one list and one deletecollection per batch)
 * 5. drift          (--compare-live) the backup vs the live cluster, by hashes
 * 6. key health     keys expiring within the warning window; whether the decryption keys can
 *                   read every retained backup, from the recipients its seal names (key-readability.ts)
 * 7. catalogue      every backup under the cluster's prefix is authenticated (sealed, ours,
 *                   whole); one made before seals passes when its index signature verifies
 * 8. deep check     (--deep-check-cycle) the other retained backups verified longest ago,
 *                   read whole as integrity reads the drilled one (deep-check.ts); timed apart
 *                   from the drill's own duration
 *
 * The report also carries the measured restore time (`rto`): the wall time of the pass of
 * checks 2-4, by namespace, and its projection to the whole backup.
 *
 * Checks 2-4 run in ONE pass over the backup, segment by segment and Secret by Secret, so the
 * drill holds one segment and two batches of drill copies (each at most `batch` Secrets or
 * bytes) at a time, however large the backup. Each batch is deleted as soon as it was read
 * back and compared, and whatever may remain is removed in a `finally`, also when a check
 * fails, the API fails or a shutdown is requested; leftovers of an earlier drill that was
 * killed are removed first.
 */
import { performance } from 'node:perf_hooks';
import { AmbiguousCatalogueError, type Catalogue, latestAuthenticated, readCatalogue } from '../backup/backup-catalog.js';
import { type BackupLayout, backupIdTime, INDEX_NAME } from '../backup/backup-layout.js';
import { recipientsOf, type SealTrust } from '../backup/backup-seal.js';
import { unauthenticatedOf } from '../backup/prune.js';
import { formatDuration } from '../config/options.js';
import type { TrustedSigner } from '../crypto/index.js';
import { errorText } from '../errors/index.js';
import { isKubeError, type SecretStore } from '../kube/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import { Progress, type ProgressPhase } from '../runtime/progress.js';
import type { Shutdown } from '../runtime/shutdown.js';
import { TOOL_VERSION } from '../runtime/version.js';
import { isStorageError, type ObjectStore } from '../storage/index.js';
import { type BackupItem, openResolved, type ResolvedBackup, resolveBackup, VerifiedBackup } from './backup-reader.js';
import { type DeepCheckCandidate, deepCheckBackup, selectForDeepCheck } from './deep-check.js';
import { compareWithLive } from './drift.js';
import type { DrillNamespace } from './drill-namespace.js';
import {
  CheckRecorder,
  type DeepCheckReport,
  DRILL_REPORT_FORMAT,
  type DrillReport,
  type NamespaceResult,
  overallResult,
  RTO_TOP_NAMESPACES,
  type RtoReport,
} from './drill-report.js';
import { assessFreshness } from './freshness.js';
import { assessKeyHealth, type KeyHealthInput } from './key-health.js';
import { assessKeyReadability, type KeyReadabilityReport, unreadableWarning } from './key-readability.js';
import { NEVER_RESTORED_TYPES } from './never-restored.js';
import { DEFAULT_BATCH_LIMITS, type DrillBatchLimits, DrillRestorer } from './restorability.js';
import { validateSecret } from './secret-validity.js';
import { BackupVerificationError } from './verification-error.js';
import { outsideCycle, readVerificationHistory } from './verification-history.js';
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
  /** Whose seals are believed. */
  trust: SealTrust;
  /** How long an unsealed backup may be in progress before the catalogue check reports it. */
  incompleteGraceMs: number;
  /** Notes on the job's Lease which backup the drill reads, so that retention keeps it meanwhile. */
  reading?: { record(backupId: string | undefined): Promise<void> };
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
  /** Progress lines while the backup is verified and restored. @default every 10 s, in the log only */
  progress?: Progress;
  drillId: string;
  /** Who ran the drill (pod name), for the report. */
  runner: string;
  /** Whose signed drill reports tell when each backup was last verified (the deep check). */
  reportSigners?: readonly TrustedSigner[];
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
  keyHealth: Omit<KeyHealthInput, 'now' | 'decryptionKeys' | 'trustedSigners' | 'backupRecipients'> & {
    /**
     * Fail the key-health check (not only warn) when the backup has a recipient not expected, or
     * when a retained backup can be read by none of the decryption keys.
     */
    strictRecipients: boolean;
  };
  /** Verify the other retained backups too, each at least once per `cycleMs`, at most `perRun` a run (0: every one due). */
  deepCheck?: { cycleMs: number; perRun: number };
}

export interface DrillOutcome {
  report: DrillReport;
  /** The backup drilled (undefined when there was none to drill). */
  backupId?: string;
}

/** Runs the drill: each check in order, then the report. */
export async function runVerifyRestore(deps: DrillDeps, o: DrillOptions): Promise<DrillOutcome> {
  const drill = new Drill(deps, o);
  const catalogue = await drill.readCatalogue();
  const target = drill.resolve(catalogue);
  await deps.reading?.record(target?.id);
  try {
    const backup = await drill.openBackup(target);
    drill.checkFreshness(catalogue, target, backup);
    if (backup !== undefined) {
      await drill.verifyAndRestore(backup);
      await drill.compareWithLive(backup);
    }
    drill.checkKeyHealth(backup, target, catalogue);
    await drill.checkCatalogue(catalogue, target);
    await drill.deepCheck(catalogue, backup);
    // An id asked for by name keeps the report about it, even when it could not be authenticated.
    const backupId = drill.drilled ?? target?.id ?? (o.backup === 'latest' ? undefined : o.backup);
    return { report: drill.report(backupId, target, backup), backupId };
  } finally {
    await deps.reading?.record(undefined);
  }
}

/** A drill in progress: its checks' recorders and counts, and each check as a method. */
class Drill {
  private readonly started: Date;
  private readonly t0 = performance.now();
  private readonly freshness = new CheckRecorder('freshness');
  private readonly integrity = new CheckRecorder('integrity');
  /** Whether the backup drilled has a valid seal (else it was made before seals and is judged by its index signature). */
  private sealed = false;
  private readonly validity = new CheckRecorder('validity');
  private readonly restorability = new CheckRecorder('restorability');
  private readonly drift = new CheckRecorder('drift');
  private readonly keyHealth = new CheckRecorder('key-health');
  private readonly catalogue = new CheckRecorder('catalogue');
  private readonly deep = new CheckRecorder('deep-check');
  private deepReport: DeepCheckReport | undefined;
  private readability: KeyReadabilityReport | undefined;
  /** Wall time of the deep check, kept out of the drill's own duration. */
  private deepMs = 0;
  private rto: RtoReport | undefined;
  /** Milliseconds spent reading and restoring each namespace's Secrets (one number per namespace). */
  private readonly nsMs = new Map<string, number>();
  /** Why the backup to drill could not be chosen, when it could not. */
  private unresolved: string | undefined;
  /** The backup actually drilled, when `latest` had to step over candidates made before seals. */
  drilled: string | undefined;
  private readonly warnings: string[] = [];
  private readonly namespaces = new Map<string, NamespaceResult>();
  private readonly counts = {
    secretsInBackup: 0,
    secretsVerified: 0,
    secretsValid: 0,
    secretsRestored: 0,
    secretsSkipped: 0,
    segments: 0,
    segmentsVerified: 0,
  };
  /** Warnings about single Secrets so far (only the first {@link MAX_SECRET_WARNINGS} are kept). */
  private secretWarnings = 0;
  /** Secrets skipped by restorability because the API server would reject them. */
  private notAttempted = 0;

  constructor(
    private readonly deps: DrillDeps,
    private readonly o: DrillOptions,
  ) {
    this.started = deps.clock.now();
  }

  /** The catalogue (listing and seals), timed under the catalogue check. */
  readCatalogue(): Promise<Catalogue> {
    const { store, layout, trust } = this.deps;
    return this.catalogue.time(() => readCatalogue(store, layout, trust));
  }

  /** The backup `--backup` names, judged on the catalogue; undefined (and why) when there is none to drill. */
  resolve(catalogue: Catalogue): ResolvedBackup | undefined {
    const { store, layout } = this.deps;
    try {
      const r = resolveBackup(catalogue, layout.cluster, this.o.backup, this.started);
      this.sealed = r !== undefined && 'seal' in r.auth;
      if (r === undefined)
        this.unresolved = `there is no authenticated scheduled backup under ${store.location}/${layout.backupsPrefix()} to verify`;
      return r;
    } catch (e) {
      if (!(e instanceof BackupVerificationError || e instanceof AmbiguousCatalogueError)) throw e;
      this.unresolved = e.message;
      return undefined;
    }
  }

  /**
   * 1. Freshness: the newest AUTHENTICATED scheduled backup's sealed creation time against the
   * schedule. Before any backup was sealed (an upgraded installation), the drilled backup made
   * before seals counts once its index verified (its signed creation time).
   */
  checkFreshness(catalogue: Catalogue, target: ResolvedBackup | undefined, backup: VerifiedBackup | undefined): void {
    const { freshness, o } = this;
    let newest: { id: string; createdAt: Date } | undefined;
    try {
      newest = latestAuthenticated(catalogue, this.deps.layout.cluster);
    } catch (e) {
      if (!(e instanceof AmbiguousCatalogueError)) throw e;
    }
    if (
      newest === undefined &&
      target !== undefined &&
      'legacy' in target.auth &&
      backup !== undefined &&
      backup.index.kind === 'scheduled'
    ) {
      newest = { id: backup.id, createdAt: new Date(backup.index.createdAt) };
    }
    if (!o.freshness) {
      freshness.skip('no --backup-schedule given');
      return;
    }
    const f = assessFreshness({ ...o.freshness, now: this.started, newest });
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
  }

  /**
   * 2a. Integrity of the index: opens backup `backupId` with the keys (signature, identity,
   * totals). Undefined, with integrity failed and the checks that need the backup skipped, when
   * there is no backup, no usable key, or the index fails verification.
   */
  async openBackup(target: ResolvedBackup | undefined): Promise<VerifiedBackup | undefined> {
    const { integrity, deps } = this;
    const { store, layout, keys } = deps;
    const backupId = target?.id;
    let backup: VerifiedBackup | undefined;
    if (target === undefined || backupId === undefined) {
      integrity.fail({
        message:
          this.unresolved ?? `there is no authenticated scheduled backup under ${store.location}/${layout.backupsPrefix()} to verify`,
      });
      integrity.summary = 'no backup to verify';
      this.skipAfterIntegrity('no backup to verify');
    } else if (keys instanceof BackupVerificationError) {
      integrity.fail({ message: `backup ${backupId} cannot be read with the keys given: ${keys.message}` });
      integrity.summary = 'the decryption key could not be unlocked';
      this.skipAfterIntegrity('the backup could not be read');
    } else {
      try {
        const opened = await integrity.time(() => openResolved({ store, layout, keys, now: this.started }, target));
        backup = opened.backup;
        this.warnings.push(...opened.skipped);
        if (backup.id !== target.id) this.drilled = backup.id;
      } catch (e) {
        if (!(e instanceof BackupVerificationError)) throw e;
        integrity.fail({ message: e.message });
        integrity.summary = `the index of backup ${backupId} failed verification (${e.kind})`;
        this.skipAfterIntegrity('the backup index failed verification');
      }
    }
    if (backup !== undefined) {
      this.warnings.push(...backup.warnings);
      this.counts.secretsInBackup = backup.index.secrets.length;
      this.counts.segments = backup.segmentCount;
      const { secrets } = backup.index;
      for (let i = 0; i < secrets.length; i++) this.nsOf(secrets.namespaceAt(i)).secrets++;
    }
    return backup;
  }

  /**
   * 2b-4. Integrity, validity and restorability in ONE pass over the backup, segment by segment
   * and Secret by Secret: each Secret is checked against the index, validated, and (when valid
   * and restorable) handed to the {@link DrillRestorer}, which creates, reads back and deletes
   * copies in batches. Whatever of this drill may remain is removed in a `finally`.
   */
  async verifyAndRestore(b: VerifiedBackup): Promise<void> {
    const { restorability } = this;
    const restorer = this.restorer(b);
    const restoreEnabled = await restorability.time(() => this.prepareDrillNamespace(restorer));
    const progress = (this.deps.progress ?? new Progress({ log: this.deps.log, clock: this.deps.clock })).phase(
      'verify-restore',
      b.index.secrets.length,
    );
    try {
      const t = performance.now();
      for (let n = 1; n <= b.segmentCount; n++) await this.verifySegment(b, n, restoreEnabled ? restorer : undefined, progress);
      await restorability.time(() => restorer.finish());
      if (restoreEnabled) this.measureRto(b, performance.now() - t);
    } finally {
      progress.end();
      await restorability.time(() => restorer.cleanup());
      const limits = this.o.batch ?? DEFAULT_BATCH_LIMITS;
      restorability.details = {
        batches: restorer.batches,
        batchLimits: { secrets: limits.secrets, bytes: limits.bytes },
        apiRequests: { ...restorer.calls },
      };
    }
    if (this.secretWarnings > MAX_SECRET_WARNINGS)
      this.warnings.push(`… and ${this.secretWarnings - MAX_SECRET_WARNINGS} more warnings about Secrets`);
    this.summarizeIntegrityAndValidity(b);
    if (restoreEnabled) this.summarizeRestorability(restorer);
  }

  /** 5. Drift (--compare-live): the backup against the live Secrets of its own selection, by hashes. */
  async compareWithLive(b: VerifiedBackup): Promise<void> {
    const { drift, deps } = this;
    if (!this.o.compareLive) {
      drift.skip('--compare-live not given');
      return;
    }
    try {
      const d = await drift.time(() =>
        compareWithLive(deps.secrets, b.index, { pageSize: this.o.pageSize, log: deps.log, checkpoint: () => deps.shutdown.checkpoint() }),
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

  /**
   * 6. Key health: keys expiring within the warning window, recipients of the backup the
   * drill did not expect, and retained backups none of the decryption keys can read (both fail
   * only with --strict-recipients).
   */
  checkKeyHealth(backup: VerifiedBackup | undefined, target: ResolvedBackup | undefined, catalogue: Catalogue): void {
    const keys = this.deps.keys instanceof BackupVerificationError ? undefined : this.deps.keys;
    const { strictRecipients, ...input } = this.o.keyHealth;
    const backupRecipients = backup === undefined ? undefined : storedRecipients(backup, target);
    const health = assessKeyHealth({
      ...input,
      now: this.started,
      decryptionKeys: keys?.decryptionKeys ?? [],
      trustedSigners: keys?.trustedSigners ?? [],
      backupRecipients,
    });
    this.keyHealth.details = {
      ...health.details,
      warnings: health.warnings,
      ...(health.unexpectedRecipients !== undefined ? { recipientWarning: health.unexpectedRecipients } : {}),
    };
    this.keyHealth.summary =
      health.warnings.length === 0 ? 'no key expires within the warning window' : `${health.warnings.length} key warning(s)`;
    this.warnings.push(...health.warnings);
    if (health.unexpectedRecipients !== undefined) {
      this.warnings.push(health.unexpectedRecipients);
      this.keyHealth.summary += `; the backup has ${health.details.unexpectedBackupRecipients!.length} unexpected recipient(s)`;
      this.deps.log.warn(
        { backupId: backup?.id, unexpectedBackupRecipients: health.details.unexpectedBackupRecipients, strictRecipients },
        health.unexpectedRecipients,
      );
      if (strictRecipients) {
        this.keyHealth.fail({ message: `${health.unexpectedRecipients} (--strict-recipients)` });
      }
    }
    this.checkKeyReadability(
      catalogue,
      keys?.decryptionKeys.map((k) => k.fingerprint),
      strictRecipients,
    );
  }

  /**
   * Part of key health: every retained authenticated backup against the decryption keys, by the
   * recipients its seal (or rekey seal) names; nothing downloaded. Not judged when the keys could
   * not be unlocked (integrity fails) or seals of several clusters share the name.
   */
  private checkKeyReadability(catalogue: Catalogue, decryptionKeys: string[] | undefined, strict: boolean): void {
    const c = this.keyHealth;
    if (decryptionKeys === undefined) {
      c.summary += '; backups not judged readable: the decryption key could not be unlocked';
      return;
    }
    if (catalogue.clusterUids.length > 1) {
      c.summary += '; backups not judged readable: seals of several clusters share this cluster name (set --cluster-uid)';
      return;
    }
    const retained = catalogue.entries.flatMap((e) =>
      e.authenticated
        ? [{ id: e.id, kind: e.authenticated.kind, recipients: recipientsOf(e.authenticated.seal, e.authenticated.rekey) }]
        : [],
    );
    const r = assessKeyReadability(retained, decryptionKeys);
    this.readability = r;
    c.details = { ...c.details, unreadableBackups: r.unreadable.length };
    c.summary += `; ${r.backups.length - r.unreadable.length} of ${r.backups.length} retained backup(s) readable with the decryption key(s)`;
    const warning = unreadableWarning(r);
    if (warning === undefined) return;
    this.warnings.push(warning);
    c.details = { ...c.details, readabilityWarning: warning };
    this.deps.log.warn({ unreadableBackups: r.unreadable, strictRecipients: strict }, warning);
    if (strict) c.fail({ message: `${warning} (--strict-recipients)` });
  }

  /**
   * 7. Catalogue: everything under the cluster's prefix must be an authenticated backup.
   * Forged, foreign, future and damaged entries, stray keys, and unsealed ones older than the
   * incomplete grace fail it; a backup made before seals passes (with a warning to run adopt)
   * when its index decrypts and its signature verifies. Reads each such index once.
   */
  async checkCatalogue(catalogue: Catalogue, target: ResolvedBackup | undefined): Promise<void> {
    const c = this.catalogue;
    const { store, layout, keys } = this.deps;
    const found = unauthenticatedOf(catalogue, this.started, this.deps.incompleteGraceMs);
    let legacy = 0;
    await c.time(async () => {
      for (const u of found) {
        const entry = catalogue.entries.find((e) => e.id === u.id);
        // An index without a seal: made before seals (or a backup still being written): its index signature decides.
        const legacyCandidate = entry?.verdict.status === 'unsealed' && entry.objects.has(INDEX_NAME);
        if (legacyCandidate && !(keys instanceof BackupVerificationError)) {
          if (u.id === target?.id && 'legacy' in target.auth) {
            if (!this.integrity.failed) legacy++;
            continue;
          }
          try {
            await VerifiedBackup.open({ store, layout, keys, now: this.started }, u.id, { legacy: true });
            legacy++;
          } catch (e) {
            if (!(e instanceof BackupVerificationError)) throw e;
            if (!u.inProgress) c.fail({ message: `backup ${u.id} has no seal and its index does not verify: ${e.message}` });
          }
          continue;
        }
        if (!u.inProgress) c.fail({ message: `backup ${u.id} is not authenticated: ${u.problem}` });
      }
    });
    for (const key of catalogue.strays.slice(0, 20)) c.fail({ message: `${key} belongs to no backup (not ours)` });
    if (catalogue.clusterUids.length > 1) {
      c.fail({
        message: `seals of ${catalogue.clusterUids.length} clusters share this cluster name (kube-system UIDs ${catalogue.clusterUids.join(', ')}): set --cluster-uid`,
      });
    }
    if (legacy > 0) {
      this.warnings.push(
        `${legacy} backup(s) were made before seals existed; their index signatures verify: run secret-steward adopt once to seal them`,
      );
    }
    const authenticated = catalogue.entries.filter((e) => e.authenticated).length;
    c.summary = c.failed
      ? `${c.findingCount} problem(s) among ${catalogue.entries.length} backup(s) and ${catalogue.strays.length} stray object(s)`
      : `${authenticated} backup(s) authenticated${legacy > 0 ? `, ${legacy} made before seals (index signature verified)` : ''}`;
    c.details = { backups: catalogue.entries.length, authenticated, legacy, strays: catalogue.strays.length };
  }

  /** The report: every check's result, counts per backup and namespace, warnings. */
  report(backupId: string | undefined, target: ResolvedBackup | undefined, backup: VerifiedBackup | undefined): DrillReport {
    const { deps, started } = this;
    const checks = [
      this.freshness,
      this.integrity,
      this.validity,
      this.restorability,
      this.drift,
      this.keyHealth,
      this.catalogue,
      this.deep,
    ].map((c) => c.result());
    const finished = deps.clock.now();
    // What the seal or the verified index says; the id's time only for a backup that could not be opened.
    const createdAt =
      backup !== undefined
        ? new Date(backup.index.createdAt)
        : target !== undefined && 'seal' in target.auth
          ? new Date(target.auth.seal.createdAt)
          : backupId !== undefined
            ? backupIdTime(backupId)
            : undefined;
    return {
      format: DRILL_REPORT_FORMAT,
      drillId: deps.drillId,
      result: overallResult(checks),
      cluster: deps.layout.cluster,
      store: deps.store.location,
      drillNamespace: deps.drillNamespace.namespace,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: Math.round(performance.now() - this.t0 - this.deepMs),
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
                    recipients: storedRecipients(backup, target),
                    secrets: backup.index.totals.secrets,
                    segments: backup.index.totals.segments,
                    storedBytes: backup.index.totals.storedBytes,
                    toolVersion: backup.index.toolVersion,
                    authenticatedBy: target !== undefined && 'seal' in target.auth ? ('seal' as const) : ('index-signature' as const),
                    ...(target !== undefined && 'seal' in target.auth ? { clusterUid: target.auth.seal.clusterUid } : {}),
                  }
                : {}),
            },
          }
        : {}),
      checks,
      counts: this.counts,
      namespaces: Object.fromEntries([...this.namespaces.entries()].sort(([a], [b]) => a.localeCompare(b))),
      warnings: this.warnings,
      tool: { version: TOOL_VERSION, runner: deps.runner },
      ...(this.rto ? { rto: this.rto } : {}),
      ...(this.deepReport ? { deepCheck: this.deepReport } : {}),
      ...(this.readability ? { keyReadability: this.readability } : {}),
    };
  }

  /**
   * 8. Deep check: the retained backups other than the drilled one, those verified longest ago
   * first (as signed drill reports show), verified whole; every retained backup's last
   * verification in the report. Timed apart from the drill.
   */
  async deepCheck(catalogue: Catalogue, drilled: VerifiedBackup | undefined): Promise<void> {
    const c = this.deep;
    const dc = this.o.deepCheck;
    if (dc === undefined) {
      c.skip('--deep-check-cycle is 0');
      return;
    }
    const t0 = performance.now();
    try {
      await c.time(() => this.runDeepCheck(catalogue, drilled, dc));
    } finally {
      this.deepMs = performance.now() - t0;
      if (this.deepReport) this.deepReport.durationMs = Math.round(this.deepMs);
    }
  }

  private async runDeepCheck(
    catalogue: Catalogue,
    drilled: VerifiedBackup | undefined,
    dc: { cycleMs: number; perRun: number },
  ): Promise<void> {
    const c = this.deep;
    const { deps, started } = this;
    if (catalogue.clusterUids.length > 1) {
      c.skip('seals of several clusters share this cluster name (set --cluster-uid)');
      return;
    }
    const retained: DeepCheckCandidate[] = catalogue.entries.flatMap((e) =>
      e.verdict.status === 'sealed'
        ? [
            {
              id: e.id,
              createdAt: new Date(e.verdict.seal.createdAt),
              seal: e.verdict.seal,
              signer: e.verdict.signer,
              ...(e.verdict.rekey ? { rekey: e.verdict.rekey } : {}),
            },
          ]
        : [],
    );
    const since = retained.reduce<Date | undefined>((m, r) => (m === undefined || r.createdAt < m ? r.createdAt : m), undefined);
    let history: Awaited<ReturnType<typeof readVerificationHistory>>;
    try {
      history = await readVerificationHistory(deps.store, deps.layout, deps.reportSigners ?? [], {
        now: started,
        ...(since ? { since } : {}),
      });
    } catch (e) {
      // Without the history every backup would look never verified: check none rather than all.
      if (!isStorageError(e)) throw e;
      c.error({
        message: `could not read the earlier drill reports under ${deps.store.location}/${deps.layout.reportsPrefix()}: ${e.message}`,
      });
      c.summary = 'not run: the earlier drill reports could not be read';
      return;
    }
    for (const r of retained) {
      const at = history.lastVerified.get(r.id);
      if (at !== undefined) r.lastVerified = at;
    }
    const drilledOk = drilled !== undefined && !this.integrity.failed && this.integrity.status === 'pass';
    if (drilledOk) {
      const r = retained.find((x) => x.id === drilled.id);
      if (r) r.lastVerified = started.toISOString();
    }
    const others = retained.filter((r) => r.id !== drilled?.id);
    const chosen = selectForDeepCheck(others, { budget: dc.perRun, cycleMs: dc.cycleMs, now: started });
    const report: DeepCheckReport = {
      cycleMs: dc.cycleMs,
      budget: dc.perRun > 0 ? dc.perRun : chosen.length,
      durationMs: 0,
      checked: [],
      backups: [],
      notVerifiedInCycle: [],
      history: history.note,
    };
    this.deepReport = report;
    const keys = deps.keys;
    if (keys instanceof BackupVerificationError) {
      c.skip('the decryption key could not be unlocked');
    } else {
      for (const r of chosen) {
        deps.shutdown.checkpoint();
        const out = await deepCheckBackup({ store: deps.store, layout: deps.layout, keys, now: started }, r, () =>
          deps.shutdown.checkpoint(),
        );
        report.checked.push(out.checked);
        for (const f of out.findings) c.fail(f);
        if (out.error !== undefined) c.error({ message: out.error });
        if (out.checked.result === 'pass') r.lastVerified = out.checked.at;
      }
    }
    report.backups = [...retained]
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
      .map((r) => ({ id: r.id, createdAt: r.createdAt.toISOString(), lastVerified: r.lastVerified ?? null }));
    report.notVerifiedInCycle = report.backups.filter((b) => outsideCycle(b, started, dc.cycleMs)).map((b) => b.id);
    const bad = report.checked.filter((x) => x.result === 'fail');
    if (report.notVerifiedInCycle.length > 0) {
      this.warnings.push(
        `${report.notVerifiedInCycle.length} retained backup(s) not verified within ${formatDuration(dc.cycleMs)}: ${report.notVerifiedInCycle.slice(0, 5).join(', ')}${report.notVerifiedInCycle.length > 5 ? ', …' : ''} (raise --deep-check-per-run)`,
      );
    }
    if (c.status === 'skipped') return;
    c.summary =
      `${report.checked.length} of ${others.length} other retained backup(s) verified whole (seal, signature, SHA-256, decryption, every Secret's hash)` +
      (bad.length > 0
        ? `: ${bad.length} failed (${bad.map((x) => `${x.backupId}: ${x.failedChecks.join(', ')}`).join('; ')})`
        : ': all intact') +
      `; ${report.notVerifiedInCycle.length} not verified within ${formatDuration(dc.cycleMs)}`;
    c.details = {
      checked: report.checked.map((x) => x.backupId),
      failed: bad.map((x) => x.backupId),
      notVerifiedInCycle: report.notVerifiedInCycle.length,
    };
  }

  /** The measured restore time of the pass that took `ms`, by namespace, and its projection to the whole backup. */
  private measureRto(b: VerifiedBackup, ms: number): void {
    const { counts } = this;
    if (counts.secretsRestored === 0) return;
    const read = counts.secretsVerified;
    const byNamespace = [...this.nsMs.entries()]
      .map(([namespace, t]) => ({ namespace, secrets: this.namespaces.get(namespace)?.secrets ?? 0, ms: Math.round(t) }))
      .sort((x, y) => y.ms - x.ms || x.namespace.localeCompare(y.namespace))
      .slice(0, RTO_TOP_NAMESPACES);
    this.rto = {
      measuredMs: Math.round(ms),
      secretsRestored: counts.secretsRestored,
      secretsRead: read,
      secretsInBackup: b.index.secrets.length,
      projectedFullRestoreMs: Math.round((ms * b.index.secrets.length) / Math.max(1, read)),
      namespaces: this.namespaces.size,
      byNamespace,
    };
  }

  private skipAfterIntegrity(why: string): void {
    for (const c of [this.validity, this.restorability, this.drift]) c.skip(why);
  }

  private nsOf(ns: string): NamespaceResult {
    let r = this.namespaces.get(ns);
    if (r === undefined) {
      r = { secrets: 0, verified: 0, valid: 0, restored: 0, skipped: 0, problems: 0 };
      this.namespaces.set(ns, r);
    }
    return r;
  }

  private restorer(b: VerifiedBackup): DrillRestorer {
    const { deps, o } = this;
    return new DrillRestorer(deps.drillNamespace, this.restorability, {
      drillId: deps.drillId,
      backupId: b.id,
      concurrency: o.concurrency,
      batch: o.batch ?? DEFAULT_BATCH_LIMITS,
      log: deps.log,
      checkpoint: () => deps.shutdown.checkpoint(),
      onRestored: (item) => {
        this.counts.secretsRestored++;
        this.nsOf(item.entry.namespace).restored++;
      },
      onFailed: (item) => this.nsOf(item.entry.namespace).problems++,
      warn: (message) => this.warnings.push(message),
    });
  }

  /**
   * Removes the leftovers of earlier drills that were killed before their cleanup. False, with
   * restorability failed (or errored), when the drill namespace could not be prepared.
   */
  private async prepareDrillNamespace(restorer: DrillRestorer): Promise<boolean> {
    const { deps, restorability } = this;
    const namespace = deps.drillNamespace.namespace;
    try {
      const removed = await restorer.removeEarlierDrills();
      if (removed > 0) {
        this.warnings.push(`removed ${removed} leftover drill object(s) of an earlier, interrupted drill from namespace ${namespace}`);
        deps.log.warn({ namespace, objects: removed }, 'removed leftover drill objects of an earlier drill');
      }
      return true;
    } catch (e) {
      const text = errorText(e);
      if (isKubeError(e, (k) => k.transient)) restorability.error({ message: `could not look for leftovers of earlier drills: ${text}` });
      else restorability.fail({ message: `could not look for or remove leftovers of earlier drills in namespace ${namespace}: ${text}` });
      restorability.summary = 'not run: the drill namespace could not be prepared';
      return false;
    }
  }

  /**
   * Reads segment `n` and checks each of its Secrets; `restorer`, unless restorability is not
   * run. A segment that fails verification as a whole fails integrity for its Secrets only.
   */
  private async verifySegment(b: VerifiedBackup, n: number, restorer: DrillRestorer | undefined, progress: ProgressPhase): Promise<void> {
    this.deps.shutdown.checkpoint();
    const it = b.readSegment(n)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const t = performance.now();
        const step = await this.integrity.time(() => it.next());
        if (step.done) break;
        await this.checkSecret(step.value, n, restorer);
        const ns = step.value.entry.namespace || step.value.secret.metadata.namespace;
        this.nsMs.set(ns, (this.nsMs.get(ns) ?? 0) + performance.now() - t);
        progress.add();
      }
      this.counts.segmentsVerified++;
    } catch (e) {
      if (!(e instanceof BackupVerificationError)) throw e;
      this.integrity.fail({ segment: n, message: e.message });
      for (const entry of b.entriesOf(n)) this.nsOf(entry.namespace).problems++;
    } finally {
      await it.return?.(undefined);
    }
  }

  /** One Secret: integrity (its hash), validity, then restorability unless it is never restored or invalid. */
  private async checkSecret(item: BackupItem, n: number, restorer: DrillRestorer | undefined): Promise<void> {
    const { counts, validity } = this;
    const ns = this.nsOf(item.entry.namespace || item.secret.metadata.namespace);
    const where = { namespace: item.secret.metadata.namespace, name: item.secret.metadata.name, segment: n };
    if (item.mismatch !== undefined) {
      this.integrity.fail({ ...where, message: item.mismatch });
      ns.problems++;
      return;
    }
    counts.secretsVerified++;
    ns.verified++;
    const who = `${item.secret.metadata.namespace}/${item.secret.metadata.name}`;
    const v = validity.timeSync(() => validateSecret(item.secret, this.started));
    for (const w of v.warnings) {
      if (this.secretWarnings++ < MAX_SECRET_WARNINGS) this.warnings.push(`Secret ${who}: ${w}`);
    }
    if (v.problems.length > 0) {
      for (const p of v.problems) validity.fail({ namespace: where.namespace, name: where.name, message: `Secret ${who}: ${p.message}` });
      ns.problems++;
    } else {
      counts.secretsValid++;
      ns.valid++;
    }
    if (NEVER_RESTORED_TYPES.includes(item.secret.type) || v.problems.some((p) => p.severity === 'invalid')) {
      counts.secretsSkipped++;
      ns.skipped++;
      if (!NEVER_RESTORED_TYPES.includes(item.secret.type)) this.notAttempted++;
      return;
    }
    if (restorer !== undefined && !restorer.isStopped) await this.restorability.time(() => restorer.submit(item));
  }

  private summarizeIntegrityAndValidity(b: VerifiedBackup): void {
    const { counts } = this;
    const segmentsBad = b.segmentCount - counts.segmentsVerified;
    this.integrity.summary = this.integrity.failed
      ? `${this.integrity.findingCount} problem(s): ${segmentsBad} of ${b.segmentCount} segment(s) failed verification; ${counts.secretsVerified} of ${counts.secretsInBackup} Secrets verified`
      : `${this.sealed ? 'sealed and ' : 'not sealed (made before 0.2.0: run adopt); index '}${signatureText(b)}; ${b.segmentCount} segment(s) and ${counts.secretsVerified} Secrets match the SHA-256 recorded in the index`;
    this.validity.summary = this.validity.failed
      ? `${counts.secretsVerified - counts.secretsValid} of ${counts.secretsVerified} Secrets${this.ofIntact()} have problems`
      : `${counts.secretsValid} of ${counts.secretsVerified} Secrets${this.ofIntact()} are valid for their type`;
  }

  private summarizeRestorability(restorer: DrillRestorer): void {
    const { counts, restorability } = this;
    const skippedText =
      counts.secretsSkipped > 0
        ? `; ${counts.secretsSkipped} skipped (${counts.secretsSkipped - this.notAttempted} never restored by type, ${this.notAttempted} invalid)`
        : '';
    restorability.summary =
      restorability.status === 'pass'
        ? `${counts.secretsRestored} Secrets${this.ofIntact()} created in namespace ${this.deps.drillNamespace.namespace}, read back byte-identical and deleted, in ${restorer.batches} batch(es)${skippedText}`
        : `${restorability.findingCount} problem(s); ${counts.secretsRestored} Secrets restored byte-identical${skippedText}; every drill object was removed${restorability.failed && restorability.result().findings.some((f) => /could not be deleted/.test(f.message)) ? ' except those listed' : ''}`;
  }

  /** Said of counts when some segments failed integrity. */
  private ofIntact(): string {
    return this.counts.secretsVerified === this.counts.secretsInBackup ? '' : ' (of those from intact segments)';
  }
}

/**
 * Whom the drilled backup's stored copy is encrypted to: its seal's word (a rekeyed backup's
 * index still names the recipients it was first encrypted to), else its verified index's.
 */
function storedRecipients(b: VerifiedBackup, target: ResolvedBackup | undefined): string[] {
  if (target !== undefined && target.id === b.id && 'seal' in target.auth) return recipientsOf(target.auth.seal, target.auth.rekey);
  return b.index.recipients;
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
