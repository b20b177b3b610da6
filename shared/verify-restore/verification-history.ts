/**
 * When each backup was last verified, from SIGNED drill reports only (drill-evidence.ts): a
 * report's key, its object metadata or an unsigned report is a claim and counts for nothing.
 *
 * A backup counts as verified by a report when the report's integrity check passed for the
 * backup it drilled, or when its deep check verified the backup and it passed. A report that
 * carries a deep check also carries every retained backup's last verification as it then knew it
 * (itself derived from signed reports): the walk, newest report first, stops at the first such
 * report, so a drill reads a handful of reports, not every report since the oldest backup.
 */
import type { BackupLayout } from '../backup/backup-layout.js';
import { type DrillEvidence, type DrillReportReader, listDrillReports, readDrillReport } from '../backup/drill-evidence.js';
import type { TrustedSigner } from '../crypto/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { DrillReport } from './drill-report.js';

/** Reports read at most, newest first, when none carries a deep check. */
export const MAX_HISTORY_REPORTS = 100;

export interface VerificationHistory {
  /** Backup id -> when it was last verified (ISO time). */
  lastVerified: Map<string, string>;
  /** The newest report that verifies, with its key (for its restore time). */
  newest?: { key: string; report: DrillReport };
  /** Signed reports read; how the history was found, for the report. */
  reportsRead: number;
  note: string;
}

/**
 * Walks the reports newest first (by the time their keys claim), believing only those whose
 * signature verifies by `signers`, until one carries a deep check (and the others of its second),
 * `MAX_HISTORY_REPORTS` were read, or the reports are older than `since` (the oldest backup of
 * interest: older reports cannot concern it). `newest` is the first that verifies, or within
 * its second the one with the latest signed `finishedAt`. `claims`: the report listing
 * (listDrillReports' order), when the caller has it already; else it is listed here.
 */
export async function readVerificationHistory(
  store: ObjectStore,
  layout: BackupLayout,
  signers: readonly TrustedSigner[],
  o: { now: Date; since?: Date; read?: DrillReportReader; claims?: readonly DrillEvidence[] },
): Promise<VerificationHistory> {
  const lastVerified = new Map<string, string>();
  if (signers.length === 0)
    return { lastVerified, reportsRead: 0, note: 'no drill report signer key: no earlier verification can be proven' };
  const claims = o.claims ?? (await listDrillReports(store, layout));
  let newest: (VerificationHistory['newest'] & { second: string }) | undefined;
  let read = 0;
  /** The second the report with a deep check names: the reports of that same second are read too. */
  let summarized: string | undefined;
  for (const claim of claims) {
    if (summarized !== undefined && claim.at !== summarized) break;
    if (read >= MAX_HISTORY_REPORTS) break;
    // Report keys name whole seconds: a drill in the same second as the oldest backup is still read.
    if (o.since !== undefined && Date.parse(claim.at) < Math.floor(o.since.getTime() / 1000) * 1000) break;
    read++;
    const r = await (o.read ? o.read(claim) : readDrillReport(store, layout, claim, signers, o.now));
    if (!r.evidence.verified || r.bytes === undefined) continue;
    // Signed by a trusted drill signer, so written by a drill; still read defensively (older versions).
    const report = JSON.parse(r.bytes.toString('utf8')) as DrillReport;
    // Keys name whole seconds: within one, the newest is the latest signed finish, not the key's random part.
    if (newest === undefined || (claim.at === newest.second && Date.parse(report.finishedAt) > Date.parse(newest.report.finishedAt)))
      newest = { key: claim.report, report, second: claim.at };
    for (const [id, at] of verifiedBy(report)) later(lastVerified, id, at);
    if (report.deepCheck !== undefined && Array.isArray(report.deepCheck.backups)) {
      for (const b of report.deepCheck.backups) if (typeof b?.lastVerified === 'string') later(lastVerified, String(b.id), b.lastVerified);
      summarized ??= claim.at;
    }
  }
  const note =
    summarized !== undefined
      ? `signed drill reports (${read} read, back to the newest with a deep check)`
      : `signed drill reports (${read} of ${claims.length} read; none carried a deep check)`;
  return { lastVerified, ...(newest ? { newest: { key: newest.key, report: newest.report } } : {}), reportsRead: read, note };
}

/** The backups a report vouches were verified, and when. */
function verifiedBy(r: DrillReport): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const integrity = Array.isArray(r.checks) ? r.checks.find((c) => c?.name === 'integrity') : undefined;
  if (r.backup?.id !== undefined && integrity?.status === 'pass' && typeof r.startedAt === 'string') out.push([r.backup.id, r.startedAt]);
  const checked = Array.isArray(r.deepCheck?.checked) ? r.deepCheck.checked : [];
  for (const c of checked) if (c?.result === 'pass' && typeof c.at === 'string') out.push([String(c.backupId), c.at]);
  return out;
}

function later(m: Map<string, string>, id: string, at: string): void {
  if (Number.isNaN(Date.parse(at))) return;
  const had = m.get(id);
  if (had === undefined || Date.parse(had) < Date.parse(at)) m.set(id, new Date(at).toISOString());
}

/** True when a backup was neither verified nor created within `cycleMs` of `now`. */
export function outsideCycle(b: { createdAt: string | Date; lastVerified?: string | null }, now: Date, cycleMs: number): boolean {
  const last = b.lastVerified ? Date.parse(b.lastVerified) : new Date(b.createdAt).getTime();
  return last < now.getTime() - cycleMs;
}
