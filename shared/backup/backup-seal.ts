import { z } from 'zod';
import { type SigningKey, signCleartext, type TrustedSigner, verifyCleartext } from '../crypto/index.js';
import { isStorageError, type ObjectStore, StorageError } from '../storage/index.js';
import type { BackupIndex, BackupKind } from './backup-index.js';
import { type BackupLayout, compactTime, generationName, INDEX_NAME, isBackupId } from './backup-layout.js';

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

export const REKEY_SEAL_FORMAT = 'secret-steward.io/backup-rekey-seal/v1' as const;

const namedObject = storedObject.extend({ name: z.string() });

/**
 * The seal of a re-encrypted copy (`rekey`, docs/rekey.md), stored at the seal's key in place
 * of the original. Signed by the rekey job's own key, which vouches ONLY for which objects hold
 * the re-encrypted copy (names, sizes, SHA-256) and whom they are encrypted to. Every fact
 * about the backup itself (id, cluster and its UID, kind, times, totals, and through the
 * index the Secrets and their data digests) is read from `original`: the seal the backup's
 * own signer made, carried unchanged and judged as any seal is. So a rekey key can neither
 * make a backup nor change what one is; see {@link judgeSealText}.
 */
const rekeySealSchema = z.strictObject({
  format: z.literal(REKEY_SEAL_FORMAT),
  backupId: z.string().refine(isBackupId, 'not a backup id'),
  cluster: z.string().min(1),
  /** 1 for the first re-encryption; names the objects (`generationName`). */
  generation: z.number().int().min(1).max(999_999),
  rekeyedAt: isoTime,
  toolVersion: z.string(),
  /** The original seal, armored as its signer wrote it. */
  original: z.string().max(MAX_SEAL_BYTES),
  index: namedObject,
  segments: z.array(namedObject),
  /** Fingerprints of the keys the re-encrypted index and segments are encrypted to. */
  recipients: z.array(z.string()),
});

export type RekeySeal = z.infer<typeof rekeySealSchema>;

/**
 * Where a re-encrypted backup's objects are, as its rekey seal says (the backup's facts stay
 * those of its original seal). Unset for a backup as the backup job wrote it.
 */
export interface RekeyedCopy {
  generation: number;
  rekeyedAt: string;
  /** Fingerprint of the rekey key that signed the rekey seal. */
  signer: string;
  index: { name: string; size: number; sha256: string };
  /** In segment order, one per segment of the original seal. */
  segments: { name: string; size: number; sha256: string }[];
  recipients: string[];
  /** The original seal, armored: what the next re-encryption carries on. */
  original: string;
}

/** The index and segments a backup's objects are read from: the rekeyed copy's, else the original's. */
export function storedObjectsOf(
  seal: BackupSeal,
  rekey: RekeyedCopy | undefined,
): { index: { name: string; size: number; sha256: string }; segments: { name: string; size: number; sha256: string }[] } {
  if (rekey !== undefined) return { index: rekey.index, segments: rekey.segments };
  return { index: { name: INDEX_NAME, ...seal.index }, segments: seal.segments };
}

/** Fingerprints of the keys a backup's stored copy is encrypted to. */
export function recipientsOf(seal: BackupSeal, rekey: RekeyedCopy | undefined): string[] {
  return rekey?.recipients ?? seal.recipients;
}

/** The seal of a backup whose index and segments were stored as `index` and `seal.segments` say. */
export function sealOf(
  index: Omit<BackupIndex, 'secrets'>,
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
  const armored = await signCleartext(JSON.stringify(seal), signingKey, { label: `seal of backup ${seal.backupId}`, now });
  await storeSeal(store, layout, seal.backupId, armored);
}

/** Signs a rekey seal with the rekey job's own key (not stored: see {@link storeSeal}). */
export async function signRekeySeal(seal: RekeySeal, signingKey: SigningKey, now: Date): Promise<string> {
  return signCleartext(JSON.stringify(seal), signingKey, { label: `rekey seal of backup ${seal.backupId}`, now });
}

/** Stores a signed seal in one write (replacing the one there), then reads it back. */
export async function storeSeal(store: ObjectStore, layout: BackupLayout, id: string, armored: string): Promise<void> {
  const key = layout.sealKey(id);
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

/**
 * A trusted signer and the window its signatures are believed in (`FILE,notBefore=,notAfter=`
 * and the key's own revocation date: see `loadTrustedSignerKeys`). No window: always.
 */
export type WindowedSigner = TrustedSigner & { fingerprint: string; notBefore?: Date; notAfter?: Date; revokedAt?: Date };

/**
 * Why a seal signed by `key` at `signedAt` is not believed under the key's window, or undefined
 * when it is. A signature's creation time is the signer's claim: the holder of a retired key
 * can date a new signature before its `notAfter`. What holds it back is `storedAt`, the time
 * the store (not the signer) gave the seal object when it was written (S3 `LastModified`): a
 * seal stored after the key's end by more than the clock skew was signed after it, whatever it
 * says. With the backup id carrying the sealed creation time (checked by {@link judgeSealText}),
 * a backdated seal must also pose as an old backup, which list-backups shows among its peers.
 */
export function windowProblem(
  key: Pick<WindowedSigner, 'fingerprint' | 'notBefore' | 'notAfter' | 'revokedAt'>,
  what: string,
  signedAt: Date | undefined,
  storedAt: Date | undefined,
  skewMs: number,
): string | undefined {
  const at = signedAt?.toISOString() ?? 'an unknown time';
  if (key.notBefore !== undefined && (signedAt === undefined || signedAt.getTime() < key.notBefore.getTime()))
    return `its ${what} is signed at ${at} by ${key.fingerprint}, before that key's window opens (notBefore=${key.notBefore.toISOString()})`;
  const ends = [
    ...(key.notAfter ? [{ at: key.notAfter, why: `it was retired (notAfter=${key.notAfter.toISOString()})` }] : []),
    ...(key.revokedAt
      ? [{ at: key.revokedAt, why: `it was revoked (its revocation signature is dated ${key.revokedAt.toISOString()})` }]
      : []),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
  const end = ends[0];
  if (end === undefined) return undefined;
  if (signedAt === undefined || signedAt.getTime() > end.at.getTime())
    return `its ${what} is signed at ${at} by ${key.fingerprint}, after ${end.why}`;
  if (storedAt !== undefined && storedAt.getTime() > end.at.getTime() + skewMs)
    return `its ${what} says it was signed at ${at} by ${key.fingerprint}, but the store wrote it at ${storedAt.toISOString()}, after ${end.why}: a backdated signature`;
  return undefined;
}

/** Who may vouch for which kind of backup, and what a backup of ours must say. */
export interface SealTrust {
  /**
   * Public keys trusted to seal each kind: scheduled backups are sealed by the backup job's
   * key, pre-restore backups by the restore job's own key. A seal by a key trusted only for
   * the other kind is not believed.
   */
  signers: Readonly<Record<BackupKind, readonly WindowedSigner[]>>;
  /**
   * Public keys trusted to sign rekey seals (docs/rekey.md): they vouch only for where a
   * backup's re-encrypted copy is stored; the backup's facts come from the original seal they
   * carry, judged against `signers`. None: a rekeyed backup is not believed.
   */
  rekeySigners?: readonly WindowedSigner[];
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
  | { status: 'sealed'; seal: BackupSeal; signer: string; rekey?: RekeyedCopy }
  | { status: 'unsealed' }
  | { status: 'forged'; reason: string }
  | { status: 'foreign'; seal: BackupSeal; signer: string; reason: string }
  | { status: 'future'; seal: BackupSeal; signer: string; reason: string };

/**
 * Reads and judges backup `id`'s seal. Storage failures other than a missing seal propagate.
 *
 * @param o.storedAt When the store wrote the seal object (its listing's `LastModified`): held to
 *   the signer's window ({@link windowProblem}). Unset: the signature's own date alone is judged.
 */
export async function judgeSeal(
  store: ObjectStore,
  layout: BackupLayout,
  id: string,
  trust: SealTrust,
  o: { storedAt?: Date } = {},
): Promise<SealVerdict> {
  let bytes: Buffer;
  try {
    bytes = await store.getBytes(layout.sealKey(id), MAX_SEAL_BYTES);
  } catch (e) {
    if (isStorageError(e, 'not-found')) return { status: 'unsealed' };
    if (isStorageError(e, 'too-large')) return { status: 'forged', reason: `its seal is larger than ${MAX_SEAL_BYTES} bytes` };
    throw e;
  }
  return judgeSealText(bytes.toString('utf8'), layout.cluster, id, trust, o);
}

/** {@link judgeSeal} on a seal already read. */
export async function judgeSealText(
  armored: string,
  cluster: string,
  id: string,
  trust: SealTrust,
  o: { storedAt?: Date } = {},
): Promise<SealVerdict> {
  const everyone = [...trust.signers.scheduled, ...trust.signers['pre-restore']];
  const skew = trust.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  // A seal signed after the reader's clock was read (a backup finishing while a drill, prune or
  // status runs) or by a clock slightly ahead verifies; beyond the skew its signature does not.
  const rekeySigners = trust.rekeySigners ?? [];
  const { text, check } = await verifyCleartext(armored, [...everyone, ...rekeySigners], { now: new Date(trust.now.getTime() + skew) });
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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: 'forged', reason: 'its seal is signed but not JSON' };
  }
  if (typeof json === 'object' && json !== null && (json as { format?: unknown }).format === REKEY_SEAL_FORMAT) {
    return judgeRekeySeal(json, { fingerprint: signer, signedAt: check.signedAt, storedAt: o.storedAt }, cluster, id, trust);
  }
  if (
    !trust.signers.scheduled.some((k) => k.fingerprint === signer) &&
    !trust.signers['pre-restore'].some((k) => k.fingerprint === signer)
  ) {
    return { status: 'forged', reason: `its seal is signed by ${signer}, a rekey key, which may not seal a backup` };
  }
  const r = sealSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { status: 'forged', reason: `its seal is signed but not a valid seal (${problems.join('; ')})` };
  }
  const parsed: BackupSeal = r.data;
  if (parsed.backupId !== id)
    return { status: 'forged', reason: `its seal names backup ${parsed.backupId}: it was copied from another backup` };
  if (parsed.cluster !== cluster) return { status: 'forged', reason: `its seal names cluster ${parsed.cluster}, not ${cluster}` };
  const key = trust.signers[parsed.kind].find((k) => k.fingerprint === signer);
  if (key === undefined) {
    return { status: 'forged', reason: `its seal is signed by ${signer}, which is not trusted for ${parsed.kind} backups` };
  }
  const outside = windowProblem(key, 'seal', check.signedAt, o.storedAt, skew);
  if (outside !== undefined) return { status: 'forged', reason: outside };
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
  // A seal is signed when its backup completes (or later, by adopt): one dated before the backup
  // it seals began was backdated (see windowProblem), or made by a clock off by more than the skew.
  if (check.signedAt !== undefined && check.signedAt.getTime() < Date.parse(parsed.createdAt) - skew) {
    return {
      status: 'forged',
      reason: `its seal is signed at ${check.signedAt.toISOString()}, before the backup it seals was created (${parsed.createdAt})`,
    };
  }
  return { status: 'sealed', seal: parsed, signer };
}

/**
 * Judges a rekey seal whose signature verified: its signer must be a trusted rekey key, it
 * must name this backup and cluster, and the original seal it carries must be judged
 * `sealed` (or `foreign`/`future`, passed on as they are) by the backup's own signers, with
 * rekey keys out of the picture so that a rekey seal never vouches for another. The re-encrypted
 * objects must be one per segment of the original, under the generation's names.
 */
async function judgeRekeySeal(
  json: unknown,
  by: { fingerprint: string; signedAt?: Date; storedAt?: Date },
  cluster: string,
  id: string,
  trust: SealTrust,
): Promise<SealVerdict> {
  const signer = by.fingerprint;
  const key = (trust.rekeySigners ?? []).find((k) => k.fingerprint === signer);
  if (key === undefined) {
    return { status: 'forged', reason: `its rekey seal is signed by ${signer}, which is not a trusted rekey key (--rekey-signer-key)` };
  }
  const outside = windowProblem(key, 'rekey seal', by.signedAt, by.storedAt, trust.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS);
  if (outside !== undefined) return { status: 'forged', reason: outside };
  const r = rekeySealSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { status: 'forged', reason: `its rekey seal is signed but not a valid rekey seal (${problems.join('; ')})` };
  }
  const rk = r.data;
  if (rk.backupId !== id)
    return { status: 'forged', reason: `its rekey seal names backup ${rk.backupId}: it was copied from another backup` };
  if (rk.cluster !== cluster) return { status: 'forged', reason: `its rekey seal names cluster ${rk.cluster}, not ${cluster}` };
  // The store's time of the original seal went with it when the rekey seal replaced it: the
  // original is held to its signer's window by its signature's date, and the rekey job, inside
  // its own window, judged it (with that store time) before carrying it on.
  const inner = await judgeSealText(rk.original, cluster, id, { ...trust, rekeySigners: [] });
  if (inner.status === 'unsealed' || inner.status === 'forged') {
    return {
      status: 'forged',
      reason: `it is re-encrypted, but the original seal it carries is not believed: ${inner.status === 'forged' ? inner.reason : 'none'}`,
    };
  }
  if (inner.status !== 'sealed') return inner;
  const expected = inner.seal.segments.map((s) => generationName(s.name, rk.generation));
  const names = rk.segments.map((s) => s.name);
  if (rk.index.name !== generationName(INDEX_NAME, rk.generation) || JSON.stringify(names) !== JSON.stringify(expected)) {
    return {
      status: 'forged',
      reason: `its rekey seal names other objects than the ${expected.length} segments and the index of generation ${rk.generation}`,
    };
  }
  return {
    status: 'sealed',
    seal: inner.seal,
    signer: inner.signer,
    rekey: {
      generation: rk.generation,
      rekeyedAt: rk.rekeyedAt,
      signer,
      index: rk.index,
      segments: rk.segments,
      recipients: rk.recipients,
      original: rk.original,
    },
  };
}
