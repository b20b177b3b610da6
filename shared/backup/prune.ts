import { formatDuration } from '../config/options.js';
import { InterruptedError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { ObjectStore } from '../storage/index.js';
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
    const deleted = await deleteBackup(store, layout, d.id, o.inFlight, o.log);
    result.deletedBackups++;
    result.deletedObjects += deleted;
    result.deletedBytes += sizes.get(d.id) ?? 0;
    o.log.info({ backupId: d.id, kind: d.kind, objects: deleted, reason: d.reasons.join('; ') }, 'backup deleted by retention');
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

/**
 * Deletes every object of backup `id`, seal first, noting the deletion on the Lease while it
 * runs. Returns how many objects it removed.
 */
async function deleteBackup(
  store: ObjectStore,
  layout: BackupLayout,
  id: string,
  inFlight: PruneOptions['inFlight'],
  log?: Logger,
): Promise<number> {
  await noteBestEffort(inFlight, pruneNote(id), log);
  const keys: string[] = [];
  for await (const obj of store.list(layout.backupPrefix(id))) keys.push(obj.key);
  const first = [layout.sealKey(id), layout.indexKey(id)].filter((k) => keys.includes(k));
  for (const k of first) await store.delete([k]);
  await store.delete(keys.filter((k) => !first.includes(k)));
  await noteBestEffort(inFlight, undefined, log);
  return keys.length;
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
    const objects = await deleteBackup(store, layout, id, undefined);
    log.warn({ backupId: id, deletedObjects: objects }, 'finished deleting a backup that an earlier, killed run was pruning');
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
): Promise<{ deleted: { id: string; objects: number; problem: string }[]; refused: { id: string; why: string }[] }> {
  const byId = new Map(catalogue.entries.map((e) => [e.id, e]));
  const deleted: { id: string; objects: number; problem: string }[] = [];
  const refused: { id: string; why: string }[] = [];
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
    const objects = o.dryRun ? e.objects.size : await deleteBackup(store, layout, id, undefined);
    if (!o.dryRun) o.log.warn({ backupId: id, objects, problem }, 'unauthenticated backup deleted on request');
    deleted.push({ id, objects, problem });
  }
  return { deleted, refused };
}
