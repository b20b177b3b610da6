/**
 * The backup half of `status`: the newest authenticated backups with their last drill, whether
 * the newest authenticated scheduled backup is as recent as the schedule says (verify-restore's
 * own freshness rule, {@link assessFreshness}, on the SEALED creation time), when a drill last
 * passed (only drills whose reports verify count), and every backup that is not authenticated.
 * Reads the listing, each seal and the newest reports: public keys only, no backup downloaded.
 */
import { AmbiguousCatalogueError, type Catalogue, latestAuthenticated, readCatalogue } from '../backup/backup-catalog.js';
import type { BackupLayout } from '../backup/backup-layout.js';
import { recipientsOf, type SealTrust } from '../backup/backup-seal.js';
import {
  type DrillEvidence,
  drillReportReader,
  listDrillReports,
  newestOfSameSecond,
  sameSecondAs,
  verifyDrillReports,
} from '../backup/drill-evidence.js';
import { unauthenticatedOf } from '../backup/prune.js';
import type { TrustedSigner } from '../crypto/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { DrillReport, RtoReport } from '../verify-restore/drill-report.js';
import { assessFreshness, type FreshnessResult } from '../verify-restore/freshness.js';
import { outsideCycle, readVerificationHistory } from '../verify-restore/verification-history.js';

export interface DrillRef {
  backupId: string;
  at: string;
  result: 'pass' | 'fail' | 'error';
  report: string;
  /** False when its report does not verify by the drill signer: shown, never counted as a pass. */
  verified: boolean;
  unverified?: string;
}

export interface BackupStatus {
  id: string;
  /** Sealed creation time. */
  createdAt: string;
  kind: 'scheduled' | 'pre-restore';
  /** Secrets in the backup, as sealed. */
  secrets: number;
  segments: number;
  storedBytes: number;
  lastDrill?: DrillRef;
  /** When a drill or its deep check last verified it whole, as signed drill reports show (absent: never). */
  lastVerified?: string;
}

export interface FreshnessStatus extends FreshnessResult {
  schedule: string;
  timeZone: string;
  graceMs: number;
}

export interface BackupOverview {
  /** `s3://bucket/prefix/<cluster>/backups/`. */
  location: string;
  /** The newest authenticated backups, newest first. */
  backups: BackupStatus[];
  /** Backups sealed, ours and whole. */
  authenticatedBackups: number;
  /** Everything else under the prefix, with why; `inProgress` ones are unsealed and young enough to be still being written. */
  unauthenticated: { id: string; problem: string; inProgress?: boolean }[];
  /** Set when seals of several clusters share the cluster name (see --cluster-uid). */
  ambiguous?: string;
  /** The newest authenticated scheduled backup (pre-restore backups do not count). */
  newestScheduled?: { id: string; createdAt: string };
  /** With a backup schedule only. */
  freshness?: FreshnessStatus;
  drills: {
    latest?: DrillRef;
    /** The latest drill that passed AND whose report verifies. */
    latestPass?: DrillRef;
    /** 0: not checked. */
    maxAgeMs: number;
    /** False when no verified drill passed within `maxAgeMs`. */
    ok: boolean;
  };
  /** The restore time the newest drill report that verifies measured, and its projection to the whole backup. */
  rto?: RtoReport & { backupId: string; at: string; report: string };
  /** Authenticated backups neither verified nor created within the cycle (with a cycle only). */
  deepCheck?: { cycleMs: number; notVerifiedInCycle: string[]; history: string };
  /**
   * What the newest verified drill report says of the retained backups' readability (absent when
   * it judged none): those none of the drill's decryption keys could read, still retained and
   * encrypted to the same keys now (a backup re-encrypted or deleted since is left out).
   */
  keyReadability?: { at: string; report: string; backups: number; unreadable: Array<{ id: string; recipients: string[] }> };
}

export interface BackupOverviewOptions {
  now: Date;
  /** How many of the newest authenticated backups to list. */
  limit: number;
  freshness?: { schedule: string; timeZone: string; graceMs: number };
  drillMaxAgeMs: number;
  trust: SealTrust;
  drillSigners: readonly TrustedSigner[];
  incompleteGraceMs: number;
  /** Overdue after this long without verification; 0: the newest signed deep check's cycle, if any. @default 0 */
  deepCheckCycleMs?: number;
}

/**
 * Reads the catalogue (one listing, one small read per seal), the report listing (once), and verifies
 * the reports status relies on: the newest per listed backup, the newest overall, and the
 * newest that claims a pass (walking older claims until one verifies). Each report (and its
 * signature) is downloaded and checked at most once per call, however many of these want it.
 */
export async function collectBackupOverview(store: ObjectStore, layout: BackupLayout, o: BackupOverviewOptions): Promise<BackupOverview> {
  const [catalogue, claims] = await Promise.all([readCatalogue(store, layout, o.trust), listDrillReports(store, layout)]);
  const { latest: newest, ambiguous } = newestScheduledOf(catalogue, layout.cluster);
  const authenticated = catalogue.entries.flatMap((e) => (e.authenticated ? [{ ...e.authenticated, storedBytes: e.storedBytes }] : []));
  authenticated.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const listed = authenticated.slice(0, o.limit);

  // The passes below (and the history) ask for some reports more than once: each is read and checked once.
  const read = drillReportReader(store, layout, o.drillSigners, o.now);
  const verify = (c: readonly DrillEvidence[]) => verifyDrillReports(store, layout, c, o.drillSigners, { now: o.now, read });
  const newestPerBackup = listed.flatMap((b) => claims.find((c) => c.backupId === b.id) ?? []);
  const perBackup = new Map((await verify(newestPerBackup)).map((d) => [d.backupId, d]));
  // Within one second (report keys name whole seconds) the newest is the latest signed finish.
  const latest = claims[0] ? newestOfSameSecond(await verify(sameSecondAs(claims, claims[0]))) : undefined;
  let latestPass: DrillEvidence | undefined;
  const passes = claims.filter((x) => x.result === 'pass');
  for (const [i, c] of passes.entries()) {
    const [v] = await verify([c]);
    if (v.verified) {
      const later = passes.slice(i + 1).filter((x) => x.at === c.at);
      latestPass = newestOfSameSecond([v, ...(await verify(later))]);
      break;
    }
    if (o.drillSigners.length === 0) break;
  }

  const freshness = o.freshness
    ? {
        ...o.freshness,
        ...assessFreshness({
          ...o.freshness,
          now: o.now,
          newest: newest ? { id: newest.id, createdAt: newest.createdAt } : undefined,
        }),
      }
    : undefined;
  const passAge = latestPass ? o.now.getTime() - Date.parse(latestPass.at) : Infinity;
  const oldest = authenticated.at(-1)?.createdAt;
  const history = await readVerificationHistory(store, layout, o.drillSigners, {
    now: o.now,
    read,
    claims,
    ...(oldest ? { since: oldest } : {}),
  });
  const newestReport = history.newest;
  const cycleMs = o.deepCheckCycleMs || newestReport?.report.deepCheck?.cycleMs || 0;
  const notVerifiedInCycle =
    cycleMs > 0
      ? authenticated
          .filter((b) => outsideCycle({ createdAt: b.createdAt, lastVerified: history.lastVerified.get(b.id) }, o.now, cycleMs))
          .map((b) => b.id)
          .reverse()
      : [];
  return {
    location: `${store.location}/${layout.backupsPrefix()}`,
    backups: listed.map((b) => ({
      id: b.id,
      createdAt: b.createdAt.toISOString(),
      kind: b.kind,
      secrets: b.seal.totals.secrets,
      segments: b.seal.totals.segments,
      storedBytes: b.storedBytes,
      ...(perBackup.has(b.id) ? { lastDrill: ref(perBackup.get(b.id) as DrillEvidence) } : {}),
      ...(history.lastVerified.has(b.id) ? { lastVerified: history.lastVerified.get(b.id) } : {}),
    })),
    authenticatedBackups: authenticated.length,
    unauthenticated: [
      ...unauthenticatedOf(catalogue, o.now, o.incompleteGraceMs).map((u) => ({
        id: u.id,
        problem: u.problem,
        ...(u.inProgress ? { inProgress: true } : {}),
      })),
      ...catalogue.strays.map((key) => ({ id: key, problem: 'an object under backups/ that belongs to no backup id (not ours)' })),
    ],
    ...(ambiguous ? { ambiguous } : {}),
    ...(newest ? { newestScheduled: { id: newest.id, createdAt: newest.createdAt.toISOString() } } : {}),
    ...(freshness ? { freshness } : {}),
    drills: {
      ...(latest ? { latest: ref(latest) } : {}),
      ...(latestPass ? { latestPass: ref(latestPass) } : {}),
      maxAgeMs: o.drillMaxAgeMs,
      ok: o.drillMaxAgeMs === 0 || passAge <= o.drillMaxAgeMs,
    },
    ...(newestReport?.report.rto && newestReport.report.backup
      ? {
          rto: {
            ...newestReport.report.rto,
            backupId: newestReport.report.backup.id,
            at: newestReport.report.finishedAt,
            report: newestReport.key,
          },
        }
      : {}),
    ...(cycleMs > 0 ? { deepCheck: { cycleMs, notVerifiedInCycle, history: history.note } } : {}),
    ...(newestReport ? readabilityOf(newestReport, catalogue) : {}),
  };
}

/** The newest verified report's unreadable backups that still are: retained, encrypted to the same keys. */
function readabilityOf(newest: { key: string; report: DrillReport }, c: Catalogue): Pick<BackupOverview, 'keyReadability'> {
  const k = newest.report.keyReadability;
  if (k === undefined || !Array.isArray(k.backups)) return {};
  const now = new Map(
    c.entries.flatMap((e) => (e.authenticated ? [[e.id, recipientsOf(e.authenticated.seal, e.authenticated.rekey)]] : [])),
  );
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();
  const unreadable = k.backups
    .filter((b) => !b.readable && Array.isArray(b.recipients) && now.has(b.id) && same(now.get(b.id) as string[], b.recipients))
    .map((b) => ({ id: b.id, recipients: [...b.recipients] }));
  return { keyReadability: { at: newest.report.finishedAt, report: newest.key, backups: k.backups.length, unreadable } };
}

function newestScheduledOf(c: Catalogue, cluster: string): { latest?: ReturnType<typeof latestAuthenticated>; ambiguous?: string } {
  try {
    return { latest: latestAuthenticated(c, cluster) };
  } catch (e) {
    if (e instanceof AmbiguousCatalogueError) return { ambiguous: e.message };
    throw e;
  }
}

function ref(d: DrillEvidence): DrillRef {
  return {
    backupId: d.backupId,
    at: d.at,
    result: d.result,
    report: d.report,
    verified: d.verified,
    ...(d.unverified ? { unverified: d.unverified } : {}),
  };
}
