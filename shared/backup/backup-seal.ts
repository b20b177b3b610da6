import { z } from 'zod';
import { type SigningKey, signCleartext, type TrustedSigner, verifyCleartext } from '../crypto/index.js';
import { isStorageError, type ObjectStore, StorageError } from '../storage/index.js';
import type { BackupIndex, BackupKind } from './backup-index.js';
import { type BackupLayout, compactTime, isBackupId } from './backup-layout.js';

/**
 * The seal: the one object that makes a backup a backup. Written last, after every segment and
 * the index were read back, it is a cleartext-signed OpenPGP message (what `gpg --clearsign`
 * writes; `gpg --verify seal.json.asc` checks it) holding, in clear JSON, every fact the jobs
 * act on without a private key: the backup's id, cluster name and cluster identity (the UID
 * of its kube-system namespace), kind, times, the index's and each segment's size and SHA-256,
 * and the totals. Its signature is made with the signing key of the backup's kind, so a holder
 * of the public keys alone (backup's retention, prune, list-backups, status) can tell our
 * backups from objects anyone else put in the bucket.
 *
 * Nothing secret is in it: counts, sizes, digests of encrypted objects, times, fingerprints.
 * Break-glass recovery does not need it (the segments are plain OpenPGP messages).
 */

export const SEAL_FORMAT = 'secret-steward.io/backup-seal/v1' as const;

/** Largest seal read: a seal is a few KiB (about 150 bytes per segment); anything larger is not ours. */
export const MAX_SEAL_BYTES = 1024 * 1024;

/** The first release that seals every backup it writes. */
export const FIRST_SEALING_RELEASE = '0.2.0';

/**
 * True when a backup's SIGNED index says it was written by a release before seals existed (so a
 * missing seal is expected), false for a backup written since (its seal was removed).
 */
export function madeBeforeSeals(toolVersion: string): boolean {
  const [major, minor] = toolVersion.split(/[.-]/).map((x) => Number.parseInt(x, 10));
  const [fMajor, fMinor] = FIRST_SEALING_RELEASE.split('.').map((x) => Number.parseInt(x, 10));
  if (!Number.isFinite(major) || !Number.isFinite(minor)) return false;
  return major < fMajor || (major === fMajor && minor < fMinor);
}

/** How far a backup's sealed creation time may lie ahead of the reader's clock. */
export const DEFAULT_CLOCK_SKEW_MS = 10 * 60_000;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const storedObject = z.object({ size: z.number().int().nonnegative(), sha256: sha256Hex });
const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)) && new Date(s).toISOString() === s, 'not an ISO 8601 UTC time');

const sealSchema = z.strictObject({
  format: z.literal(SEAL_FORMAT),
  backupId: z.string().refine(isBackupId, 'not a backup id'),
  cluster: z.string().min(1),
  /** UID of the source cluster's kube-system namespace: a name anyone can reuse, a UID they cannot. */
  clusterUid: z.string().min(1),
  kind: z.enum(['scheduled', 'pre-restore']),
  createdAt: isoTime,
  completedAt: isoTime,
  toolVersion: z.string(),
  /** The encrypted index (`index.json.pgp`) as stored. */
  index: storedObject,
  segments: z.array(storedObject.extend({ name: z.string().regex(/^segment-\d{5}\.json(\.gz)?\.pgp$/) })),
  totals: z.strictObject({
    secrets: z.number().int().nonnegative(),
    segments: z.number().int().nonnegative(),
    storedBytes: z.number().int().nonnegative(),
    plaintextBytes: z.number().int().nonnegative(),
  }),
  /** Fingerprints of the keys every segment and the index are encrypted to. */
  recipients: z.array(z.string()),
  /** Set when `adopt` sealed a backup made before seals existed. */
  adopted: z.strictObject({ at: isoTime, toolVersion: z.string() }).optional(),
});

export type BackupSeal = z.infer<typeof sealSchema>;

/** The seal of a backup whose index and segments were stored as `index` and `seal.segments` say. */
export function sealOf(
  index: BackupIndex,
  storedIndex: { size: number; sha256: string },
  clusterUid: string,
  toolVersion: string,
): BackupSeal {
  return {
    format: SEAL_FORMAT,
    backupId: index.backupId,
    cluster: index.cluster,
    clusterUid,
    kind: index.kind,
    createdAt: index.createdAt,
    completedAt: index.completedAt,
    toolVersion,
    index: { size: storedIndex.size, sha256: storedIndex.sha256 },
    segments: index.segments.map((s) => ({ name: s.name, size: s.size, sha256: s.sha256 })),
    totals: { ...index.totals },
    recipients: [...index.recipients],
  };
}

/** Signs and stores a seal, then reads it back: what the store kept must be what we signed. */
export async function writeSeal(
  store: ObjectStore,
  layout: BackupLayout,
  seal: BackupSeal,
  signingKey: SigningKey,
  now: Date,
): Promise<void> {
  const key = layout.sealKey(seal.backupId);
  const armored = await signCleartext(JSON.stringify(seal), signingKey, { label: `seal of backup ${seal.backupId}`, now });
  const put = await store.put(key, Buffer.from(armored, 'utf8'), { contentType: 'text/plain; charset=utf-8' });
  const back = await store.digest(key);
  if (back.sha256 !== put.sha256 || back.size !== put.size) {
    throw new StorageError({
      kind: 'integrity',
      operation: 'verify (read back)',
      location: `${store.location}/${key}`,
      detail: 'stored seal differs from what was uploaded: the store altered it (see --s3-checksum)',
    });
  }
}

/** Who may vouch for which kind of backup, and what a backup of ours must say. */
export interface SealTrust {
  /**
   * Public keys trusted to seal each kind: scheduled backups are sealed by the backup job's
   * key, pre-restore backups by the restore job's own key. A seal by a key trusted only for
   * the other kind is not believed.
   */
  signers: Readonly<Record<BackupKind, readonly (TrustedSigner & { fingerprint: string })[]>>;
  /** The cluster's identity (kube-system UID). Unset when the reader cannot know it. */
  clusterUid?: string;
  /** The time signatures and creation times are judged at. */
  now: Date;
  /** @default DEFAULT_CLOCK_SKEW_MS */
  clockSkewMs?: number;
}

/**
 * What a backup's seal says about it:
 * - `sealed`: a seal that verifies by a key trusted for its kind, names this backup and
 *   cluster (and this cluster's UID when known), dated no later than now + the clock skew;
 * - `unsealed`: no seal object (a run that died, a backup made before seals existed, or
 *   objects someone else put there);
 * - `forged`: a seal object that is not such a seal (unsigned, untrusted or bad signature, not a
 *   seal, larger than any seal, naming another backup or cluster, signed by a key not trusted
 *   for its kind, or whose id does not match its time);
 * - `foreign`: a valid seal of a cluster with another identity (a second cluster using the same
 *   cluster name and signing key);
 * - `future`: a valid seal dated beyond now + the clock skew.
 *
 * Only `sealed` backups are restore points, retention candidates and freshness evidence;
 * the others are reported and never deleted automatically.
 */
export type SealVerdict =
  | { status: 'sealed'; seal: BackupSeal; signer: string }
  | { status: 'unsealed' }
  | { status: 'forged'; reason: string }
  | { status: 'foreign'; seal: BackupSeal; signer: string; reason: string }
  | { status: 'future'; seal: BackupSeal; signer: string; reason: string };

/** Reads and judges backup `id`'s seal. Storage failures other than a missing seal propagate. */
export async function judgeSeal(store: ObjectStore, layout: BackupLayout, id: string, trust: SealTrust): Promise<SealVerdict> {
  let bytes: Buffer;
  try {
    bytes = await store.getBytes(layout.sealKey(id), MAX_SEAL_BYTES);
  } catch (e) {
    if (isStorageError(e, 'not-found')) return { status: 'unsealed' };
    if (isStorageError(e, 'too-large')) return { status: 'forged', reason: `its seal is larger than ${MAX_SEAL_BYTES} bytes` };
    throw e;
  }
  return judgeSealText(bytes.toString('utf8'), layout.cluster, id, trust);
}

/** {@link judgeSeal} on a seal already read. */
export async function judgeSealText(armored: string, cluster: string, id: string, trust: SealTrust): Promise<SealVerdict> {
  const everyone = [...trust.signers.scheduled, ...trust.signers['pre-restore']];
  const skew = trust.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  // A seal signed after the reader's clock was read (a backup finishing while a drill, prune or
  // status runs) or by a clock slightly ahead verifies; beyond the skew its signature does not.
  const { text, check } = await verifyCleartext(armored, everyone, { now: new Date(trust.now.getTime() + skew) });
  if (check.status !== 'valid' || text === undefined) {
    const by = check.signerFingerprint ?? check.signerKeyId;
    const why =
      check.status === 'unsigned'
        ? 'its seal is not signed'
        : check.status === 'untrusted'
          ? `its seal is signed by ${by ?? 'an unknown key'}, which is not a trusted signer`
          : `its seal's signature does not verify (${check.reason ?? 'bad signature'})`;
    return { status: 'forged', reason: why };
  }
  const signer = check.signerFingerprint as string;
  let parsed: BackupSeal;
  try {
    const r = sealSchema.safeParse(JSON.parse(text));
    if (!r.success) {
      const problems = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      return { status: 'forged', reason: `its seal is signed but not a valid seal (${problems.join('; ')})` };
    }
    parsed = r.data;
  } catch {
    return { status: 'forged', reason: 'its seal is signed but not JSON' };
  }
  if (parsed.backupId !== id)
    return { status: 'forged', reason: `its seal names backup ${parsed.backupId}: it was copied from another backup` };
  if (parsed.cluster !== cluster) return { status: 'forged', reason: `its seal names cluster ${parsed.cluster}, not ${cluster}` };
  if (!trust.signers[parsed.kind].some((k) => k.fingerprint === signer)) {
    return { status: 'forged', reason: `its seal is signed by ${signer}, which is not trusted for ${parsed.kind} backups` };
  }
  if (compactTime(new Date(parsed.createdAt)) !== id.slice(0, 16)) {
    return { status: 'forged', reason: `its id does not carry its sealed creation time ${parsed.createdAt}` };
  }
  if (trust.clusterUid !== undefined && parsed.clusterUid !== trust.clusterUid) {
    return {
      status: 'foreign',
      seal: parsed,
      signer,
      reason: `it was sealed by the cluster whose kube-system UID is ${parsed.clusterUid}, not this one (${trust.clusterUid})`,
    };
  }
  if (Date.parse(parsed.createdAt) > trust.now.getTime() + skew) {
    return { status: 'future', seal: parsed, signer, reason: `it is sealed as created at ${parsed.createdAt}, in the future` };
  }
  return { status: 'sealed', seal: parsed, signer };
}
