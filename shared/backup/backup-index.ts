import type { Compression } from './backup-layout.js';

export const INDEX_FORMAT = 'secret-steward.io/backup-index/v1' as const;

/**
 * Largest index read before anything vouches for it: an unsealed index (made before seals
 * existed) is read whole to decrypt it and check the signature inside. About 300,000 Secrets,
 * far under verify-restore's and restore's memory limits; a sealed index is read at exactly its
 * sealed size.
 */
export const LEGACY_INDEX_LIMIT = 64 * 1024 * 1024;

/** Why a backup was taken: on schedule/by hand, or automatically before a restore overwrote Secrets. */
export type BackupKind = 'scheduled' | 'pre-restore';

/** One stored segment, as recorded in the index. */
export interface SegmentEntry {
  /** File name inside the backup's directory, e.g. `segment-00001.json.gz.pgp`. */
  name: string;
  /** Bytes stored (the OpenPGP message). */
  size: number;
  /** SHA-256 (hex) of the stored bytes, read back after upload. */
  sha256: string;
  items: number;
  /** Bytes of JSON before compression and encryption. */
  plaintextBytes: number;
}

/** One backed-up Secret, as recorded in the index (names, never values). */
export interface SecretEntry {
  namespace: string;
  name: string;
  type: string;
  /** {@link secretDataDigest} of the Secret's data (hex). */
  dataSha256: string;
  /** 1-based segment number holding it. */
  segment: number;
  immutable?: boolean;
}

/**
 * The backup index: written last, encrypted and (with a signing key) signed; its presence makes
 * a backup complete. Parsed and checked by `parseBackupIndex` (backup-index-schema.ts), which
 * only readers load.
 */
export interface BackupIndex {
  format: typeof INDEX_FORMAT;
  backupId: string;
  cluster: string;
  kind: BackupKind;
  createdAt: string;
  completedAt: string;
  toolVersion: string;
  /** resourceVersion of the Secret list snapshot the backup was taken from. */
  listResourceVersion: string;
  selection: { namespaces: string[]; excludeNamespaces: string[]; selector?: string; excludeTypes: string[] };
  compression: Compression;
  /** Fingerprints of the keys every segment and the index are encrypted to. */
  recipients: string[];
  /** Fingerprint of the key that signed the index, if any. */
  signer?: string;
  segments: SegmentEntry[];
  secrets: SecretEntry[];
  totals: { secrets: number; segments: number; storedBytes: number; plaintextBytes: number };
}

/**
 * An index as a reader keeps it once verified: every field of {@link BackupIndex}, its Secrets
 * in a {@link SecretTable} instead of an array of objects. Built by `loadBackupIndex`
 * (backup-index-schema.ts).
 */
export type LoadedIndex = Omit<BackupIndex, 'secrets'> & { secrets: SecretTable };

/**
 * The Secrets of an index, in index order, in a few typed arrays rather than one object per
 * Secret: namespace and type as numbers into one table of distinct strings, names as ASCII
 * bytes in one buffer (a name that is not ASCII is kept as its string, so every name reads back
 * exactly), the data digest as its 32 raw bytes, the segment number and the immutable flag.
 * About 70 bytes a Secret where the parsed objects took about 250, however many there are.
 * {@link at} and iteration give each entry back as a {@link SecretEntry}, made on demand.
 */
export class SecretTable implements Iterable<SecretEntry> {
  private constructor(
    private readonly strings: readonly string[],
    private readonly namespaces: Uint32Array,
    private readonly types: Uint32Array,
    /** Entry i's name is `names[nameEnds[i - 1] .. nameEnds[i])` (from 0 for the first). */
    private readonly names: Buffer,
    private readonly nameEnds: Uint32Array,
    private readonly namesApart: ReadonlyMap<number, string>,
    private readonly digests: Buffer,
    private readonly segments: Uint32Array,
    /** 0: no `immutable` field, 1: false, 2: true. */
    private readonly immutable: Uint8Array,
  ) {}

  /** Builds the table of `entries` (exactly `count` of them). */
  static of(entries: Iterable<SecretEntry>, count: number): SecretTable {
    const ids = new Map<string, number>();
    const strings: string[] = [];
    const idOf = (text: string): number => {
      let id = ids.get(text);
      if (id === undefined) {
        id = strings.push(text) - 1;
        ids.set(text, id);
      }
      return id;
    };
    const namespaces = new Uint32Array(count);
    const types = new Uint32Array(count);
    const nameEnds = new Uint32Array(count);
    const namesApart = new Map<number, string>();
    const digests = Buffer.alloc(32 * count);
    const segments = new Uint32Array(count);
    const immutable = new Uint8Array(count);
    let names = Buffer.allocUnsafe(Math.max(1024, 24 * count));
    let used = 0;
    let i = 0;
    for (const e of entries) {
      if (i === count) throw new RangeError(`more than the ${count} Secret entries announced`);
      namespaces[i] = idOf(e.namespace);
      types[i] = idOf(e.type);
      if (Buffer.byteLength(e.name, 'utf8') === e.name.length) {
        if (used + e.name.length > names.length) {
          const bigger = Buffer.allocUnsafe(Math.max(2 * names.length, used + e.name.length));
          names.copy(bigger, 0, 0, used);
          names = bigger;
        }
        used += names.write(e.name, used, 'latin1');
      } else {
        namesApart.set(i, e.name);
      }
      nameEnds[i] = used;
      if (!/^[0-9a-f]{64}$/.test(e.dataSha256)) throw new RangeError(`Secret entry ${i}: dataSha256 is not 64 lowercase hex digits`);
      digests.write(e.dataSha256, 32 * i, 'hex');
      segments[i] = e.segment;
      immutable[i] = e.immutable === undefined ? 0 : e.immutable ? 2 : 1;
      i++;
    }
    if (i !== count) throw new RangeError(`${i} Secret entries, ${count} announced`);
    // Only the bytes used are kept (a copy: the spare room of the growing buffer is let go).
    const kept = Buffer.from(names.subarray(0, used));
    return new SecretTable(strings, namespaces, types, kept, nameEnds, namesApart, digests, segments, immutable);
  }

  get length(): number {
    return this.segments.length;
  }

  /** Entry `i` (0-based) as an object. */
  at(i: number): SecretEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`no Secret entry ${i} (${this.length} entries)`);
    const e: SecretEntry = {
      namespace: this.strings[this.namespaces[i]],
      name: this.nameAt(i),
      type: this.strings[this.types[i]],
      dataSha256: this.dataSha256At(i),
      segment: this.segments[i],
    };
    if (this.immutable[i] !== 0) e.immutable = this.immutable[i] === 2;
    return e;
  }

  /** Entry `i`'s namespace, without making the whole entry. */
  namespaceAt(i: number): string {
    return this.strings[this.namespaces[i]];
  }

  /** Entry `i`'s segment number (1-based), without making the whole entry. */
  segmentAt(i: number): number {
    return this.segments[i];
  }

  /** Entry `i`'s name, without making the whole entry. */
  nameAt(i: number): string {
    const end = this.nameEnds[i];
    const start = i === 0 ? 0 : this.nameEnds[i - 1];
    return this.namesApart.get(i) ?? this.names.toString('latin1', start, end);
  }

  /** Entry `i`'s data digest (hex), without making the whole entry. */
  dataSha256At(i: number): string {
    return this.digests.toString('hex', 32 * i, 32 * i + 32);
  }

  *[Symbol.iterator](): Iterator<SecretEntry> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

/**
 * Non-sensitive facts stored as object metadata on the index, so that listing backups,
 * freshness and shrink checks need no private key. Counts, sizes, times and key fingerprints
 * only: never Secret names or namespaces.
 */
export interface IndexMetadata {
  format: string;
  kind: BackupKind;
  createdAt: string;
  completedAt: string;
  secrets: number;
  segments: number;
  storedBytes: number;
  recipients: string[];
  signer?: string;
  toolVersion: string;
  compression: Compression;
}

const META_PREFIX = 'ss-';

export function toObjectMetadata(m: IndexMetadata): Record<string, string> {
  const out: Record<string, string> = {
    [`${META_PREFIX}format`]: m.format,
    [`${META_PREFIX}kind`]: m.kind,
    [`${META_PREFIX}created-at`]: m.createdAt,
    [`${META_PREFIX}completed-at`]: m.completedAt,
    [`${META_PREFIX}secrets`]: String(m.secrets),
    [`${META_PREFIX}segments`]: String(m.segments),
    [`${META_PREFIX}stored-bytes`]: String(m.storedBytes),
    [`${META_PREFIX}recipients`]: m.recipients.join(','),
    [`${META_PREFIX}tool-version`]: m.toolVersion,
    [`${META_PREFIX}compression`]: m.compression,
  };
  if (m.signer) out[`${META_PREFIX}signer`] = m.signer;
  return out;
}

/** Reads index metadata back; undefined when absent or not ours (e.g. a store that drops metadata). */
export function fromObjectMetadata(md: Record<string, string> | undefined): IndexMetadata | undefined {
  if (!md) return undefined;
  const get = (k: string) => md[`${META_PREFIX}${k}`] ?? md[`${META_PREFIX}${k}`.toLowerCase()];
  if (get('format') !== INDEX_FORMAT) return undefined;
  const num = (k: string) => {
    const n = Number(get(k));
    return Number.isFinite(n) ? n : 0;
  };
  return {
    format: INDEX_FORMAT,
    kind: get('kind') === 'pre-restore' ? 'pre-restore' : 'scheduled',
    createdAt: get('created-at') ?? '',
    completedAt: get('completed-at') ?? '',
    secrets: num('secrets'),
    segments: num('segments'),
    storedBytes: num('stored-bytes'),
    recipients: (get('recipients') ?? '').split(',').filter((x) => x !== ''),
    signer: get('signer') || undefined,
    toolVersion: get('tool-version') ?? '',
    compression: get('compression') === 'none' ? 'none' : 'gzip',
  };
}

/**
 * The index as JSON text, in pieces: exactly `JSON.stringify(index)`, but the `secrets` array
 * (one entry per Secret, the index's bulk) comes in chunks of about `chunkChars` characters,
 * so writing a 50,000-Secret index never holds its whole text, a Buffer copy of it and the
 * encrypted message at once.
 */
export function* indexJsonChunks(index: BackupIndex, chunkChars = 64 * 1024): Generator<string> {
  let out = '{';
  let first = true;
  for (const [key, value] of Object.entries(index)) {
    if (value === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    if (key !== 'secrets') {
      out += JSON.stringify(value);
      continue;
    }
    const entries = value as readonly SecretEntry[];
    out += '[';
    for (let i = 0; i < entries.length; i++) {
      out += (i === 0 ? '' : ',') + JSON.stringify(entries[i]);
      if (out.length >= chunkChars) {
        yield out;
        out = '';
      }
    }
    out += ']';
  }
  yield `${out}}`;
}
