import { type TrustedSigner, verifyDetached } from '../crypto/index.js';
import { mapLimit } from '../runtime/map-limit.js';
import { isStorageError, type ObjectStore } from '../storage/index.js';
import type { BackupLayout } from './backup-layout.js';
import { DEFAULT_CLOCK_SKEW_MS } from './backup-seal.js';

/**
 * Drill results as evidence: a report's key says `..._pass.json`, but anyone who can put objects
 * can name one so. A drill counts only when its report verifies against the drill signer's
 * public key and its signed content names this cluster, this backup and the result; otherwise
 * it is listed as unverified and never satisfies "a drill passed".
 */

/** Largest drill report read (a full report of a large cluster is a few MiB at most). */
export const MAX_REPORT_BYTES = 16 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 64 * 1024;

export interface DrillEvidence {
  backupId: string;
  /** When the drill ran: the signed finish time once verified, else the time in the key. */
  at: string;
  /** The result: signed once verified, else what the key claims. */
  result: 'pass' | 'fail' | 'error';
  report: string;
  /** True when the report verifies by a trusted drill signer and its content matches its key. */
  verified: boolean;
  /** Why it is not verified. */
  unverified?: string;
  /** How long the drill took, from the signed report (verified reports only). */
  durationMs?: number;
}

/** The reports under `<cluster>/reports/`, newest first, as their keys claim (nothing verified yet). */
export async function listDrillReports(store: ObjectStore, layout: BackupLayout): Promise<DrillEvidence[]> {
  const out: DrillEvidence[] = [];
  for await (const o of store.list(layout.reportsPrefix())) {
    const r = layout.parseReportKey(o.key);
    if (r === undefined) continue;
    out.push({
      backupId: r.backupId,
      at: r.drillTime.toISOString(),
      result: r.passed ? 'pass' : 'fail',
      report: o.key,
      verified: false,
      unverified: 'not checked',
    });
  }
  return out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

/**
 * The newest of reports whose keys name the same second: the verified one with the latest
 * signed finish time (`at`, once verified), else the first. Keys name whole seconds, so within
 * one second their order is that of their random part, which says nothing of which drill
 * finished last; the signed time does.
 */
export function newestOfSameSecond(evidence: readonly DrillEvidence[]): DrillEvidence | undefined {
  let newest: DrillEvidence | undefined;
  for (const e of evidence) {
    if (!e.verified) continue;
    if (newest === undefined || Date.parse(e.at) > Date.parse(newest.at)) newest = e;
  }
  return newest ?? evidence[0];
}

/** The claims whose keys name the same second as `claim`'s, `claim` first. */
export const sameSecondAs = (claims: readonly DrillEvidence[], claim: DrillEvidence): DrillEvidence[] => [
  claim,
  ...claims.filter((c) => c !== claim && c.at === claim.at),
];

/**
 * Verifies claimed drill reports (at most `concurrency` downloads at a time). Without drill
 * signer keys nothing can be verified: every report stays unverified and nothing is read.
 * `read` reads and checks one report (a {@link drillReportReader} to share what was read
 * between callers). @default {@link readDrillReport} with `signers` and `now`
 */
export async function verifyDrillReports(
  store: ObjectStore,
  layout: BackupLayout,
  claims: readonly DrillEvidence[],
  signers: readonly TrustedSigner[],
  o: { now: Date; concurrency?: number; read?: DrillReportReader },
): Promise<DrillEvidence[]> {
  if (signers.length === 0)
    return claims.map((c) => ({ ...c, verified: false, unverified: 'no drill signer key configured (--drill-signer-key)' }));
  const read = o.read ?? ((c: DrillEvidence) => readDrillReport(store, layout, c, signers, o.now));
  return mapLimit(claims, o.concurrency ?? 4, async (c) => (await read(c)).evidence);
}

/** Reads one claimed report and checks it, as {@link readDrillReport} does. */
export type DrillReportReader = (claim: DrillEvidence) => Promise<ReadDrillReport>;

/**
 * A {@link readDrillReport} that downloads and checks each report once, by its object key: asked
 * again (by another pass over the same claims), it gives the first answer, verified or not, or
 * the same error. Keys name the drill's second, backup and claimed result, so the claims of one
 * key are equal and so are their answers. For one command's run: a report replaced meanwhile is
 * not read again.
 */
export function drillReportReader(
  store: ObjectStore,
  layout: BackupLayout,
  signers: readonly TrustedSigner[],
  now: Date,
): DrillReportReader {
  const read = new Map<string, Promise<ReadDrillReport>>();
  return (claim) => {
    let r = read.get(claim.report);
    if (r === undefined) {
      r = readDrillReport(store, layout, claim, signers, now);
      read.set(claim.report, r);
    }
    return r;
  };
}

/** One report read and checked: its evidence, and the bytes that were checked (when they could be read). */
export interface ReadDrillReport {
  evidence: DrillEvidence;
  bytes?: Buffer;
  /** The trusted key that signed it (verified reports only). */
  signerFingerprint?: string;
}

/**
 * Reads one claimed report and its detached signature and checks them as
 * {@link verifyDrillReports} does, returning the bytes it checked: what is shown of a report is
 * exactly what was verified, not a second download.
 */
export async function readDrillReport(
  store: ObjectStore,
  layout: BackupLayout,
  claim: DrillEvidence,
  signers: readonly TrustedSigner[],
  now: Date,
): Promise<ReadDrillReport> {
  let report: Buffer;
  try {
    report = await store.getBytes(claim.report, MAX_REPORT_BYTES);
  } catch (e) {
    if (isStorageError(e, 'not-found'))
      return { evidence: { ...claim, verified: false, unverified: 'the report or its signature is missing' } };
    if (isStorageError(e, 'too-large'))
      return { evidence: { ...claim, verified: false, unverified: 'the report or its signature is larger than any report we write' } };
    throw e;
  }
  if (signers.length === 0)
    return { evidence: { ...claim, verified: false, unverified: 'no drill signer key configured (--drill-signer-key)' }, bytes: report };
  const { signature, ...rest } = await verifyBytes(store, layout, claim, report, signers, now);
  return { evidence: rest, bytes: report, ...(signature ? { signerFingerprint: signature } : {}) };
}

async function verifyBytes(
  store: ObjectStore,
  layout: BackupLayout,
  claim: DrillEvidence,
  report: Buffer,
  signers: readonly TrustedSigner[],
  now: Date,
): Promise<DrillEvidence & { signature?: string }> {
  const unverified = (why: string): DrillEvidence => ({ ...claim, verified: false, unverified: why });
  let signature: Buffer;
  try {
    signature = await store.getBytes(layout.reportSignatureKey(claim.report), MAX_SIGNATURE_BYTES);
  } catch (e) {
    if (isStorageError(e, 'not-found')) return unverified('the report or its signature is missing');
    if (isStorageError(e, 'too-large')) return unverified('the report or its signature is larger than any report we write');
    throw e;
  }
  const armored = signature.subarray(0, 5).toString('latin1') === '-----';
  // Reports signed a little after the reader's clock was read (a drill finishing meanwhile) verify.
  const check = await verifyDetached(report, armored ? signature.toString('utf8') : signature, signers, {
    now: new Date(now.getTime() + DEFAULT_CLOCK_SKEW_MS),
  });
  if (check.status !== 'valid') return unverified(`its signature is ${check.status}${check.reason ? ` (${check.reason})` : ''}`);
  let body: { cluster?: unknown; result?: unknown; finishedAt?: unknown; durationMs?: unknown; backup?: { id?: unknown } };
  try {
    body = JSON.parse(report.toString('utf8'));
  } catch {
    return unverified('it is signed but not JSON');
  }
  if (body.cluster !== layout.cluster) return unverified(`it is a report of cluster ${String(body.cluster)}`);
  if (body.backup?.id !== claim.backupId) return unverified(`it reports on backup ${String(body.backup?.id)}, not the one its name says`);
  if (body.result !== 'pass' && body.result !== 'fail' && body.result !== 'error') return unverified('it has no result');
  const passedByName = claim.result === 'pass';
  if ((body.result === 'pass') !== passedByName) return unverified(`its name says ${claim.result}, its content says ${body.result}`);
  const at =
    typeof body.finishedAt === 'string' && !Number.isNaN(Date.parse(body.finishedAt)) ? new Date(body.finishedAt).toISOString() : claim.at;
  return {
    backupId: claim.backupId,
    at,
    result: body.result,
    report: claim.report,
    verified: true,
    ...(typeof body.durationMs === 'number' && Number.isFinite(body.durationMs) ? { durationMs: body.durationMs } : {}),
    ...(check.signerFingerprint ? { signature: check.signerFingerprint } : {}),
  };
}
