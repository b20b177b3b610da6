import { formatDuration } from '../config/options.js';
import type { Logger } from '../log/index.js';
import type { ObjectStore } from '../storage/index.js';
import { listBackups } from './backup-catalog.js';
import type { BackupLayout } from './backup-layout.js';
import { applyRetention, type RetentionDecision, type RetentionPolicy } from './retention.js';

export interface PruneResult {
  decisions: RetentionDecision[];
  deletedBackups: number;
  deletedObjects: number;
  deletedBytes: number;
}

/**
 * Applies a retention policy to the cluster's backups in the store. With `dryRun` it only
 * decides. Deletion removes every object under a backup's prefix, index first, so that an
 * interrupted prune leaves incomplete backups (which a later prune removes), never a complete
 * backup with missing segments. Drill reports are evidence and are kept.
 */
export async function pruneBackups(
  store: ObjectStore,
  layout: BackupLayout,
  policy: RetentionPolicy,
  o: { now: Date; incompleteGraceMs: number; dryRun: boolean; log: Logger; checkpoint?: () => void },
): Promise<PruneResult> {
  const backups = await listBackups(store, layout);
  const decisions = applyRetention(
    backups.map((b) => ({ id: b.id, createdAt: b.createdAt, complete: b.complete })),
    policy,
    { now: o.now, incompleteGraceMs: o.incompleteGraceMs, formatWithin: formatDuration },
  );
  const sizes = new Map(backups.map((b) => [b.id, b]));
  const result: PruneResult = { decisions, deletedBackups: 0, deletedObjects: 0, deletedBytes: 0 };
  if (o.dryRun) return result;
  for (const d of decisions) {
    if (d.keep) continue;
    o.checkpoint?.();
    const keys: string[] = [];
    for await (const obj of store.list(layout.backupPrefix(d.id))) keys.push(obj.key);
    const index = layout.indexKey(d.id);
    if (keys.includes(index)) await store.delete([index]);
    await store.delete(keys.filter((k) => k !== index));
    result.deletedBackups++;
    result.deletedObjects += keys.length;
    result.deletedBytes += sizes.get(d.id)?.storedBytes ?? 0;
    o.log.info({ backupId: d.id, objects: keys.length, reason: d.reasons.join('; ') }, 'backup deleted by retention');
  }
  return result;
}
