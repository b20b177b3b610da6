import type { ObjectStore } from '../storage/index.js';
import { fromObjectMetadata, type IndexMetadata } from './backup-index.js';
import { type BackupLayout, backupIdTime, isBackupId } from './backup-layout.js';

/** What the store says about one backup, without any private key. */
export interface BackupSummary {
  id: string;
  /** From the id (when the backup started). */
  createdAt: Date;
  /** True when its index exists: only complete backups are restore points. */
  complete: boolean;
  /** Objects and bytes stored under the backup's prefix. */
  objects: number;
  storedBytes: number;
  /** Non-sensitive facts from the index's object metadata (complete backups only). */
  meta?: IndexMetadata;
}

/** Last drill result for a backup, from the report keys. */
export interface DrillSummary {
  backupId: string;
  drillTime: Date;
  passed: boolean;
  reportKey: string;
}

/**
 * Reads the catalogue of backups from the store: one paginated listing of the cluster's
 * `backups/` prefix (sizes and index presence) plus, when asked, one HEAD per complete backup
 * for its index metadata. Sorted oldest first.
 */
export async function listBackups(
  store: ObjectStore,
  layout: BackupLayout,
  opts: { withMetadata?: boolean } = {},
): Promise<BackupSummary[]> {
  const byId = new Map<string, BackupSummary>();
  for await (const o of store.list(layout.backupsPrefix())) {
    const id = layout.backupIdOf(o.key);
    if (id === undefined) continue;
    let b = byId.get(id);
    if (b === undefined) {
      b = { id, createdAt: backupIdTime(id), complete: false, objects: 0, storedBytes: 0 };
      byId.set(id, b);
    }
    b.objects++;
    b.storedBytes += o.size;
    if (o.key === layout.indexKey(id)) b.complete = true;
  }
  const all = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  if (opts.withMetadata) {
    for (const b of all) {
      if (!b.complete) continue;
      b.meta = fromObjectMetadata((await store.head(layout.indexKey(b.id)))?.metadata);
    }
  }
  return all;
}

/**
 * The newest complete backup of the given kind (scheduled backups by default: an automatic
 * pre-restore backup is not what freshness or "latest" means). Walks ids newest first and
 * stops at the first whose index exists, so it costs one listing of ids and a few HEADs.
 */
export async function latestCompleteBackup(
  store: ObjectStore,
  layout: BackupLayout,
  kind: IndexMetadata['kind'] | 'any' = 'scheduled',
): Promise<BackupSummary | undefined> {
  const ids: string[] = [];
  for await (const p of store.listPrefixes(layout.backupsPrefix())) {
    const id = p.slice(layout.backupsPrefix().length).replace(/\/$/, '');
    if (isBackupId(id)) ids.push(id);
  }
  ids.sort();
  for (let i = ids.length - 1; i >= 0; i--) {
    const head = await store.head(layout.indexKey(ids[i]));
    if (head === undefined) continue;
    const meta = fromObjectMetadata(head.metadata);
    if (kind !== 'any' && (meta?.kind ?? 'scheduled') !== kind) continue;
    return { id: ids[i], createdAt: backupIdTime(ids[i]), complete: true, objects: 0, storedBytes: meta?.storedBytes ?? 0, meta };
  }
  return undefined;
}

/** Latest drill report per backup id, from one listing of the reports prefix. */
export async function latestDrills(store: ObjectStore, layout: BackupLayout): Promise<Map<string, DrillSummary>> {
  const out = new Map<string, DrillSummary>();
  for await (const o of store.list(layout.reportsPrefix())) {
    const r = layout.parseReportKey(o.key);
    if (r === undefined) continue;
    const prev = out.get(r.backupId);
    if (prev === undefined || prev.drillTime <= r.drillTime) out.set(r.backupId, { ...r, reportKey: o.key });
  }
  return out;
}
