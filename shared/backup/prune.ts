import { formatDuration } from '../config/options.js';
import { InterruptedError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { type DeleteTarget, type ObjectStore, StorageError } from '../storage/index.js';
import { authenticatedBackups, type Catalogue, isAmbiguous, mayBeInProgress, problemOf } from './backup-catalog.js';
import type { BackupLayout } from './backup-layout.js';
import { applyRetention, deletionShareProblem, type PreRestorePolicy, type RetentionDecision, type RetentionPolicy } from './retention.js';

/** A backup the catalogue could not authenticate: reported, never deleted by retention. */
export interface UnauthenticatedBackup {
  id: string;
  problem: string;
  objects: number;
  storedBytes: number;
  /** Unsealed and younger (by its id) than the incomplete grace: it may still be being written, so it is not reported yet. */
  inProgress?: boolean;
}

/**
 * What the store would not delete of a backup: an Object Lock that has not expired (reported as
 * kept by the store's lock until its retain-until date), a legal hold, or a refusal (no
 * permission to delete object versions). Nothing is lost and nothing is claimed deleted; a later
 * run deletes it once the store lets it.
 */
export interface KeptByStore {
  id: string;
  /** Object versions the store refused to delete. */
  objects: number;
  /** The seal is among them: the backup is whole, authenticated and still counted. */
  sealKept: boolean;
  /** The latest retain-until among the locked versions, when the store said. */
  retainUntil?: string;
  lockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  legalHold?: boolean;
  /** `kept by the store's lock until <time>`, or the store's refusal. */
  reason: string;
}

export interface PruneResult {
  /** One per authenticated backup, newest first. */
  decisions: RetentionDecision[];
  /** Set when nothing was deleted although the rules would have: why (share guard, ambiguous catalogue). */
  refused?: string;
  unauthenticated: UnauthenticatedBackup[];
  /** Keys under backups/ that belong to no backup id. */
  strays: string[];
  deletedBackups: number;
  deletedObjects: number;
  deletedBytes: number;
  /** Backups (or parts of them) retention wanted gone and the store kept. */
  keptByStore: KeptByStore[];
}

export interface PruneOptions {
  now: Date;
  dryRun: boolean;
  log: Logger;
  preRestore: PreRestorePolicy;
  /** Backups never to delete, with why (this run's own backup, backups being read). */
  protect?: ReadonlyMap<string, string>;
  /** Most of the authenticated backups one run may delete (0 to 1). */
  maxDeleteShare: number;
  /** How long an unsealed backup may be in progress before it is reported. @default 0 */
  incompleteGraceMs?: number;
  /**
   * Where the run notes which backup it is deleting (the job's Lease): set before the first
   * delete, cleared after the last, so that the next run finishes a deletion a killed run began
   * ({@link finishAbandonedDeletion}).
   */
  inFlight?: { record(note: string | undefined): Promise<void> };
  checkpoint?: () => void;
}

const NOTE_PREFIX = 'prune ';

/** The in-flight note of a backup being deleted: `prune <id>`. */
export function pruneNote(backupId: string): string {
  return `${NOTE_PREFIX}${backupId}`;
}

/** The backup a `prune <id>` note names, or undefined for other notes. */
export function prunedIdOf(note: string | undefined): string | undefined {
  return note?.startsWith(NOTE_PREFIX) ? note.slice(NOTE_PREFIX.length) : undefined;
}

/**
 * Applies the retention rules to the AUTHENTICATED backups of `catalogue` (read by the caller
 * with the keys it trusts); with `dryRun` it only decides. Unauthenticated backups (unsealed,
 * forged, foreign, future, damaged) and stray keys are reported and left alone: only
 * {@link deleteUnauthenticated}, given their ids, removes them. Deletes nothing when the
 * catalogue is ambiguous or the deletion would exceed `maxDeleteShare`.
 *
 * A backup is deleted seal first, so that a prune killed midway leaves no sealed backup with
 * missing objects; the rest (index, segments) goes next, and the in-flight note lets the next
 * run finish the job. Drill reports are evidence and are kept.
 */
export async function pruneBackups(
  store: ObjectStore,
  layout: BackupLayout,
  catalogue: Catalogue,
  policy: RetentionPolicy,
  o: PruneOptions,
): Promise<PruneResult> {
  const decisions = applyRetention(
    authenticatedBackups(catalogue).map((b) => ({ id: b.id, createdAt: b.createdAt, kind: b.kind })),
    policy,
    { now: o.now, preRestore: o.preRestore, protect: o.protect, formatDuration },
  );
  const unauthenticated = catalogue.entries.flatMap((e) => {
    const problem = problemOf(e);
    return problem === undefined ? [] : [{ id: e.id, problem, objects: e.objects.size, storedBytes: e.storedBytes }];
  });
  for (const u of unauthenticated)
    o.log.warn({ backupId: u.id, problem: u.problem }, 'backup not authenticated: kept and reported, never deleted by retention');
  if (catalogue.strays.length > 0)
    o.log.warn(
      { keys: catalogue.strays.slice(0, 10), count: catalogue.strays.length },
      'objects under backups/ that belong to no backup: left alone',
    );

  const result: PruneResult = {
    decisions,
    unauthenticated,
    strays: catalogue.strays,
    deletedBackups: 0,
    deletedObjects: 0,
    deletedBytes: 0,
    keptByStore: [],
  };
  if (isAmbiguous(catalogue)) {
    result.refused = `backups of ${catalogue.clusterUids.length} clusters are sealed under this cluster name (kube-system UIDs ${catalogue.clusterUids.join(', ')}): set --cluster-uid; nothing was deleted`;
  } else {
    result.refused = deletionShareProblem(decisions, o.maxDeleteShare);
  }
  if (result.refused !== undefined) {
    o.log.error({ reason: result.refused }, 'retention refused to delete');
    for (const d of decisions) if (!d.keep) d.reasons.push('not deleted: the run refused to delete');
    return result;
  }
  if (o.dryRun) return result;
  const sizes = new Map(catalogue.entries.map((e) => [e.id, e.storedBytes]));
  for (const d of decisions) {
    if (d.keep) continue;
    o.checkpoint?.();
    const deletion = await deleteBackup(store, layout, d.id, o.inFlight, o.log);
    result.deletedObjects += deletion.objects;
    if (deletion.kept !== undefined) {
      result.keptByStore.push(deletion.kept);
      d.reasons.push(deletion.kept.sealKept ? `not deleted: ${deletion.kept.reason}` : `partly deleted: ${deletion.kept.reason}`);
      o.log.warn(
        {
          backupId: d.id,
          kind: d.kind,
          deletedObjects: deletion.objects,
          keptObjects: deletion.kept.objects,
          reason: deletion.kept.reason,
        },
        deletion.kept.sealKept
          ? 'backup not deleted: the store keeps it; a later run deletes it'
          : 'backup partly deleted: the store keeps some of its objects; a later run deletes them',
      );
      continue;
    }
    result.deletedBackups++;
    result.deletedBytes += sizes.get(d.id) ?? 0;
    o.log.info({ backupId: d.id, kind: d.kind, objects: deletion.objects, reason: d.reasons.join('; ') }, 'backup deleted by retention');
  }
  return result;
}

/**
 * The catalogue's entries that are not authenticated backups, with why; unsealed ones without
 * an index and younger (by their id, a claim: this only delays a report) than `graceMs` are
 * marked in progress.
 */
export function unauthenticatedOf(catalogue: Catalogue, now: Date, graceMs: number): UnauthenticatedBackup[] {
  return catalogue.entries.flatMap((e) => {
    const problem = problemOf(e);
    if (problem === undefined) return [];
    const inProgress = mayBeInProgress(e, now, graceMs);
    return [{ id: e.id, problem, objects: e.objects.size, storedBytes: e.storedBytes, ...(inProgress ? { inProgress } : {}) }];
  });
}

/** What {@link deleteBackup} did: versions removed, and what the store kept. */
interface BackupDeletion {
  objects: number;
  kept?: KeptByStore;
}

/**
 * Deletes backup `id`: every VERSION of every object under its prefix (and any delete marker),
 * by version id, so that on a versioned or Object Lock bucket the data goes too, not just out of
 * sight behind a delete marker. The seal goes first and alone: when the store keeps it (an
 * Object Lock that has not expired), nothing else is touched and the backup stays whole and
 * authenticated. The seal is written last, so its lock ends last: once it can go, the rest can.
 * Notes the deletion on the Lease while it runs, and leaves the note when something was kept
 * after the seal went, so that the next run finishes the job.
 */
async function deleteBackup(
  store: ObjectStore,
  layout: BackupLayout,
  id: string,
  inFlight: PruneOptions['inFlight'],
  log?: Logger,
): Promise<BackupDeletion> {
  await noteBestEffort(inFlight, pruneNote(id), log);
  const targets = await versionsUnder(store, layout.backupPrefix(id), log);
  const sealKey = layout.sealKey(id);
  const indexKey = layout.indexKey(id);
  const groups = [
    targets.filter((t) => t.key === sealKey),
    targets.filter((t) => t.key === indexKey),
    targets.filter((t) => t.key !== sealKey && t.key !== indexKey),
  ];
  let objects = 0;
  let hidden = 0;
  const refused: StorageError[] = [];
  let sealKept = false;
  for (const [n, group] of groups.entries()) {
    if (group.length === 0) continue;
    for (const outcome of await store.deleteObjects(group)) {
      if (outcome.status === 'kept') refused.push(outcome.error);
      // A key deleted without its version id on a versioned bucket: a marker, the data stays.
      else if (outcome.versionId === undefined && outcome.deleteMarker === true) hidden++;
      else objects++;
    }
    if (n === 0 && refused.length > 0) {
      sealKept = true;
      break;
    }
  }
  if (refused.length === 0 || sealKept) await noteBestEffort(inFlight, undefined, log);
  if (refused.length > 0) return { objects, kept: keptByStore(id, refused, sealKept) };
  if (hidden > 0) {
    return {
      objects,
      kept: {
        id,
        objects: hidden,
        sealKept: false,
        reason: `hidden behind ${hidden} delete marker(s), not deleted: the bucket keeps versions and the store's credential may not list them (s3:ListBucketVersions, s3:DeleteObjectVersion)`,
      },
    };
  }
  return { objects };
}

/**
 * Every version under `prefix` as a delete target. A store that keeps no versions and does not
 * implement the listing (s3rver answers 405) has one current version per key: its keys. So
 * does a credential without s3:ListBucketVersions (a policy from before 0.2.0), with a warning:
 * on a versioned bucket its deletes only add delete markers, which {@link deleteBackup} reports.
 */
export async function versionsUnder(store: ObjectStore, prefix: string, log?: Logger): Promise<DeleteTarget[]> {
  const targets: DeleteTarget[] = [];
  try {
    for await (const v of store.listVersions(prefix)) targets.push({ key: v.key, versionId: v.versionId });
    return targets;
  } catch (e) {
    if (!(e instanceof StorageError) || e.operation !== 'listVersions') throw e;
    const unsupported = e.status === 405 || e.status === 501 || e.code === 'NotImplemented' || e.code === 'MethodNotAllowed';
    if (!unsupported && e.kind !== 'access-denied') throw e;
    if (e.kind === 'access-denied')
      log?.warn({ err: e }, 'cannot list object versions (s3:ListBucketVersions): deleting current versions only');
    targets.length = 0;
  }
  for await (const o of store.list(prefix)) targets.push({ key: o.key });
  return targets;
}

/** What the store's refusals say, as one report: the latest lock, or the first refusal. */
export function keptByStore(id: string, refused: readonly StorageError[], sealKept: boolean): KeptByStore {
  const locked = refused.filter((e) => e.kind === 'locked');
  const until = locked
    .map((e) => e.retainUntil)
    .filter((d): d is Date => d !== undefined)
    .sort((a, b) => b.getTime() - a.getTime())[0];
  const legalHold = locked.some((e) => e.legalHold === true);
  const mode = locked.find((e) => e.lockMode !== undefined)?.lockMode;
  const reason =
    locked.length === 0
      ? `the store refused to delete ${refused.length} object version(s): ${refused[0].message}`
      : legalHold && until === undefined
        ? `kept by the store's legal hold on ${locked.length} object version(s), until someone lifts it`
        : `kept by the store's lock${mode ? ` (${mode})` : ''} until ${until?.toISOString() ?? 'a time the store did not say'}` +
          `${legalHold ? ' and a legal hold' : ''}`;
  return {
    id,
    objects: refused.length,
    sealKept,
    ...(until ? { retainUntil: until.toISOString() } : {}),
    ...(mode ? { lockMode: mode } : {}),
    ...(legalHold ? { legalHold } : {}),
    reason,
  };
}

/**
 * The note is best effort, as for the backup's own: without it (no update permission on the
 * Lease) a prune killed midway leaves an unsealed rest that is reported, never data lost.
 */
async function noteBestEffort(inFlight: PruneOptions['inFlight'], note: string | undefined, log?: Logger): Promise<void> {
  try {
    await inFlight?.record(note);
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    log?.warn({ err: e }, 'could not note the deletion on the Lease; if this run is killed midway, what is left is reported as unsealed');
  }
}

/**
 * Finishes the deletion a killed prune began (its `prune <id>` note, inherited with the Lease:
 * the cluster's own word, not a name in the bucket). Best effort, like the backup's own cleanup.
 */
export async function finishAbandonedDeletion(
  note: string | undefined,
  store: ObjectStore,
  layout: BackupLayout,
  log: Logger,
): Promise<void> {
  const id = prunedIdOf(note);
  if (id === undefined || layout.backupIdOf(layout.backupPrefix(id)) !== id) return;
  try {
    const { objects, kept } = await deleteBackup(store, layout, id, undefined);
    if (kept === undefined)
      log.warn({ backupId: id, deletedObjects: objects }, 'finished deleting a backup that an earlier, killed run was pruning');
    else
      log.warn(
        { backupId: id, deletedObjects: objects, keptObjects: kept.objects, reason: kept.reason },
        'could not finish deleting a backup that an earlier run was pruning: the store keeps part of it; it is reported as unsealed',
      );
  } catch (e) {
    log.warn({ backupId: id, err: e }, 'could not finish deleting a backup that an earlier run was pruning; it is reported as unsealed');
  }
}

/**
 * `prune --delete-unauthenticated ID...`: removes exactly the named backups, each only if the
 * catalogue does not authenticate it (an authenticated backup is retention's to decide). The
 * operator's explicit word is what allows deleting objects nobody signed.
 */
export async function deleteUnauthenticated(
  store: ObjectStore,
  layout: BackupLayout,
  catalogue: Catalogue,
  ids: readonly string[],
  o: { dryRun: boolean; log: Logger },
): Promise<{
  deleted: { id: string; objects: number; problem: string }[];
  refused: { id: string; why: string }[];
  keptByStore: KeptByStore[];
}> {
  const byId = new Map(catalogue.entries.map((e) => [e.id, e]));
  const deleted: { id: string; objects: number; problem: string }[] = [];
  const refused: { id: string; why: string }[] = [];
  const kept: KeptByStore[] = [];
  for (const id of ids) {
    const e = byId.get(id);
    if (e === undefined) {
      refused.push({ id, why: 'no such backup under this cluster' });
      continue;
    }
    const problem = problemOf(e);
    if (problem === undefined) {
      refused.push({ id, why: 'it is an authenticated backup: retention decides about it' });
      continue;
    }
    if (o.dryRun) {
      deleted.push({ id, objects: e.objects.size, problem });
      continue;
    }
    const deletion = await deleteBackup(store, layout, id, undefined);
    if (deletion.kept !== undefined) {
      kept.push(deletion.kept);
      o.log.warn(
        { backupId: id, deletedObjects: deletion.objects, reason: deletion.kept.reason },
        'unauthenticated backup not (wholly) deleted',
      );
      continue;
    }
    o.log.warn({ backupId: id, objects: deletion.objects, problem }, 'unauthenticated backup deleted on request');
    deleted.push({ id, objects: deletion.objects, problem });
  }
  return { deleted, refused, keptByStore: kept };
}
