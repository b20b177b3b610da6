/**
 * The backup half of `status`: the newest complete backups with their last drill, whether the
 * newest scheduled backup is as recent as the schedule says (verify-restore's own freshness
 * rule, {@link assessFreshness}), and when a drill last passed. Reads only listings and the
 * non-sensitive metadata of index objects: no private key, no download.
 */
import { listBackups } from '../backup/backup-catalog.js';
import { fromObjectMetadata } from '../backup/backup-index.js';
import type { BackupLayout } from '../backup/backup-layout.js';
import type { ObjectStore } from '../storage/index.js';
import { assessFreshness, type FreshnessResult } from '../verify-restore/freshness.js';

export interface DrillRef {
  backupId: string;
  at: string;
  result: 'pass' | 'fail';
  report: string;
}

export interface BackupStatus {
  id: string;
  createdAt: string;
  kind: 'scheduled' | 'pre-restore';
  /** Secrets in the backup (from the index metadata; absent when the store dropped it). */
  secrets?: number;
  segments?: number;
  storedBytes: number;
  lastDrill?: DrillRef;
}

export interface FreshnessStatus extends FreshnessResult {
  schedule: string;
  timeZone: string;
  graceMs: number;
}

export interface BackupOverview {
  /** `s3://bucket/prefix/<cluster>/backups/`. */
  location: string;
  /** The newest complete backups, newest first. */
  backups: BackupStatus[];
  completeBackups: number;
  /** Backups without an index (running, or failed and not yet pruned). */
  incompleteBackups: number;
  /** The newest complete scheduled backup (pre-restore backups do not count). */
  newestScheduled?: { id: string; createdAt: string };
  /** With a backup schedule only. */
  freshness?: FreshnessStatus;
  drills: {
    latest?: DrillRef;
    latestPass?: DrillRef;
    /** 0: not checked. */
    maxAgeMs: number;
    /** False when no drill passed within `maxAgeMs`. */
    ok: boolean;
  };
}

export interface BackupOverviewOptions {
  now: Date;
  /** How many of the newest complete backups to list. */
  limit: number;
  freshness?: { schedule: string; timeZone: string; graceMs: number };
  drillMaxAgeMs: number;
}

/**
 * One listing of the cluster's backups, one of its reports, and a HEAD of the index of each
 * complete backup from the newest down until `limit` are listed and the newest scheduled one
 * is known.
 */
export async function collectBackupOverview(store: ObjectStore, layout: BackupLayout, o: BackupOverviewOptions): Promise<BackupOverview> {
  const [all, drills] = await Promise.all([listBackups(store, layout), listDrills(store, layout)]);
  const complete = all.filter((b) => b.complete).reverse();
  const backups: BackupStatus[] = [];
  let newestScheduled: BackupOverview['newestScheduled'];
  for (const b of complete) {
    if (backups.length >= o.limit && newestScheduled !== undefined) break;
    const meta = fromObjectMetadata((await store.head(layout.indexKey(b.id)))?.metadata);
    const kind = meta?.kind ?? 'scheduled';
    if (kind === 'scheduled' && newestScheduled === undefined) newestScheduled = { id: b.id, createdAt: b.createdAt.toISOString() };
    if (backups.length < o.limit) {
      backups.push({
        id: b.id,
        createdAt: b.createdAt.toISOString(),
        kind,
        ...(meta ? { secrets: meta.secrets, segments: meta.segments } : {}),
        storedBytes: b.storedBytes,
        ...(drills.latestByBackup.has(b.id) ? { lastDrill: drills.latestByBackup.get(b.id) } : {}),
      });
    }
  }
  const freshness = o.freshness
    ? {
        ...o.freshness,
        ...assessFreshness({
          ...o.freshness,
          now: o.now,
          newest: newestScheduled ? { id: newestScheduled.id, createdAt: new Date(newestScheduled.createdAt) } : undefined,
        }),
      }
    : undefined;
  const passAge = drills.latestPass ? o.now.getTime() - Date.parse(drills.latestPass.at) : Infinity;
  return {
    location: `${store.location}/${layout.backupsPrefix()}`,
    backups,
    completeBackups: complete.length,
    incompleteBackups: all.length - complete.length,
    ...(newestScheduled ? { newestScheduled } : {}),
    ...(freshness ? { freshness } : {}),
    drills: {
      ...(drills.latest ? { latest: drills.latest } : {}),
      ...(drills.latestPass ? { latestPass: drills.latestPass } : {}),
      maxAgeMs: o.drillMaxAgeMs,
      ok: o.drillMaxAgeMs === 0 || passAge <= o.drillMaxAgeMs,
    },
  };
}

/** Every drill report key, once: the latest per backup, the latest overall and the latest that passed. */
async function listDrills(
  store: ObjectStore,
  layout: BackupLayout,
): Promise<{ latestByBackup: Map<string, DrillRef>; latest?: DrillRef; latestPass?: DrillRef }> {
  const latestByBackup = new Map<string, DrillRef>();
  let latest: DrillRef | undefined;
  let latestPass: DrillRef | undefined;
  for await (const o of store.list(layout.reportsPrefix())) {
    const r = layout.parseReportKey(o.key);
    if (r === undefined) continue;
    const ref: DrillRef = { backupId: r.backupId, at: r.drillTime.toISOString(), result: r.passed ? 'pass' : 'fail', report: o.key };
    const later = (x: DrillRef | undefined) => x === undefined || x.at <= ref.at;
    if (later(latestByBackup.get(r.backupId))) latestByBackup.set(r.backupId, ref);
    if (later(latest)) latest = ref;
    if (r.passed && later(latestPass)) latestPass = ref;
  }
  return { latestByBackup, latest, latestPass };
}
