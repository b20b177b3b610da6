/**
 * The deep check: each drill also verifies a rotating subset of the other retained backups
 * whole, like restic's `check --read-data-subset n/m`, so that every retained backup is verified
 * at least once per cycle.
 *
 * Which backups: {@link selectForDeepCheck}, deterministic from the backups, their last
 * verification (signed reports only, verification-history.ts) and the budget: the ones
 * verified longest ago (never verified first, then oldest), so a missed run is caught up by the
 * next. Each is read as a restore would (seal, index signature, every segment's size and SHA-256
 * before it is decrypted, decryption, every Secret against its recorded hash), one segment and
 * one Secret at a time: never a whole backup's plaintext in memory. Nothing is restored.
 */
import { performance } from 'node:perf_hooks';
import type { BackupSeal, RekeyedCopy } from '../backup/backup-seal.js';
import { isStorageError } from '../storage/index.js';
import { type BackupReaderDeps, VerifiedBackup } from './backup-reader.js';
import type { DeepCheckedBackup, Finding } from './drill-report.js';
import { BackupVerificationError } from './verification-error.js';

/** A retained backup the deep check may verify: sealed for this cluster (whole or damaged). */
export interface DeepCheckCandidate {
  id: string;
  createdAt: Date;
  seal: BackupSeal;
  signer: string;
  /** Where a rekeyed backup's re-encrypted copy is stored (its rekey seal); absent for the original copy. */
  rekey?: RekeyedCopy;
  /** When signed reports last show it verified. */
  lastVerified?: string;
}

/**
 * The backups to verify this run: those verified longest ago first (never verified before any
 * verified; then the older backup, then the id), at most `budget`; with `budget` 0, every one
 * neither verified nor created within the cycle.
 */
export function selectForDeepCheck(
  candidates: readonly DeepCheckCandidate[],
  o: { budget: number; cycleMs: number; now: Date },
): DeepCheckCandidate[] {
  const sorted = [...candidates].sort(
    (a, b) =>
      (a.lastVerified ? Date.parse(a.lastVerified) : -Infinity) - (b.lastVerified ? Date.parse(b.lastVerified) : -Infinity) ||
      a.createdAt.getTime() - b.createdAt.getTime() ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  if (o.budget > 0) return sorted.slice(0, o.budget);
  const due = o.now.getTime() - o.cycleMs;
  return sorted.filter((c) => (c.lastVerified ? Date.parse(c.lastVerified) : c.createdAt.getTime()) < due);
}

export interface DeepCheckOutcome {
  checked: DeepCheckedBackup;
  /** What is wrong, each naming the backup (and segment or Secret). */
  findings: Finding[];
  /** Set when the store failed (the backup's integrity is unknown, not bad). */
  error?: string;
}

/**
 * Verifies backup `c` whole, segment by segment; a segment that fails is reported and the
 * others are still read. `checkpoint` throws when the job is asked to stop.
 */
export async function deepCheckBackup(deps: BackupReaderDeps, c: DeepCheckCandidate, checkpoint: () => void): Promise<DeepCheckOutcome> {
  const t0 = performance.now();
  const findings: Finding[] = [];
  const failedChecks = new Set<string>();
  const checked: DeepCheckedBackup = {
    backupId: c.id,
    createdAt: c.createdAt.toISOString(),
    result: 'pass',
    at: deps.now.toISOString(),
    failedChecks: [],
    segments: c.seal.segments.length,
    segmentsVerified: 0,
    secretsVerified: 0,
    durationMs: 0,
  };
  const fail = (check: string, f: Finding) => {
    failedChecks.add(check);
    findings.push({ ...f, message: `backup ${c.id}: ${f.message}` });
  };
  let error: string | undefined;
  try {
    const b = await VerifiedBackup.open(
      deps,
      c.id,
      c.rekey ? { seal: c.seal, signer: c.signer, rekey: c.rekey } : { seal: c.seal, signer: c.signer },
    );
    for (let n = 1; n <= b.segmentCount; n++) {
      checkpoint();
      let intact = true;
      try {
        for await (const item of b.readSegment(n)) {
          checkpoint();
          if (item.mismatch !== undefined) {
            intact = false;
            fail('secret-digest', {
              namespace: item.secret.metadata.namespace,
              name: item.secret.metadata.name,
              segment: n,
              message: item.mismatch,
            });
          } else checked.secretsVerified++;
        }
      } catch (e) {
        if (!(e instanceof BackupVerificationError)) throw e;
        intact = false;
        fail(e.kind, { segment: n, message: e.message });
      }
      if (intact) checked.segmentsVerified++;
    }
  } catch (e) {
    if (e instanceof BackupVerificationError) fail(e.kind, { message: e.message });
    else if (isStorageError(e)) error = `backup ${c.id} could not be read: ${e.message}`;
    else throw e;
  }
  checked.failedChecks = [...failedChecks];
  checked.result = failedChecks.size > 0 ? 'fail' : error !== undefined ? 'error' : 'pass';
  checked.durationMs = Math.round(performance.now() - t0);
  return { checked, findings, ...(error !== undefined ? { error } : {}) };
}
