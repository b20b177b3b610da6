import { listBackupObjects } from '../backup/backup-catalog.js';
import type { LoadedIndex } from '../backup/backup-index.js';
import { LEGACY_INDEX_LIMIT } from '../backup/backup-index.js';
import { loadBackupIndex } from '../backup/backup-index-schema.js';
import { type BackupLayout, backupIdTime, INDEX_NAME } from '../backup/backup-layout.js';
import { decryptAndVerify } from '../crypto/index.js';
import type { ObjectStore } from '../storage/index.js';
import { BackupVerificationError } from './verification-error.js';
import type { VerificationKeys } from './verification-keys.js';

/** How many other backups' indexes are searched for a mismatching segment's digest. */
const OTHER_BACKUPS_SEARCHED = 12;
/** Other backups' indexes are read for a diagnosis only, never beyond what an unsealed index may be. */
const DIAGNOSIS_INDEX_LIMIT = LEGACY_INDEX_LIMIT;

export interface SegmentDiagnosisContext {
  store: ObjectStore;
  layout: BackupLayout;
  keys: VerificationKeys;
  backupId: string;
  index: LoadedIndex;
  /** Memo of other backups' indexes already searched (one diagnosis may run per segment). */
  otherIndexes: Map<string, LoadedIndex | undefined>;
}

/**
 * Explains why a segment's stored bytes differ from what the index records, in the most
 * specific terms the evidence allows:
 *
 * 1. its SHA-256 is that of another segment of the same backup -> segments were reordered;
 * 2. its SHA-256 is recorded in another backup's index -> it was swapped in from that backup
 *    (the nearest backups in time are searched, decrypting only their small indexes);
 * 3. it is shorter than recorded -> truncated; longer -> extended;
 * 4. same size, other digest -> damaged (bit rot or tampering).
 *
 * Runs only on the failure path, so the extra reads cost nothing when a backup is intact.
 */
export async function diagnoseSegment(
  ctx: SegmentDiagnosisContext,
  n: number,
  stored: { size: number; sha256: string },
): Promise<BackupVerificationError> {
  const seg = ctx.index.segments[n - 1];
  const what = `${seg.name} of backup ${ctx.backupId}`;
  const same = ctx.index.segments.findIndex((s, i) => i !== n - 1 && s.sha256 === stored.sha256);
  if (same !== -1) {
    return new BackupVerificationError(
      'segment-swapped',
      ctx.backupId,
      `${what} holds the bytes of ${ctx.index.segments[same].name} of the same backup (its SHA-256 is recorded for that segment): segments were reordered or copied over each other`,
      { segment: n },
    );
  }
  const elsewhere = await findInOtherBackups(ctx, stored.sha256);
  if (elsewhere !== undefined) {
    return new BackupVerificationError(
      'segment-swapped',
      ctx.backupId,
      `${what} is ${elsewhere.segment} of backup ${elsewhere.backupId} (its SHA-256 is recorded in that backup's index): a segment was swapped in from another backup`,
      { segment: n },
    );
  }
  if (stored.size < seg.size) {
    return new BackupVerificationError(
      'segment-truncated',
      ctx.backupId,
      `${what} is truncated: ${stored.size} bytes stored, the index records ${seg.size} (${seg.size - stored.size} bytes missing)`,
      { segment: n },
    );
  }
  if (stored.size > seg.size) {
    return new BackupVerificationError(
      'segment-extended',
      ctx.backupId,
      `${what} is longer than recorded: ${stored.size} bytes stored, the index records ${seg.size} (${stored.size - seg.size} bytes too many): it was appended to or replaced`,
      { segment: n },
    );
  }
  return new BackupVerificationError(
    'segment-damaged',
    ctx.backupId,
    `${what} is damaged: it has the recorded size (${seg.size} bytes) but its SHA-256 differs from the index (${stored.sha256.slice(0, 16)}… instead of ${seg.sha256.slice(0, 16)}…): bit rot or tampering`,
    { segment: n },
  );
}

async function findInOtherBackups(
  ctx: SegmentDiagnosisContext,
  sha256: string,
): Promise<{ backupId: string; segment: string } | undefined> {
  let candidates: string[];
  try {
    const { backups } = await listBackupObjects(ctx.store, ctx.layout);
    const here = backupIdTime(ctx.backupId).getTime();
    const distance = (id: string) => Math.abs(backupIdTime(id).getTime() - here);
    // Only where to look (a diagnosis, never a decision): the index found there is decrypted and checked before it is named.
    candidates = backups
      .filter((b) => b.objects.has(INDEX_NAME) && b.id !== ctx.backupId)
      .sort((a, b) => distance(a.id) - distance(b.id))
      .slice(0, OTHER_BACKUPS_SEARCHED)
      .map((b) => b.id);
  } catch {
    return undefined;
  }
  for (const id of candidates) {
    let index = ctx.otherIndexes.get(id);
    if (!ctx.otherIndexes.has(id)) {
      index = await readIndexQuietly(ctx, id);
      ctx.otherIndexes.set(id, index);
    }
    const seg = index?.segments.find((s) => s.sha256 === sha256);
    if (seg !== undefined) return { backupId: id, segment: seg.name };
  }
  return undefined;
}

/** Another backup's index for diagnosis only: its signature is not judged, failures are ignored. */
async function readIndexQuietly(ctx: SegmentDiagnosisContext, id: string): Promise<LoadedIndex | undefined> {
  try {
    const raw = await ctx.store.getBytes(ctx.layout.indexKey(id), DIAGNOSIS_INDEX_LIMIT);
    const { plaintext } = await decryptAndVerify(raw, {
      decryptionKeys: ctx.keys.decryptionKeys,
      trustedSigners: [],
      label: `index of backup ${id}`,
      maxPlaintextBytes: 4 * raw.length + 1024 * 1024,
    });
    const parsed = loadBackupIndex(Buffer.from(plaintext).toString('utf8'));
    return 'index' in parsed ? parsed.index : undefined;
  } catch {
    return undefined;
  }
}
