/**
 * The verifying backup reader shared by verify-restore and restore. Nothing it hands out has
 * not passed every check that applies to it:
 *
 * - {@link VerifiedBackup.open} checks the stored index against the backup's seal (size and
 *   SHA-256, before a byte is decrypted; a backup made before seals existed has none and is
 *   read within {@link LEGACY_INDEX_LIMIT}), decrypts it, judges its signature against the
 *   trusted signer keys, checks that it belongs to the backup id and cluster asked for (an
 *   index copied in from another backup is caught here), that it says what the seal says (kind,
 *   times, segments, totals), and that its counts, segment names and references add up.
 * - {@link VerifiedBackup.readSegment} reads ONE segment: its stored size and SHA-256 must match
 *   the signed index before a byte is decrypted; it is then decrypted (OpenPGP integrity check),
 *   decompressed (never beyond the size the index records) and parsed one Secret at a time, and
 *   every Secret is checked against its index entry (position, namespace/name, type,
 *   immutability, data SHA-256) and for the shape of an exported Secret.
 *
 * Decompression bombs: whatever a forged index claims, no OpenPGP message inflates beyond
 * {@link plaintextLimit}, no segment beyond what one can hold, no line beyond what a Secret can
 * be (`segment-list-parser.ts`), and no segment yields more Secrets than its index records.
 *
 * Memory: one segment at a time (its stored bytes plus what openpgp.js buffers to check the
 * message, about 3.5 times the stored size) and the index, kept as a compact table (about 70
 * bytes per Secret, `SecretTable`). Secrets are yielded one by one and never collected. Every
 * decrypted value is registered with the redactor the moment it is parsed (about 25 bytes a value).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type Catalogue, latestSealed, problemOf } from '../backup/backup-catalog.js';
import { fromObjectMetadata, type IndexMetadata, LEGACY_INDEX_LIMIT, type LoadedIndex, type SecretEntry } from '../backup/backup-index.js';
import { loadBackupIndex } from '../backup/backup-index-schema.js';
import { type BackupLayout, backupIdTime, INDEX_NAME, SEAL_NAME, segmentName } from '../backup/backup-layout.js';
import { type BackupSeal, DEFAULT_CLOCK_SKEW_MS, madeBeforeSeals, type RekeyedCopy, storedObjectsOf } from '../backup/backup-seal.js';
import { decodedDataDigest, decodeSecretData } from '../backup/secret-digest.js';
import type { ExportedSecret } from '../backup/secret-export.js';
import { CryptoError, decryptAndVerify, decryptStream, type SignatureCheck } from '../crypto/index.js';
import { redactor } from '../log/index.js';
import { isStorageError, type ObjectStore } from '../storage/index.js';
import { diagnoseSegment, type SegmentDiagnosisContext } from './segment-diagnosis.js';
import { MAX_SEGMENT_PLAINTEXT_BYTES, SegmentListParser } from './segment-list-parser.js';
import { BackupVerificationError } from './verification-error.js';
import { unsignedAllowed, type VerificationKeys } from './verification-keys.js';

/** Largest sealed index read (about 1.2 million Secrets). */
const SEALED_INDEX_LIMIT = 256 * 1024 * 1024;

/**
 * How far an index may inflate when decrypted: secret-steward never compresses an index, and
 * gpg compresses JSON of this kind less than 4:1.
 */
function indexPlaintextLimit(storedBytes: number): number {
  return 4 * storedBytes + 1024 * 1024;
}

/**
 * How far the plaintext of an OpenPGP message of `storedBytes` may inflate. secret-steward never
 * compresses inside OpenPGP (gzip is outside it), so its messages are never larger decrypted
 * than stored; gpg compresses by default, but hardly beyond 8:1 for JSON. openpgp.js inflates
 * a compressed packet whole, in memory, so without this bound a small message could claim
 * gigabytes (a decompression bomb).
 */
function plaintextLimit(storedBytes: number): number {
  return 8 * storedBytes + 16 * 1024 * 1024;
}

export interface BackupReaderDeps {
  store: ObjectStore;
  layout: BackupLayout;
  keys: VerificationKeys;
  /** The time signatures are judged at. */
  now: Date;
}

/**
 * How a backup to open was authenticated: by its seal (and the key that signed it, which must
 * also have signed the index), or not yet (made before seals existed: its index signature is
 * all there is).
 */
export type BackupAuthentication = { seal: BackupSeal; signer: string; rekey?: RekeyedCopy } | { legacy: true };

/** Where each object of a backup is stored: the names, sizes and digests its seal (or rekey seal) records. */
interface StoredObjects {
  index: { name: string; size: number; sha256: string } | undefined;
  /** Per segment, in order; undefined for a backup made before seals (its index is all there is). */
  segments: { name: string; size: number; sha256: string }[] | undefined;
}

/** One Secret read from a verified segment. */
export interface BackupItem {
  secret: ExportedSecret;
  /** Its index entry (for a mismatch: the entry at its position, if any). */
  entry: SecretEntry;
  /** 1-based segment number and position inside the segment. */
  segment: number;
  position: number;
  /**
   * Set when this Secret does not match its index entry: an integrity failure of this Secret
   * alone (the rest of the segment is still checked). Restore refuses the whole backup then.
   */
  mismatch?: string;
}

/** The backup a `--backup` choice names, and how it is authenticated. */
export interface ResolvedBackup {
  id: string;
  auth: BackupAuthentication;
  /**
   * `latest` before any backup was sealed: the unsealed backups with an index, newest first
   * (`id` is the first). Which of them is a scheduled backup, and ours, is only known once its
   * index is decrypted and verified: {@link openResolved} tries them in order.
   */
  candidates?: string[];
}

/** How many backups made before seals `latest` tries before it gives up. */
const LEGACY_CANDIDATES = 10;

/**
 * Opens what {@link resolveBackup} chose. For `latest` among backups made before seals, tries
 * the candidates newest first and takes the first whose index verifies and says it is a
 * scheduled backup; what it stepped over is returned as `skipped` (with why), for the report.
 */
export async function openResolved(deps: BackupReaderDeps, r: ResolvedBackup): Promise<{ backup: VerifiedBackup; skipped: string[] }> {
  if (r.candidates === undefined) return { backup: await VerifiedBackup.open(deps, r.id, r.auth), skipped: [] };
  const skipped: string[] = [];
  let last: BackupVerificationError | undefined;
  for (const id of r.candidates.slice(0, LEGACY_CANDIDATES)) {
    try {
      const backup = await VerifiedBackup.open(deps, id, { legacy: true });
      if (backup.index.kind === 'scheduled') return { backup, skipped };
      skipped.push(`backup ${id} (made before seals) is a ${backup.index.kind} backup, not what latest means`);
    } catch (e) {
      if (!(e instanceof BackupVerificationError)) throw e;
      last = e;
      skipped.push(`backup ${id} (made before seals) does not verify: ${e.message}`);
    }
  }
  throw (
    last ??
    new BackupVerificationError(
      'not-authenticated',
      r.id,
      `none of the ${r.candidates.length} backups made before seals is a scheduled backup that verifies`,
    )
  );
}

/**
 * The backup `choice` means, judged on `catalogue`: `latest` is the newest SEALED scheduled
 * backup (never a forged, foreign or future one, however new its id; a damaged one is taken,
 * and its damage found and reported when it is read, rather than stepped over). When no backup
 * is sealed yet (an installation upgraded from before seals), it is the unsealed backups with an
 * index and an id not in the future, newest first, of which {@link openResolved} takes the first
 * scheduled one whose index signature verifies. Any other choice is taken as an id: sealed (whole
 * or damaged), or unsealed with an index (authenticated by its index signature), or refused.
 * Undefined when `latest` finds nothing.
 * @throws BackupVerificationError (`not-authenticated`) for an id whose seal is not to be
 *   believed; AmbiguousCatalogueError when seals of several clusters share the name.
 */
export function resolveBackup(catalogue: Catalogue, cluster: string, choice: string, now: Date): ResolvedBackup | undefined {
  if (choice === 'latest') {
    const latest = latestSealed(catalogue, cluster, 'scheduled');
    if (latest !== undefined) return { id: latest.id, auth: authOf(latest.seal, latest.signer, latest.rekey) };
    if (catalogue.entries.some((e) => e.verdict.status === 'sealed' && e.verdict.seal.kind === 'scheduled')) return undefined;
    const legacy = catalogue.entries
      .filter(
        (e) =>
          e.verdict.status === 'unsealed' &&
          e.objects.has(INDEX_NAME) &&
          backupIdTime(e.id).getTime() <= now.getTime() + DEFAULT_CLOCK_SKEW_MS,
      )
      .map((e) => e.id)
      .reverse();
    return legacy.length > 0 ? { id: legacy[0], auth: { legacy: true }, candidates: legacy } : undefined;
  }
  const entry = catalogue.entries.find((e) => e.id === choice);
  if (entry?.verdict.status === 'sealed')
    return { id: choice, auth: authOf(entry.verdict.seal, entry.verdict.signer, entry.verdict.rekey) };
  if (entry === undefined) return { id: choice, auth: { legacy: true } };
  if (entry.verdict.status === 'unsealed') return { id: choice, auth: { legacy: true } };
  throw new BackupVerificationError('not-authenticated', choice, `backup ${choice} is not authenticated: ${problemOf(entry)}`);
}

function authOf(seal: BackupSeal, signer: string, rekey: RekeyedCopy | undefined): BackupAuthentication {
  return rekey ? { seal, signer, rekey } : { seal, signer };
}

export class VerifiedBackup {
  /** The index's signature as judged against the trusted signer keys. */
  readonly signature: SignatureCheck;
  /** Things worth knowing that do not make the backup unusable (accepted unsigned index, stray objects). */
  readonly warnings: readonly string[];
  /** The index object's metadata (what list-backups shows), when the store kept it. */
  readonly meta: IndexMetadata | undefined;
  /** Index position of each segment's first entry (entries are in segment order: indexInconsistencies checks it), and one past the last. */
  private readonly segmentStarts: number[];
  private readonly objects: Map<string, number>;
  private readonly diagnosis: SegmentDiagnosisContext;
  private readonly stored: StoredObjects;

  private constructor(
    private readonly deps: BackupReaderDeps,
    readonly id: string,
    readonly index: LoadedIndex,
    init: {
      signature: SignatureCheck;
      warnings: string[];
      meta: IndexMetadata | undefined;
      objects: Map<string, number>;
      stored: StoredObjects;
    },
  ) {
    this.signature = init.signature;
    this.warnings = init.warnings;
    this.meta = init.meta;
    this.objects = init.objects;
    this.stored = init.stored;
    this.segmentStarts = [0];
    for (const seg of index.segments) this.segmentStarts.push(this.segmentStarts[this.segmentStarts.length - 1] + seg.items);
    // A re-encrypted copy's segments are diagnosed against where they are stored now.
    const rekeyed = init.stored.segments;
    const asStored =
      rekeyed === undefined || rekeyed === index.segments
        ? index
        : {
            ...index,
            segments: index.segments.map((x, i) => ({ ...x, name: rekeyed[i].name, size: rekeyed[i].size, sha256: rekeyed[i].sha256 })),
          };
    this.diagnosis = { store: deps.store, layout: deps.layout, keys: deps.keys, backupId: id, index: asStored, otherIndexes: new Map() };
  }

  /**
   * Opens backup `id`: reads, decrypts and verifies its index.
   * @throws BackupVerificationError (`no-index`, `index-unreadable`, `unsigned`, `untrusted`,
   *   `bad-signature`, `index-swapped`, `index-inconsistent`); StorageError when the store fails.
   */
  static async open(deps: BackupReaderDeps, id: string, auth: BackupAuthentication = { legacy: true }): Promise<VerifiedBackup> {
    const { store, layout, keys } = deps;
    const sealed = 'seal' in auth ? storedObjectsOf(auth.seal, auth.rekey) : undefined;
    const indexKey = sealed ? layout.objectKey(id, sealed.index.name) : layout.indexKey(id);
    const objects = new Map<string, number>();
    for await (const o of store.list(layout.backupPrefix(id))) objects.set(o.key.slice(layout.backupPrefix(id).length), o.size);
    const head = await store.head(indexKey);
    if (head === undefined) {
      throw new BackupVerificationError(
        'no-index',
        id,
        `backup ${id} has no index (${store.location}/${indexKey} is missing): it is incomplete, was deleted, or the id is wrong; it cannot be verified or restored`,
      );
    }
    const seal = 'seal' in auth ? auth.seal : undefined;
    const sealedIndex = sealed?.index;
    const limit = sealedIndex ? Math.min(sealedIndex.size, SEALED_INDEX_LIMIT) : LEGACY_INDEX_LIMIT;
    let raw: Buffer;
    try {
      raw = await store.getBytes(indexKey, limit);
    } catch (e) {
      if (!isStorageError(e, 'too-large')) throw e;
      throw new BackupVerificationError(
        'index-unreadable',
        id,
        sealedIndex
          ? `index of backup ${id} is larger than its seal records (${sealedIndex.size} bytes): it was replaced after the backup was sealed`
          : `index of backup ${id} is larger than ${LEGACY_INDEX_LIMIT} bytes and has no seal to vouch for it: refused unread`,
      );
    }
    if (sealedIndex) {
      const sha256 = createHash('sha256').update(raw).digest('hex');
      if (raw.length !== sealedIndex.size || sha256 !== sealedIndex.sha256) {
        throw new BackupVerificationError(
          'index-unreadable',
          id,
          `index of backup ${id} differs from its seal (${raw.length} bytes, SHA-256 ${sha256 === sealedIndex.sha256 ? 'equal' : 'differs'}; sealed ${sealedIndex.size} bytes): it was replaced after the backup was sealed`,
        );
      }
    }
    let plaintext: Uint8Array;
    let signature: SignatureCheck;
    try {
      ({ plaintext, signature } = await decryptAndVerify(raw, {
        decryptionKeys: keys.decryptionKeys,
        trustedSigners: keys.trustedSigners,
        now: deps.now,
        label: `index of backup ${id}`,
        maxPlaintextBytes: indexPlaintextLimit(raw.length),
      }));
    } catch (e) {
      if (e instanceof CryptoError) throw new BackupVerificationError('index-unreadable', id, e.message, { cause: e });
      throw e;
    }
    const parsed = loadBackupIndex(Buffer.from(plaintext).toString('utf8'));
    if ('problems' in parsed) {
      throw new BackupVerificationError(
        'index-unreadable',
        id,
        `index of backup ${id} decrypts but is not a valid secret-steward index: ${parsed.problems.slice(0, 5).join('; ')}`,
      );
    }
    const index = parsed.index;
    const warnings: string[] = [];
    judgeSignature(id, index, signature, keys, warnings);
    if ('seal' in auth && signature.status === 'valid' && signature.signerFingerprint !== auth.signer) {
      throw new BackupVerificationError(
        'bad-signature',
        id,
        `index of backup ${id} is signed by ${signature.signerFingerprint}, its seal by ${auth.signer}: one of them was replaced`,
      );
    }
    if (index.backupId !== id || index.cluster !== layout.cluster) {
      throw new BackupVerificationError(
        'index-swapped',
        id,
        `index of backup ${id} belongs to backup ${index.backupId} of cluster ${index.cluster}` +
          `${index.backupId === id ? '' : ' (not this backup)'}${index.cluster === layout.cluster ? '' : ` (not cluster ${layout.cluster})`}: ` +
          'an index was copied in from another backup, so the segments here cannot be vouched for',
      );
    }
    if (!seal && !madeBeforeSeals(index.toolVersion)) {
      throw new BackupVerificationError(
        'not-authenticated',
        id,
        `backup ${id} was written by secret-steward ${index.toolVersion}, which seals every backup, but has no seal: it was removed or never written`,
      );
    }
    if (seal) {
      const differs = sealDisagreements(index, seal);
      if (differs.length > 0) {
        throw new BackupVerificationError(
          'index-inconsistent',
          id,
          `index of backup ${id} says other things than its seal: ${differs.slice(0, 5).join('; ')}`,
        );
      }
    }
    const inconsistencies = indexInconsistencies(index);
    if (inconsistencies.length > 0) {
      throw new BackupVerificationError(
        'index-inconsistent',
        id,
        `index of backup ${id} is inconsistent: ${inconsistencies.slice(0, 5).join('; ')}`,
      );
    }
    const meta = fromObjectMetadata(head.metadata);
    if (
      meta !== undefined &&
      (meta.secrets !== index.totals.secrets || meta.segments !== index.totals.segments || meta.createdAt !== index.createdAt)
    ) {
      warnings.push(
        `the object metadata of backup ${id}'s index (${meta.secrets} Secrets, ${meta.segments} segments) differs from the signed index ` +
          `(${index.totals.secrets} Secrets, ${index.totals.segments} segments): list-backups shows the metadata, the index is authoritative`,
      );
    }
    const segmentsAt = sealed?.segments ?? index.segments;
    const known = new Set([sealed?.index.name ?? INDEX_NAME, SEAL_NAME, ...segmentsAt.map((s) => s.name)]);
    const strays = [...objects.keys()].filter((k) => !known.has(k));
    if (strays.length > 0)
      warnings.push(
        `backup ${id} holds objects its index does not name (ignored): ${strays.slice(0, 5).join(', ')}${strays.length > 5 ? ', …' : ''}`,
      );
    return new VerifiedBackup(deps, id, index, {
      signature,
      warnings,
      meta,
      objects,
      stored: { index: sealed?.index, segments: auth !== undefined && 'rekey' in auth && auth.rekey ? auth.rekey.segments : undefined },
    });
  }

  get segmentCount(): number {
    return this.index.segments.length;
  }

  /** The index entries of segment `n` (1-based), in stored order, each made as it is reached. */
  *entriesOf(n: number): Generator<SecretEntry> {
    for (let i = this.segmentStarts[n - 1]; i < this.segmentStarts[n]; i++) yield this.index.secrets.at(i);
  }

  /**
   * Reads segment `n` (1-based), verifying as it goes (see the module comment), and yields its
   * Secrets one at a time. A Secret that does not match its entry is yielded with `mismatch`
   * set; everything else that is wrong throws a {@link BackupVerificationError} naming the
   * segment, before any Secret of a segment whose stored bytes differ is decrypted.
   */
  async *readSegment(n: number): AsyncGenerator<BackupItem> {
    const seg = this.index.segments[n - 1];
    if (seg === undefined) throw new RangeError(`backup ${this.id} has no segment ${n}`);
    const { store, layout, keys } = this.deps;
    // Where it is stored: a re-encrypted copy's own object (checked against the rekey seal), else the index's.
    const at = this.stored.segments?.[n - 1] ?? seg;
    const key = at === seg ? layout.segmentKeyByName(this.id, seg.name) : layout.objectKey(this.id, at.name);
    const what = `${at.name} of backup ${this.id}`;

    const listed = this.objects.get(at.name);
    if (listed === undefined) throw this.missing(n, what, at.size);
    if (listed !== at.size) throw await this.diagnoseStored(n, key, what, at.size);
    let bytes: Buffer;
    try {
      bytes = await store.getBytes(key, at.size);
    } catch (e) {
      if (isStorageError(e, 'not-found')) throw this.missing(n, what, at.size);
      if (isStorageError(e, 'too-large')) throw await this.diagnoseStored(n, key, what, at.size);
      throw e;
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== at.size || sha256 !== at.sha256) throw await diagnoseSegment(this.diagnosis, n, { size: bytes.length, sha256 });

    let plaintext: Readable;
    try {
      plaintext = await decryptStream(Readable.from([bytes]), {
        decryptionKeys: keys.decryptionKeys,
        label: what,
        maxPlaintextBytes: plaintextLimit(bytes.length),
      });
    } catch (e) {
      if (e instanceof CryptoError) throw new BackupVerificationError('segment-unreadable', this.id, e.message, { segment: n, cause: e });
      throw e;
    }
    const body: Readable = this.index.compression === 'gzip' ? plaintext.pipe(createGunzip({ chunkSize: 256 * 1024 })) : plaintext;
    if (body !== plaintext) plaintext.once('error', (e) => body.destroy(e));
    const parser = new SegmentListParser(seg.plaintextBytes);
    const first = this.segmentStarts[n - 1];
    const recorded = this.segmentStarts[n] - first;
    let position = 0;
    const unreadable = (e: unknown) =>
      e instanceof BackupVerificationError
        ? e
        : new BackupVerificationError(
            'segment-unreadable',
            this.id,
            `${what} matches its recorded SHA-256 and decrypts, but its content cannot be read: ${e instanceof CryptoError ? e.message : describe(e)}`,
            { segment: n, cause: e },
          );
    try {
      for await (const chunk of body) {
        let values: unknown[];
        try {
          values = parser.push(chunk as Buffer);
        } catch (e) {
          throw unreadable(e);
        }
        for (const value of values) {
          position++;
          // Never more than recorded: a forged segment must not cost more than its index allows.
          if (position > seg.items) {
            throw new BackupVerificationError(
              'segment-content',
              this.id,
              `${what} holds more than the ${seg.items} Secrets the index records for it`,
              { segment: n },
            );
          }
          yield this.checkItem(value, position <= recorded ? this.index.secrets.at(first + position - 1) : undefined, n, position);
        }
      }
      parser.end();
    } catch (e) {
      throw unreadable(e);
    } finally {
      if (!body.destroyed) body.destroy();
    }
    if (position !== seg.items || position !== recorded) {
      throw new BackupVerificationError(
        'segment-content',
        this.id,
        `${what} holds ${position} Secrets, but the index records ${seg.items} for it (${recorded} index entries)`,
        { segment: n },
      );
    }
    if (parser.bytes !== seg.plaintextBytes) {
      throw new BackupVerificationError(
        'segment-content',
        this.id,
        `${what} decompresses to ${parser.bytes} bytes, but the index records ${seg.plaintextBytes}`,
        { segment: n },
      );
    }
  }

  private checkItem(value: unknown, entry: SecretEntry | undefined, n: number, position: number): BackupItem {
    const at = `item ${position} of ${this.index.segments[n - 1].name}`;
    const parsed = asSecret(value);
    const placeholder: SecretEntry = entry ?? { namespace: '', name: '', type: '', dataSha256: '0'.repeat(64), segment: n };
    if ('problem' in parsed) {
      const named = parsed.who === undefined ? at : `Secret ${parsed.who} (${at})`;
      return {
        secret: { apiVersion: 'v1', kind: 'Secret', metadata: { name: '', namespace: '' }, type: '' },
        entry: placeholder,
        segment: n,
        position,
        mismatch: `${named} is not a well-formed Secret: ${parsed.problem}`,
      };
    }
    const secret = parsed.secret;
    // Decoded once: registered with the redactor now, hashed below.
    const decoded = decodeSecretData(secret.data);
    for (const v of decoded.values()) redactor.register(v);
    const who = `${secret.metadata.namespace}/${secret.metadata.name}`;
    const item: BackupItem = { secret, entry: placeholder, segment: n, position };
    if (entry === undefined)
      return { ...item, mismatch: `Secret ${who} (${at}) is not in the index: the segment holds more Secrets than recorded` };
    if (entry.namespace !== secret.metadata.namespace || entry.name !== secret.metadata.name) {
      return { ...item, mismatch: `${at} is Secret ${who}, but the index lists ${entry.namespace}/${entry.name} at that position` };
    }
    if (entry.type !== secret.type)
      return { ...item, mismatch: `Secret ${who} has type ${secret.type}, but the index records ${entry.type}` };
    if ((entry.immutable ?? false) !== (secret.immutable ?? false)) {
      return { ...item, mismatch: `Secret ${who} is ${secret.immutable ? '' : 'not '}immutable, but the index records the opposite` };
    }
    if (decodedDataDigest(decoded) !== entry.dataSha256) {
      return { ...item, mismatch: `Secret ${who}: the SHA-256 of its data differs from the one recorded in the index` };
    }
    return item;
  }

  private missing(n: number, what: string, size: number): BackupVerificationError {
    return new BackupVerificationError(
      'segment-missing',
      this.id,
      `${what} is missing from the store (the index records ${size} bytes for it)`,
      { segment: n },
    );
  }

  /** The stored object's size differs from the index: read its digest (streaming) and explain. */
  private async diagnoseStored(n: number, key: string, what: string, size: number): Promise<BackupVerificationError> {
    try {
      return await diagnoseSegment(this.diagnosis, n, await this.deps.store.digest(key));
    } catch (e) {
      if (isStorageError(e, 'not-found')) return this.missing(n, what, size);
      throw e;
    }
  }
}

/** Where a decrypted index and its seal disagree (the seal was made from the index, so they never do unless one was forged). */
function sealDisagreements(index: LoadedIndex, seal: BackupSeal): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what}: index ${JSON.stringify(a)}, seal ${JSON.stringify(b)}`);
  };
  same('kind', index.kind, seal.kind);
  same('createdAt', index.createdAt, seal.createdAt);
  same('completedAt', index.completedAt, seal.completedAt);
  same('totals', index.totals, seal.totals);
  same(
    'segments',
    index.segments.map((x) => [x.name, x.size, x.sha256]),
    seal.segments.map((x) => [x.name, x.size, x.sha256]),
  );
  return out;
}

function judgeSignature(id: string, index: LoadedIndex, signature: SignatureCheck, keys: VerificationKeys, warnings: string[]): void {
  const trusted = keys.trustedSigners.map((k) => k.fingerprint);
  const trustedText = trusted.length === 0 ? 'none given' : trusted.join(', ');
  switch (signature.status) {
    case 'valid':
      if (index.signer !== undefined && index.signer !== signature.signerFingerprint) {
        throw new BackupVerificationError(
          'bad-signature',
          id,
          `index of backup ${id} names ${index.signer} as its signer but was signed by ${signature.signerFingerprint}`,
        );
      }
      return;
    case 'invalid':
      throw new BackupVerificationError(
        'bad-signature',
        id,
        `index of backup ${id} carries a signature by trusted key ${signature.signerFingerprint ?? signature.signerKeyId ?? '?'} that does not verify (${signature.reason ?? 'no reason given'}): it was changed after signing`,
      );
    case 'unsigned': {
      const text = `index of backup ${id} is not signed, so who wrote it cannot be proven`;
      if (unsignedAllowed(keys, id)) {
        warnings.push(`${text} (accepted: --allow-unsigned)`);
        return;
      }
      throw new BackupVerificationError(
        'unsigned',
        id,
        `${text}; accept it by naming it with --allow-unsigned ${id} if you know where it came from`,
      );
    }
    case 'untrusted': {
      const signer = signature.signerFingerprint ?? `key id ${signature.signerKeyId ?? '?'}`;
      const text = `index of backup ${id} is signed by ${signer}, which is not a trusted signer (--trusted-signer-key: ${trustedText})`;
      if (unsignedAllowed(keys, id)) {
        warnings.push(`${text} (accepted: --allow-unsigned)`);
        return;
      }
      throw new BackupVerificationError('untrusted', id, `${text}; add the signer's public key with --trusted-signer-key if it is yours`);
    }
  }
}

/** Everything that does not add up inside an index (names, counts, references). */
export function indexInconsistencies(index: LoadedIndex): string[] {
  const problems: string[] = [];
  if (index.totals.secrets !== index.secrets.length)
    problems.push(`totals.secrets is ${index.totals.secrets}, but ${index.secrets.length} Secrets are listed`);
  if (index.totals.segments !== index.segments.length)
    problems.push(`totals.segments is ${index.totals.segments}, but ${index.segments.length} segments are listed`);
  let stored = 0;
  let plain = 0;
  const counts = index.segments.map(() => 0);
  index.segments.forEach((s, i) => {
    if (s.name !== segmentName(i + 1, index.compression))
      problems.push(`segment ${i + 1} is named ${s.name}, expected ${segmentName(i + 1, index.compression)}`);
    if (s.plaintextBytes > MAX_SEGMENT_PLAINTEXT_BYTES) {
      problems.push(
        `${s.name} records ${s.plaintextBytes} bytes of plaintext, more than a segment can hold (${MAX_SEGMENT_PLAINTEXT_BYTES}), so it is not read`,
      );
    }
    stored += s.size;
    plain += s.plaintextBytes;
  });
  if (stored !== index.totals.storedBytes)
    problems.push(`totals.storedBytes is ${index.totals.storedBytes}, but the segments add up to ${stored}`);
  if (plain !== index.totals.plaintextBytes)
    problems.push(`totals.plaintextBytes is ${index.totals.plaintextBytes}, but the segments add up to ${plain}`);
  const seen = new Set<string>();
  let last = 1;
  for (const e of index.secrets) {
    if (e.segment < 1 || e.segment > index.segments.length) {
      problems.push(`Secret ${e.namespace}/${e.name} refers to segment ${e.segment}, which does not exist`);
      continue;
    }
    if (e.segment < last) problems.push(`Secret ${e.namespace}/${e.name} is listed out of segment order`);
    last = e.segment;
    counts[e.segment - 1]++;
    const key = `${e.namespace}/${e.name}`;
    if (seen.has(key)) problems.push(`Secret ${key} is listed twice`);
    seen.add(key);
  }
  index.segments.forEach((s, i) => {
    if (counts[i] !== s.items) problems.push(`${s.name} records ${s.items} Secrets, but ${counts[i]} index entries refer to it`);
  });
  return problems;
}

/**
 * A parsed item as an exported Secret with exactly the fields of {@link ExportedSecret}, each of
 * its type (so that no reader meets a nested structure where it expects a string), or what is
 * wrong with it and, when it says so, which Secret it is.
 */
function asSecret(value: unknown): { secret: ExportedSecret } | { problem: string; who?: string } {
  if (!isRecord(value)) return { problem: 'not a JSON object' };
  if (value.apiVersion !== 'v1' || value.kind !== 'Secret') return { problem: 'apiVersion and kind are not v1 Secret' };
  const md = value.metadata;
  if (!isRecord(md) || typeof md.name !== 'string' || typeof md.namespace !== 'string')
    return { problem: 'metadata.name and metadata.namespace are not strings' };
  const who = `${md.namespace}/${md.name}`;
  for (const field of ['labels', 'annotations'] as const) {
    if (md[field] !== undefined && !isStringMap(md[field])) return { problem: `metadata.${field} is not a map of strings`, who };
  }
  if (md.finalizers !== undefined && !(Array.isArray(md.finalizers) && md.finalizers.every((f) => typeof f === 'string'))) {
    return { problem: 'metadata.finalizers is not a list of strings', who };
  }
  if (value.type !== undefined && typeof value.type !== 'string') return { problem: 'type is not a string', who };
  if (value.immutable !== undefined && typeof value.immutable !== 'boolean') return { problem: 'immutable is not a boolean', who };
  if (value.data !== undefined && !isStringMap(value.data)) return { problem: 'data is not a map of strings', who };
  const secret: ExportedSecret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: md.name, namespace: md.namespace },
    type: (value.type as string | undefined) ?? 'Opaque',
  };
  if (md.labels !== undefined) secret.metadata.labels = md.labels as Record<string, string>;
  if (md.annotations !== undefined) secret.metadata.annotations = md.annotations as Record<string, string>;
  if (md.finalizers !== undefined) secret.metadata.finalizers = md.finalizers as string[];
  if (value.immutable !== undefined) secret.immutable = value.immutable as boolean;
  if (value.data !== undefined) secret.data = value.data as Record<string, string>;
  return { secret };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): v is Record<string, string> {
  return isRecord(v) && Object.values(v).every((x) => typeof x === 'string');
}

function describe(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' ? 'it is not valid gzip data' : e.message;
  return String(e);
}
