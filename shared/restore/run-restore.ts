/**
 * Restoring Secrets from a backup.
 *
 * 1. Verify: the whole backup is read and checked exactly as the DR drill does (index
 *    signature and identity, every segment's size and SHA-256, decryption, every Secret against
 *    its recorded hash). Any failure stops the restore before anything is written. The plan
 *    keeps only small facts per selected Secret (names, hashes), never the Secrets themselves.
 * 2. Plan: target namespaces must exist (or --create-namespaces) and not be Terminating; the live
 *    Secrets are read and each selected Secret gets an action (see `decideAction`).
 * 3. Save: with --mode overwrite, the live Secrets about to be overwritten or recreated are
 *    first backed up with the normal backup format (kind `pre-restore`), so that restoring that
 *    backup undoes the restore; every overwrite is guarded by the resourceVersion saved there.
 * 4. Write: the Secrets that step 1 verified and spooled, as the JSON bodies that write them (see
 *    restore-spool.ts: encrypted under a key only this process holds, authenticated chunk by
 *    chunk), are read back, and each planned Secret is written (a create sends its body's
 *    bytes), up to `writeLimit` at once (fewer while the API server answers 429 or 5xx). Every
 *    write with --dry-run carries `dryRun=All`. What the API server answers is checked against
 *    the recorded SHA-256. Within the spool's budget (--restore-spool-limit:
 *    whole segments in order, as many as fit) the backup is downloaded and decrypted once; the
 *    segments beyond it are read from the store again for the write, each checked as in step 1
 *    (a segment changed since stops the restore), so a restore of any size completes.
 *
 * One Secret's failure (409, 422...) is recorded and the restore goes on; an API server or store
 * that stays unavailable, or a shutdown request, stops it (the result so far is reported).
 */
import { performance } from 'node:perf_hooks';
import type { V1Secret } from '@kubernetes/client-node';
import { readCatalogue } from '../backup/backup-catalog.js';
import type { BackupLayout } from '../backup/backup-layout.js';
import type { SealTrust } from '../backup/backup-seal.js';
import { DEFAULT_EXCLUDED_TYPES } from '../backup/backup-settings.js';
import { type BackupDeps, runBackup } from '../backup/run-backup.js';
import { secretDataDigest } from '../backup/secret-digest.js';
import type { ExportedSecret } from '../backup/secret-export.js';
import type { SecretPage } from '../backup/secret-source.js';
import { formatSize } from '../config/options.js';
import type { RecipientKey, SigningKey } from '../crypto/index.js';
import { ConfigError, errorText, StewardError } from '../errors/index.js';
import { isKubeError, type NamespaceStore, SecretJson, type SecretStore } from '../kube/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import { type Concurrency, eachLimit } from '../runtime/map-limit.js';
import { Progress } from '../runtime/progress.js';
import type { Shutdown } from '../runtime/shutdown.js';
import type { ObjectStore } from '../storage/index.js';
import { openResolved, resolveBackup, type VerifiedBackup } from '../verify-restore/backup-reader.js';
import { NEVER_RESTORED_TYPES } from '../verify-restore/never-restored.js';
import { validateSecret } from '../verify-restore/secret-validity.js';
import { BackupVerificationError } from '../verify-restore/verification-error.js';
import type { VerificationKeys } from '../verify-restore/verification-keys.js';
import { contentDigest, decideAction, liveFacts, type PlannedSecret, type RestoreAction, WRITE_ACTIONS } from './restore-plan.js';
import type { RestoreSelection } from './restore-selection.js';
import { RestoreSpool } from './restore-spool.js';

const MIB = 1024 * 1024;
/** Up to this many Secrets in a namespace are read one by one; more, and the namespace is listed. */
const GET_EACH_LIMIT = 20;

/** The restore was refused before anything was written (nothing selected, unknown names, a target namespace Terminating). Exit 1. */
export class RestoreRefusedError extends StewardError {}

export interface RestoreDeps {
  /** Every Secret read and write of the restore (sent with `dryRun=All` on a dry run). */
  secrets: SecretStore;
  namespaces: NamespaceStore;
  store: ObjectStore;
  layout: BackupLayout;
  keys: VerificationKeys;
  /** Keys the pre-restore backup is encrypted to (required when something is overwritten). */
  recipients: readonly RecipientKey[];
  /**
   * The restore job's own key that signs and seals pre-restore backups, and the UID of the
   * cluster they are taken from (required when something is overwritten).
   */
  preRestore?: { signingKey: SigningKey; clusterUid: string };
  /** Whose seals are believed when choosing and opening the backup to restore from. */
  trust: SealTrust;
  /** Notes on the job's Lease which backup the restore reads, so that retention keeps it meanwhile. */
  reading?: { record(backupId: string | undefined): Promise<void> };
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
  /** Progress lines while the backup is verified and Secrets are written. @default every 10 s, in the log only */
  progress?: Progress;
  /** Where the pre-restore backup notes itself while it is written (the restore's Lease; see `BackupDeps.inFlight`). */
  inFlight?: BackupDeps['inFlight'];
  /**
   * How many Secrets are written at once: the job passes an `AdaptiveLimit` that the Kubernetes
   * caller also tells of every 429 and 5xx. @default 1
   */
  writeLimit?: Concurrency;
  /**
   * Where the verified Secrets are spooled between the verify and write passes (encrypted, see
   * restore-spool.ts). @default os.tmpdir(): TMPDIR, the pod's emptyDir
   */
  spoolDir?: string;
  /**
   * Most bytes the spool may take (--restore-spool-limit): the segments that do not fit are read
   * from the store again to write; 0 spools nothing. @default no limit
   */
  spoolLimit?: number;
}

export interface RestoreOptions {
  backup: string;
  selection: RestoreSelection;
  mode: 'create-missing' | 'overwrite';
  recreateImmutable: boolean;
  createNamespaces: boolean;
  dryRun: boolean;
}

export interface RestoreReport {
  backupId?: string;
  dryRun: boolean;
  mode: 'create-missing' | 'overwrite';
  /** The automatic backup of what was overwritten; restore it (--mode overwrite) to undo. */
  preRestoreBackupId?: string;
  namespacesCreated: string[];
  /** Every selected Secret with its action and outcome. */
  items: PlannedSecret[];
  counts: Record<RestoreAction, number> & { failed: number; written: number };
  warnings: string[];
  /** verified | planned | saved | written: how far the restore got. */
  stage: 'started' | 'verified' | 'planned' | 'saved' | 'written';
  durationMs: number;
}

export function emptyRestoreReport(o: Pick<RestoreOptions, 'dryRun' | 'mode'>): RestoreReport {
  return {
    dryRun: o.dryRun,
    mode: o.mode,
    namespacesCreated: [],
    items: [],
    counts: { create: 0, overwrite: 0, recreate: 0, unchanged: 0, skip: 0, failed: 0, written: 0 },
    warnings: [],
    stage: 'started',
    durationMs: 0,
  };
}

/**
 * Runs a restore, filling `report` as it goes (so that an interrupted or failed restore still
 * reports what it did). Throws {@link BackupVerificationError} (nothing written),
 * {@link RestoreRefusedError} (also: a target namespace is Terminating), ConfigError (missing
 * namespaces), or what stopped it.
 */
export async function runRestore(deps: RestoreDeps, o: RestoreOptions, report: RestoreReport): Promise<RestoreReport> {
  const t0 = performance.now();
  const run = new RestoreRun(deps, o, report);
  try {
    // Kept once verified only when segments beyond the spool's budget are read again to write.
    await run.verifyAndSelect(await run.openBackup());
    await run.planAgainstLive();
    await run.saveWhatIsOverwritten();
    await run.writePlanned();
    return report;
  } finally {
    await run.removeSpool();
    run.count();
    report.durationMs = Math.round(performance.now() - t0);
  }
}

/** A restore in progress: the phases of {@link runRestore}, in order; each ends by setting `report.stage`. */
class RestoreRun {
  private readonly now: Date;
  private log: Logger;
  /** The selected Secrets of the backup, by namespace then name in the backup (no key string per Secret). */
  private readonly bySource = new Map<string, Map<string, PlannedSecret>>();
  /** How many Secrets `bySource` holds. */
  private selected = 0;
  /** Namespaces written into, sorted. */
  private targetNamespaces: string[] = [];
  /** Target namespaces that do not exist (created first with --create-namespaces). */
  private missingNamespaces: string[] = [];
  private readonly progress: Progress;
  /** The verified Secrets that may be written, from step 1 to step 4 (of the first `spooledSegments` segments). */
  private spool: RestoreSpool | undefined;
  /** Segments 1 to this are in the spool; the Secrets of those after are read from the backup again to write. */
  private spooledSegments = 0;
  /** The backup, kept only when some of its segments are read again to write. */
  private rereadFrom: VerifiedBackup | undefined;
  /** One copy of each namespace and type string, however many Secrets name it. */
  private readonly strings = new Map<string, string>();

  constructor(
    private readonly deps: RestoreDeps,
    private readonly o: RestoreOptions,
    private readonly report: RestoreReport,
  ) {
    this.now = deps.clock.now();
    this.log = deps.log;
    this.progress = deps.progress ?? new Progress({ log: deps.log, clock: deps.clock });
  }

  /**
   * Finds the backup on the authenticated catalogue (`latest`: the newest authenticated
   * scheduled one) and opens it: its seal, index and signature are verified.
   */
  async openBackup(): Promise<VerifiedBackup> {
    const { store, layout, trust } = this.deps;
    const resolved = resolveBackup(await readCatalogue(store, layout, trust), layout.cluster, this.o.backup, this.now);
    if (resolved === undefined)
      throw new RestoreRefusedError(
        `there is no authenticated scheduled backup under ${store.location}/${layout.backupsPrefix()} to restore from`,
      );
    const backupId = resolved.id;
    this.report.backupId = backupId;
    await this.deps.reading?.record(backupId);
    const { backup, skipped } = await openResolved({ store, layout, keys: this.deps.keys, now: this.now }, resolved);
    this.report.warnings.push(...skipped);
    if (backup.id !== backupId) {
      this.report.backupId = backup.id;
      await this.deps.reading?.record(backup.id);
    }
    this.report.warnings.push(...backup.warnings);
    this.log = this.deps.log.child({ backupId });
    return backup;
  }

  /**
   * 1. Verify: reads every segment, checking each Secret against the index (any mismatch stops
   * the restore before anything is written), and notes the selected ones with small facts only
   * (names, hashes, validity); those that may be written are spooled for step 4. Refuses a
   * `--name` the backup lacks, or an empty selection.
   */
  async verifyAndSelect(backup: VerifiedBackup): Promise<void> {
    const { o, report } = this;
    const seenNamespaces = new Set<string>();
    const outsideScope = new Set<string>();
    const progress = this.progress.phase('restore: verify', backup.index.secrets.length);
    const limit = this.deps.spoolLimit ?? Number.POSITIVE_INFINITY;
    const stale = await RestoreSpool.removeStale(this.deps.spoolDir);
    if (stale.length > 0)
      this.log.info({ spools: stale }, `removed ${stale.length} restore spool(s) left in TMPDIR by a restore process that is gone`);
    const spool = limit > 0 ? await RestoreSpool.create(this.deps.spoolDir, limit) : undefined;
    this.spool = spool;
    let spooling = spool !== undefined;
    if (!spooling) this.spoolBudgetReached(backup, 1, limit);
    const policy = this.policy();
    try {
      for (let n = 1; n <= backup.segmentCount; n++) {
        this.deps.shutdown.checkpoint();
        for await (const item of backup.readSegment(n)) {
          if (item.mismatch !== undefined) throw new BackupVerificationError('segment-content', backup.id, item.mismatch, { segment: n });
          progress.add();
          const s = item.secret;
          if (o.selection.outsideScope(s.metadata.namespace)) outsideScope.add(s.metadata.namespace);
          if (!o.selection.selects(s)) continue;
          seenNamespaces.add(s.metadata.namespace);
          const p = this.planned(s, item.entry.dataSha256, n);
          let inNs = this.bySource.get(p.source.namespace);
          if (inNs === undefined) {
            inNs = new Map();
            this.bySource.set(p.source.namespace, inNs);
          }
          if (!inNs.has(p.source.name)) this.selected++;
          inNs.set(p.source.name, p);
          // Skipped whatever is live (never-restored types, invalid): never needed again.
          if (!spooling || decideAction(p, undefined, policy).action === 'skip') continue;
          const spooled = {
            namespace: s.metadata.namespace,
            name: s.metadata.name,
            dataSha256: item.entry.dataSha256,
            // Serialised once, as it is sent: the write pass sends these bytes (see writeOne).
            body: JSON.stringify(restoreBody(s, p.target.namespace)),
          };
          if (!(await spool!.append(spooled))) {
            // Whole segments or none of one: this one and those after are read again to write.
            spooling = false;
            await spool!.rollBack();
            this.spoolBudgetReached(backup, n, limit);
          }
        }
        if (spooling) {
          this.spooledSegments = n;
          // Not after the last: finish() writes what is gathered as the last chunk.
          if (n < backup.segmentCount) await spool!.mark();
        }
      }
      await spool?.finish();
    } finally {
      progress.end();
    }
    report.stage = 'verified';
    this.log.info({ segments: backup.segmentCount, secrets: backup.index.secrets.length, selected: this.selected }, 'backup verified');
    const missingNames = [...o.selection.names].filter((k) => {
      const slash = k.indexOf('/');
      return this.bySource.get(k.slice(0, slash))?.has(k.slice(slash + 1)) !== true;
    });
    if (missingNames.length > 0)
      throw new RestoreRefusedError(`not in backup ${backup.id}: ${missingNames.join(', ')}; nothing was written`);
    if (this.selected === 0) throw new RestoreRefusedError(`no Secret in backup ${backup.id} matches the selection; nothing was written`);
    if (outsideScope.size > 0)
      report.warnings.push(
        `not restored: the Secrets of namespace${outsideScope.size === 1 ? '' : 's'} ${[...outsideScope].sort().join(', ')}, outside --scope-namespaces`,
      );
    for (const from of o.selection.unusedMappings(seenNamespaces))
      report.warnings.push(`--map-namespace ${from}=...: the backup has no selected Secret in namespace ${from}`);
    report.items = [...this.bySource.values()].flatMap((inNs) => [...inNs.values()]);
  }

  /**
   * 2. Plan: the target namespaces must exist (or --create-namespaces) and not be Terminating; the
   * live Secrets that could be written are read, and each selected Secret gets its action.
   */
  async planAgainstLive(): Promise<void> {
    const { o, report } = this;
    const policy = this.policy();
    // The Secrets that could be written, by target namespace (one pass, whatever the namespaces).
    const candidates = new Map<string, PlannedSecret[]>();
    for (const p of report.items) {
      if (decideAction(p, undefined, policy).action === 'skip') continue;
      const inNs = candidates.get(p.target.namespace);
      if (inNs === undefined) candidates.set(p.target.namespace, [p]);
      else inNs.push(p);
    }
    this.targetNamespaces = [...candidates.keys()].sort();
    const terminating: string[] = [];
    for (const ns of this.targetNamespaces) {
      const phase = await this.deps.namespaces.phase(ns);
      if (phase === 'missing') this.missingNamespaces.push(ns);
      else if (phase === 'Terminating') terminating.push(ns);
    }
    if (terminating.length > 0) {
      const one = terminating.length === 1;
      throw new RestoreRefusedError(
        `target namespace${one ? '' : 's'} ${terminating.join(', ')} ${one ? 'is' : 'are'} being deleted (Terminating): the API server refuses ` +
          `every create in ${one ? 'it' : 'them'} until the deletion is done. Restore again once ${one ? 'it is' : 'they are'} gone ` +
          `(--create-namespaces recreates ${one ? 'it' : 'them'}), or into another namespace with --map-namespace ${terminating[0]}=TO. Nothing was written`,
      );
    }
    const missing = this.missingNamespaces;
    if (missing.length > 0 && !o.createNamespaces) {
      throw ConfigError.single(
        '--create-namespaces / SECRET_STEWARD_CREATE_NAMESPACES',
        `target namespace${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist; ` +
          'create them, restore into others with --map-namespace FROM=TO, or give --create-namespaces. Nothing was written',
      );
    }
    for (const ns of this.targetNamespaces) {
      if (missing.includes(ns)) continue;
      this.deps.shutdown.checkpoint();
      await this.readLive(ns, candidates.get(ns) ?? []);
    }
    for (const p of report.items) Object.assign(p, decideAction(p, p.live, policy));
    report.stage = 'planned';
  }

  /**
   * 3. Save: with --mode overwrite, the live Secrets about to be overwritten or recreated are
   * backed up first (kind `pre-restore`); restoring that backup undoes the restore. Not on a dry run.
   */
  async saveWhatIsOverwritten(): Promise<void> {
    const { report } = this;
    const replacing = report.items.filter((p) => p.action === 'overwrite' || p.action === 'recreate');
    if (!this.o.dryRun && replacing.length > 0) {
      report.preRestoreBackupId = await savePreRestore(this.deps, replacing, this.targetNamespaces);
      this.log.info(
        { preRestoreBackupId: report.preRestoreBackupId, secrets: replacing.length },
        'live Secrets about to be overwritten are backed up; restore that backup to undo',
      );
    }
    report.stage = 'saved';
  }

  /**
   * 4. Write: creates the missing namespaces, then reads the spooled Secrets back (each chunk
   * authenticated as it is read), then the segments beyond the spool from the store (each
   * checked as in step 1), and writes each planned Secret.
   */
  async writePlanned(): Promise<void> {
    const { o, report } = this;
    for (const ns of this.missingNamespaces) {
      await this.deps.namespaces.create(ns, { labels: { 'app.kubernetes.io/created-by': 'secret-steward-restore' }, dryRun: o.dryRun });
      if (!o.dryRun) report.namespacesCreated.push(ns);
    }
    for (const p of report.items) if (!WRITE_ACTIONS.has(p.action)) p.outcome = 'skipped';
    const toCreate = new Set(this.missingNamespaces);
    let writing = 0;
    for (const p of report.items) if (WRITE_ACTIONS.has(p.action)) writing++;
    const progress = this.progress.phase(o.dryRun ? 'restore: write (dry run)' : 'restore: write', writing);
    const { bySource, deps, spool, spooledSegments } = this;
    const backup = this.rereadFrom;
    const reread = new Set<number>();
    for (const p of report.items) if (WRITE_ACTIONS.has(p.action) && p.segment > spooledSegments) reread.add(p.segment);
    async function* planned(): AsyncGenerator<{ p: PlannedSecret; body: V1Secret | SecretJson; dataSha256: string }> {
      if (spool !== undefined) {
        for await (const { namespace, name, dataSha256, body } of spool.read()) {
          const p = bySource.get(namespace)?.get(name);
          if (p !== undefined && WRITE_ACTIONS.has(p.action)) yield { p, body: new SecretJson(p.target.name, body), dataSha256 };
        }
      }
      if (backup === undefined) return;
      for (const n of [...reread].sort((a, b) => a - b)) {
        deps.shutdown.checkpoint();
        for await (const item of backup.readSegment(n)) {
          if (item.mismatch !== undefined) throw new BackupVerificationError('segment-content', backup.id, item.mismatch, { segment: n });
          const p = bySource.get(item.secret.metadata.namespace)?.get(item.secret.metadata.name);
          if (p !== undefined && p.segment === n && WRITE_ACTIONS.has(p.action))
            yield { p, body: restoreBody(item.secret, p.target.namespace), dataSha256: item.entry.dataSha256 };
        }
      }
    }
    try {
      // The spool and the segments read again are read as the writes go: only the Secrets being written are held.
      await eachLimit(planned(), deps.writeLimit ?? 1, async ({ p, body, dataSha256 }) => {
        deps.shutdown.checkpoint();
        await writeOne(deps, o, report, { p, body, dataSha256 }, toCreate);
        progress.add();
      });
    } finally {
      progress.end();
    }
    report.stage = 'written';
  }

  /**
   * Segment `n` does not fit in the spool's budget: it and those after are not spooled, and are
   * read from the store again to write (so the backup is kept).
   */
  private spoolBudgetReached(backup: VerifiedBackup, n: number, limit: number): void {
    this.rereadFrom = backup;
    const reread = backup.segmentCount - n + 1;
    this.log.info(
      { setting: '--restore-spool-limit', spoolLimit: formatSize(limit), spooledSegments: n - 1, rereadSegments: reread },
      `restore spool budget reached (--restore-spool-limit ${formatSize(limit)}): ${reread} of ${backup.segmentCount} segments are not spooled and are read from the store again to write`,
    );
  }

  private intern(x: string): string {
    const known = this.strings.get(x);
    if (known !== undefined) return known;
    this.strings.set(x, x);
    return x;
  }

  /** Deletes the spool (its file and key); the restore calls it whatever happened. */
  async removeSpool(): Promise<void> {
    await this.spool?.remove();
  }

  private policy() {
    const { o } = this;
    return { mode: o.mode, recreateImmutable: o.recreateImmutable, neverRestoredTypes: NEVER_RESTORED_TYPES };
  }

  /** Counts actions and outcomes into the report (also after a failure: what was done so far). */
  count(): void {
    const { report } = this;
    for (const p of report.items) {
      report.counts[p.action]++;
      if (p.outcome === 'failed') report.counts.failed++;
      if (p.outcome === 'done') report.counts.written++;
    }
  }

  /**
   * A selected Secret of the backup, with its validity, not yet planned. Kept for every selected
   * Secret until the end, so small: namespace and type strings shared, `target` the very object
   * `source` is when the namespace is not mapped, and no data digest (the spool carries it).
   */
  private planned(s: ExportedSecret, dataSha256: string, segment: number): PlannedSecret {
    const v = validateSecret(s, this.now);
    const namespace = this.intern(s.metadata.namespace);
    const targetNamespace = this.intern(this.o.selection.targetNamespace(namespace));
    const source = { namespace, name: s.metadata.name };
    const p: PlannedSecret = {
      source,
      target: targetNamespace === namespace ? source : { namespace: targetNamespace, name: s.metadata.name },
      type: this.intern(s.type),
      immutable: s.immutable ?? false,
      // The reader checked that the data hashes to the index's dataSha256: not hashed again.
      contentSha256: contentDigest(s, dataSha256),
      segment,
      action: 'skip',
      outcome: 'pending',
    };
    const invalid = v.problems.filter((x) => x.severity === 'invalid').map((x) => x.message);
    const content = [...v.problems.filter((x) => x.severity === 'content').map((x) => x.message), ...v.warnings];
    if (invalid.length > 0) p.invalid = invalid;
    if (content.length > 0) p.contentWarnings = content;
    return p;
  }

  /**
   * Notes what is live for the candidates of namespace `ns`: up to {@link GET_EACH_LIMIT} are
   * read one by one, more and the namespace is listed.
   */
  private async readLive(ns: string, inNs: PlannedSecret[]): Promise<void> {
    const { secrets } = this.deps;
    if (inNs.length <= GET_EACH_LIMIT) {
      for (const p of inNs) {
        const live = await secrets.get(ns, p.target.name);
        if (live) p.live = liveFacts(live);
      }
      return;
    }
    const wanted = new Map(inNs.map((p) => [p.target.name, p]));
    for await (const page of secrets.list(ns, { pageSize: 250 })) {
      for (const live of page.items) {
        const p = wanted.get(live.metadata?.name ?? '');
        if (p) p.live = liveFacts(live);
      }
    }
  }
}

/** The object written for a backed-up Secret in its target namespace. */
export function restoreBody(s: ExportedSecret, namespace: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: s.metadata.name,
      namespace,
      ...(s.metadata.labels ? { labels: { ...s.metadata.labels } } : {}),
      ...(s.metadata.annotations ? { annotations: { ...s.metadata.annotations } } : {}),
      ...(s.metadata.finalizers ? { finalizers: [...s.metadata.finalizers] } : {}),
    },
    type: s.type,
    ...(s.immutable ? { immutable: true } : {}),
    ...(s.data ? { data: { ...s.data } } : {}),
  };
}

async function savePreRestore(deps: RestoreDeps, replacing: PlannedSecret[], namespaces: string[]): Promise<string> {
  const { secrets, preRestore } = deps;
  if (preRestore === undefined) {
    throw new RestoreRefusedError(
      'overwriting Secrets needs --pre-restore-signing-key: the pre-restore backup that undoes it is sealed with it',
    );
  }
  async function* source(): AsyncGenerator<SecretPage> {
    for (let i = 0; i < replacing.length; i += 100) {
      const items: V1Secret[] = [];
      for (const p of replacing.slice(i, i + 100)) {
        const live = await secrets.get(p.target.namespace, p.target.name);
        if (live === undefined) {
          // Gone since the plan: nothing to save, and nothing to overwrite.
          p.live = undefined;
          p.action = 'create';
          p.reason = 'deleted since the plan';
          continue;
        }
        // The version saved is the one every write is guarded by.
        p.live = liveFacts(live);
        items.push(live);
      }
      yield { items, resourceVersion: '', restarted: false };
    }
  }
  const result = await runBackup(
    {
      secrets: deps.secrets,
      store: deps.store,
      layout: deps.layout,
      recipients: deps.recipients,
      signingKey: preRestore.signingKey,
      clusterUid: preRestore.clusterUid,
      log: deps.log,
      clock: deps.clock,
      shutdown: deps.shutdown,
      inFlight: deps.inFlight,
      progress: deps.progress,
    },
    {
      selection: { namespaces, excludeNamespaces: [], excludeTypes: [...DEFAULT_EXCLUDED_TYPES] },
      compression: 'gzip',
      segmentBytes: 16 * MIB,
      pageSize: 100,
      allowEmpty: true,
      allowShrink: true,
      shrinkThreshold: 1,
      kind: 'pre-restore',
      source: source(),
      sourceTotal: replacing.length,
    },
  );
  return result.backupId;
}

/**
 * Writes one planned Secret `p`: `given` its {@link restoreBody} (as the JSON sent, from the
 * spool, or as an object), `dataSha256` the digest of its data recorded in the index (what the
 * API server's answer must have).
 */
async function writeOne(
  deps: RestoreDeps,
  o: RestoreOptions,
  report: RestoreReport,
  { p, body: given, dataSha256 }: { p: PlannedSecret; body: V1Secret | SecretJson; dataSha256: string },
  namespacesToCreate: ReadonlySet<string>,
): Promise<void> {
  const { secrets } = deps;
  const { namespace, name } = p.target;
  const written = (w: V1Secret) => {
    if (secretDataDigest(w.data) !== dataSha256) {
      p.outcome = 'failed';
      p.message = 'the API server answered with other data than was written (a mutating webhook?)';
    } else {
      p.outcome = o.dryRun ? 'would' : 'done';
    }
  };
  const create = async (body: V1Secret | SecretJson) => {
    try {
      written(await secrets.create(namespace, body, { dryRun: o.dryRun }));
    } catch (e) {
      if (!isKubeError(e, (k) => k.alreadyExists)) throw e;
      p.outcome = 'skipped';
      p.message = 'it was created by someone else since the plan, and is left alone';
    }
  };
  try {
    if (o.dryRun && namespacesToCreate.has(namespace)) {
      p.outcome = 'would';
      p.message = `namespace ${namespace} would be created first (a dry run cannot write into a namespace that does not exist yet)`;
      return;
    }
    // A create sends the body as it is; an overwrite or recreate adds to it first.
    if (p.action === 'create') return await create(given);
    const body = given instanceof SecretJson ? given.toSecret() : given;
    const live = await secrets.get(namespace, name);
    if (live === undefined) {
      p.message = 'deleted since the plan: created instead';
      return await create(body);
    }
    if (live.metadata?.resourceVersion !== p.live?.resourceVersion) {
      p.outcome = 'failed';
      p.message = `changed since ${o.dryRun ? 'the plan' : `the pre-restore backup ${report.preRestoreBackupId} saved it`}; not overwritten (run the restore again)`;
      return;
    }
    // The owners are in this cluster: keep them (the backup only has them as an annotation).
    if (live.metadata?.ownerReferences?.length) body.metadata!.ownerReferences = live.metadata.ownerReferences;
    if (p.action === 'overwrite') {
      body.metadata!.resourceVersion = live.metadata?.resourceVersion;
      // Not retried after an unknown outcome: a repeat of a replace that did happen would fail
      // with 409 and be reported as a Secret changed by someone else.
      return written(await secrets.replace(namespace, name, body, { dryRun: o.dryRun, retryUnknownOutcome: false }));
    }
    // Before deleting, make sure the create will be allowed: a dry-run create of the same name
    // passes authorization, admission and validation and then stops at AlreadyExists. Anything
    // else (403, 422) would leave the Secret deleted, so nothing is deleted.
    try {
      await secrets.create(namespace, body, { dryRun: true });
    } catch (e) {
      if (!isKubeError(e, (k) => k.alreadyExists)) {
        p.outcome = 'failed';
        p.message = `not recreated: the API server would refuse to create it again (${errorText(e)}); left as it was`;
        if (isKubeError(e, (k) => k.transient)) throw e;
        return;
      }
    }
    await secrets.delete(
      namespace,
      name,
      { uid: live.metadata?.uid, resourceVersion: live.metadata?.resourceVersion },
      { dryRun: o.dryRun },
    );
    if (o.dryRun) {
      p.outcome = 'would';
      p.message = 'would be deleted and created again (the create cannot be dry-run while the old one exists)';
      return;
    }
    try {
      written(await secrets.create(namespace, body));
    } catch (e) {
      p.outcome = 'failed';
      p.message = `DELETED but could not be created again (${errorText(e)}); its previous version is in pre-restore backup ${report.preRestoreBackupId}`;
      deps.log.error(
        { namespace, name, preRestoreBackupId: report.preRestoreBackupId },
        'a Secret was deleted for recreation but could not be created again',
      );
      if (isKubeError(e, (k) => k.transient)) throw e;
    }
  } catch (e) {
    if (p.outcome === 'failed') throw e;
    p.outcome = 'failed';
    p.message = errorText(e);
    if (isKubeError(e) && !e.transient) return;
    throw e;
  }
}
