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
 * An index with its Secrets in a {@link SecretTable} instead of an array of objects: as a reader
 * keeps it once verified (built by `loadBackupIndex`, backup-index-schema.ts), and as the backup
 * writer holds it while it lists the cluster.
 */
export type LoadedIndex = Omit<BackupIndex, 'secrets'> & { secrets: SecretTable };

/** The columns of a {@link SecretTable}, each exactly as long as the table. */
interface SecretColumns {
  strings: readonly string[];
  namespaces: Uint32Array;
  types: Uint32Array;
  /** Entry i's name is `names[nameEnds[i - 1] .. nameEnds[i])` (from 0 for the first). */
  names: Buffer;
  nameEnds: Uint32Array;
  namesApart: ReadonlyMap<number, string>;
  digests: Buffer;
  segments: Uint32Array;
  /** 0: no `immutable` field, 1: false, 2: true. */
  immutable: Uint8Array;
}

/**
 * The Secrets of an index, in index order, in a few typed arrays rather than one object per
 * Secret: namespace and type as numbers into one table of distinct strings, names as ASCII
 * bytes in one buffer (a name that is not ASCII is kept as its string, so every name reads back
 * exactly), the data digest as its 32 raw bytes, the segment number and the immutable flag.
 * About 70 bytes a Secret where the parsed objects took about 250, however many there are.
 * {@link at} and iteration give each entry back as a {@link SecretEntry}, made on demand.
 * Built with {@link SecretTableBuilder} (or {@link of}).
 */
export class SecretTable implements Iterable<SecretEntry> {
  private constructor(private readonly c: SecretColumns) {}

  /** For {@link SecretTableBuilder}: a table over columns it no longer writes to. */
  static fromColumns(columns: SecretColumns): SecretTable {
    return new SecretTable(columns);
  }

  /** Builds the table of `entries` (exactly `count` of them). */
  static of(entries: Iterable<SecretEntry>, count: number): SecretTable {
    const b = new SecretTableBuilder(count);
    for (const e of entries) {
      if (b.length === count) throw new RangeError(`more than the ${count} Secret entries announced`);
      b.add(e);
    }
    if (b.length !== count) throw new RangeError(`${b.length} Secret entries, ${count} announced`);
    return b.build();
  }

  get length(): number {
    return this.c.segments.length;
  }

  /** Entry `i` (0-based) as an object. */
  at(i: number): SecretEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`no Secret entry ${i} (${this.length} entries)`);
    const e: SecretEntry = {
      namespace: this.c.strings[this.c.namespaces[i]],
      name: this.nameAt(i),
      type: this.c.strings[this.c.types[i]],
      dataSha256: this.dataSha256At(i),
      segment: this.c.segments[i],
    };
    if (this.c.immutable[i] !== 0) e.immutable = this.c.immutable[i] === 2;
    return e;
  }

  /** Entry `i`'s namespace, without making the whole entry. */
  namespaceAt(i: number): string {
    return this.c.strings[this.c.namespaces[i]];
  }

  /** Entry `i`'s segment number (1-based), without making the whole entry. */
  segmentAt(i: number): number {
    return this.c.segments[i];
  }

  /** Entry `i`'s name, without making the whole entry. */
  nameAt(i: number): string {
    const end = this.c.nameEnds[i];
    const start = i === 0 ? 0 : this.c.nameEnds[i - 1];
    return this.c.namesApart.get(i) ?? this.c.names.toString('latin1', start, end);
  }

  /** Entry `i`'s data digest (hex), without making the whole entry. */
  dataSha256At(i: number): string {
    return this.c.digests.toString('hex', 32 * i, 32 * i + 32);
  }

  *[Symbol.iterator](): Iterator<SecretEntry> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

/**
 * Builds a {@link SecretTable} one entry at a time, for a reader that knows the count and for
 * the backup writer, which does not: its columns double as they fill.
 */
export class SecretTableBuilder {
  private readonly ids = new Map<string, number>();
  private readonly strings: string[] = [];
  private readonly namesApart = new Map<number, string>();
  private namespaces: Uint32Array;
  private types: Uint32Array;
  private nameEnds: Uint32Array;
  private segments: Uint32Array;
  private immutable: Uint8Array;
  private digests: Buffer;
  private names: Buffer;
  private count = 0;
  private used = 0;

  /** @param capacity entries to make room for at first (more are taken all the same). */
  constructor(capacity = 1024) {
    const n = Math.max(1, capacity);
    this.namespaces = new Uint32Array(n);
    this.types = new Uint32Array(n);
    this.nameEnds = new Uint32Array(n);
    this.segments = new Uint32Array(n);
    this.immutable = new Uint8Array(n);
    this.digests = Buffer.alloc(32 * n);
    this.names = Buffer.allocUnsafe(Math.max(1024, 24 * n));
  }

  get length(): number {
    return this.count;
  }

  /** Appends one entry; a digest that is not 64 lowercase hex digits is refused. */
  add(e: SecretEntry): void {
    const i = this.count;
    if (!/^[0-9a-f]{64}$/.test(e.dataSha256)) throw new RangeError(`Secret entry ${i}: dataSha256 is not 64 lowercase hex digits`);
    if (i === this.segments.length) this.grow();
    this.namespaces[i] = this.idOf(e.namespace);
    this.types[i] = this.idOf(e.type);
    if (Buffer.byteLength(e.name, 'utf8') === e.name.length) {
      if (this.used + e.name.length > this.names.length) {
        const bigger = Buffer.allocUnsafe(Math.max(2 * this.names.length, this.used + e.name.length));
        this.names.copy(bigger, 0, 0, this.used);
        this.names = bigger;
      }
      this.used += this.names.write(e.name, this.used, 'latin1');
    } else {
      this.namesApart.set(i, e.name);
    }
    this.nameEnds[i] = this.used;
    this.digests.write(e.dataSha256, 32 * i, 'hex');
    this.segments[i] = e.segment;
    this.immutable[i] = e.immutable === undefined ? 0 : e.immutable ? 2 : 1;
    this.count++;
  }

  /** The table of the entries added so far (copies of the columns, exactly that long). */
  build(): SecretTable {
    const n = this.count;
    return SecretTable.fromColumns({
      strings: [...this.strings],
      namespaces: this.namespaces.slice(0, n),
      types: this.types.slice(0, n),
      names: Buffer.from(this.names.subarray(0, this.used)),
      nameEnds: this.nameEnds.slice(0, n),
      namesApart: new Map(this.namesApart),
      digests: Buffer.from(this.digests.subarray(0, 32 * n)),
      segments: this.segments.slice(0, n),
      immutable: this.immutable.slice(0, n),
    });
  }

  private idOf(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.strings.push(text) - 1;
      this.ids.set(text, id);
    }
    return id;
  }

  private grow(): void {
    const n = 2 * this.segments.length;
    const widen = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.namespaces = widen(this.namespaces, (k) => new Uint32Array(k));
    this.types = widen(this.types, (k) => new Uint32Array(k));
    this.nameEnds = widen(this.nameEnds, (k) => new Uint32Array(k));
    this.segments = widen(this.segments, (k) => new Uint32Array(k));
    this.immutable = widen(this.immutable, (k) => new Uint8Array(k));
    const digests = Buffer.alloc(32 * n);
    this.digests.copy(digests);
    this.digests = digests;
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
 * The index as JSON text, in pieces: exactly `JSON.stringify(index)` with its Secrets as an
 * array (from an array or a {@link SecretTable}), but that array (one entry per Secret, the
 * index's bulk) comes in chunks of about `chunkChars` characters,
 * so writing a 50,000-Secret index never holds its whole text, a Buffer copy of it and the
 * encrypted message at once.
 */
export function* indexJsonChunks(index: BackupIndex | LoadedIndex, chunkChars = 64 * 1024): Generator<string> {
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
    out += '[';
    let i = 0;
    for (const entry of value as Iterable<SecretEntry>) {
      out += (i++ === 0 ? '' : ',') + JSON.stringify(entry);
      if (out.length >= chunkChars) {
        yield out;
        out = '';
      }
    }
    out += ']';
  }
  yield `${out}}`;
}
