import type { Readable } from 'node:stream';
import type { LockDetails, StorageError } from './storage-error.js';

/**
 * The seam between secret-steward and the bucket (or directory) that holds backups. Backup,
 * verify-restore, restore, prune and status see only this interface; `S3ObjectStore` and
 * `FileObjectStore` implement it with the same semantics, checked by one contract test suite.
 *
 * Keys are relative to the store root (`s3://bucket/prefix` or `file:///dir`) and use `/` as
 * separator. A key is non-empty, has no leading or trailing `/`, no empty, `.` or `..`
 * segment, no control character or backslash, and no segment starting with `.~` (reserved for
 * the file store's temp files and sidecars): see `object-rules.ts`. A bad key is rejected with
 * a `StorageError` before anything is sent.
 *
 * Every failure is a `StorageError` (kinds not-found, access-denied, unreachable, too-large,
 * integrity, locked, other) whose message names the operation and `location/key`, never
 * credentials or object bytes. `unreachable` maps to exit code 4 (a later run may succeed).
 *
 * Object versions and Object Lock ({@link listVersions}, {@link deleteObjects},
 * {@link lockStatus}) follow S3: on a bucket without versioning, and on the file store, every
 * object is one version with id `'null'` and nothing is ever locked.
 */
export interface ObjectStore {
  /** Human description without credentials: `s3://bucket/prefix` or `file:///dir`. */
  readonly location: string;

  /**
   * Streams `body` to `key`, replacing any object there. Bodies larger than the part size go
   * as a multipart upload; memory stays bounded by one part buffer (S3: `--s3-part-size`,
   * default 16 MiB) whatever the body's size. The object appears at `key` only complete: on
   * ANY failure (a part upload, the body stream erroring, completion) the multipart upload
   * is aborted, nothing new is at the final key and no parts are left behind (the file store
   * writes a temp file and renames it). A body stream is consumed and, on failure, destroyed.
   * When the body stream itself fails, put rejects with the body's own error (after cleaning
   * up); every failure of the store is a `StorageError`.
   *
   * Returns the size and SHA-256 of the bytes sent. This is not proof that the store kept
   * them: verify with {@link ObjectStore.digest} (read-back) where it matters.
   *
   * `metadata` is stored as S3 user metadata (`x-amz-meta-*`): lowercase keys, printable
   * ASCII values, 2 KiB in all, and NEVER sensitive (bucket listings and access logs show it).
   *
   * @example
   * const { sha256 } = await store.put('backups/2024-05-01T020000Z/secrets.pgp', encrypted,
   *   { metadata: { 'secret-count': '42' }, contentType: 'application/pgp-encrypted' });
   */
  put(key: string, body: Readable | Uint8Array, opts?: PutOptions): Promise<PutResult>;

  /** Streams an object; rejects with a `StorageError` of kind `not-found` if it is absent. */
  get(key: string): Promise<Readable>;

  /**
   * Reads a small object (a manifest, a status file) fully into memory. Refuses with a
   * `StorageError` of kind `too-large`, before reading it, when the object is larger than
   * `maxBytes`.
   * @default maxBytes 8 MiB ({@link DEFAULT_GET_BYTES_LIMIT})
   */
  getBytes(key: string, maxBytes?: number): Promise<Buffer>;

  /**
   * Size, lastModified and user metadata of an object, or `undefined` when it is absent.
   * (S3 answers a HEAD on a missing bucket with a bare 404 too: that is also `undefined`.)
   */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Lists every object whose key starts with `prefix` (relative to the store root; `''` for
   * all), page by page (the whole listing is never held in memory), in lexicographic order
   * of the keys' UTF-8 bytes (S3's order). `metadata` is not filled in (S3 listings lack it;
   * use {@link ObjectStore.head}).
   *
   * @example
   * for await (const o of store.list('backups/2024-05-01T020000Z/')) console.log(o.key, o.size);
   */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /**
   * Lists the immediate "sub-directories" under `prefix` (S3 CommonPrefixes with delimiter
   * `/`), in lexicographic order, each as the full prefix relative to the store root ending
   * with `/`. Give a `prefix` that ends with `/` (or `''` for the root).
   *
   * @example
   * // objects backups/a/x, backups/a/y, backups/b/z/1, backups/top
   * listPrefixes('backups/') // -> 'backups/a/', 'backups/b/'
   */
  listPrefixes(prefix: string): AsyncIterable<string>;

  /**
   * Deletes keys (S3: DeleteObjects in batches of 1000), ignoring keys that do not exist. Throws
   * on the first batch with a key the store refused: a `StorageError` of kind `locked` (with
   * `retainUntil` when the store told it) when an Object Lock refused it. On a versioned bucket
   * this only adds delete markers (nothing is refused, nothing is freed): delete versions with
   * {@link deleteObjects}.
   */
  delete(keys: readonly string[]): Promise<void>;

  /**
   * Every version and delete marker whose key starts with `prefix`, page by page, by key in S3
   * order and, within a key, newest first. On a bucket without versioning (and the file store)
   * each object is one version, id `'null'`, latest. (s3rver does not implement versions: it
   * answers 405 MethodNotAllowed.)
   *
   * @example
   * for await (const v of store.listVersions('prod/backups/20240501T020000Z-3f9a1c/')) console.log(v.key, v.versionId, v.isLatest);
   */
  listVersions(prefix: string): AsyncIterable<ObjectVersion>;

  /**
   * Deletes objects or object versions and reports each one, in the order given: `deleted`, or
   * `kept` with the `StorageError` that says why (kind `locked` with `retainUntil`/`lockMode`
   * or `legalHold` when an Object Lock refused; `access-denied`; ...). Unlike {@link delete} it
   * does not throw for refused keys, so a caller (retention) can tell deleted from kept; it
   * throws only when a whole request failed (`unreachable`, a bad key).
   *
   * A target without `versionId` on a versioned bucket is not refused by a lock: the store adds
   * a delete marker (`deleteMarker: true`) and the data stays. A GOVERNANCE retention yields
   * only to `bypassGovernanceRetention` (never sent otherwise) and the permission
   * `s3:BypassGovernanceRetention`; COMPLIANCE yields to nothing until it expires.
   *
   * @example
   * const outcomes = await store.deleteObjects(versions.map((v) => ({ key: v.key, versionId: v.versionId })));
   * const kept = outcomes.filter((o) => o.status === 'kept'); // o.error.kind === 'locked', o.error.retainUntil
   */
  deleteObjects(targets: readonly DeleteTarget[], opts?: DeleteOptions): Promise<DeleteOutcome[]>;

  /**
   * The Object Lock on an object (the latest version, or `versionId`): its retention mode and
   * retain-until date, and whether a legal hold is on; `{}` when it exists unlocked;
   * `undefined` when it does not exist.
   */
  lockStatus(key: string, versionId?: string): Promise<LockDetails | undefined>;

  /**
   * What the store was asked to do and did not confirm, so far: distinct messages that name the
   * store and the setting (e.g. `--s3-sse AES256` accepted without any sign of server-side
   * encryption, or an Object Lock retention not applied). Each is also logged once as a warning;
   * a job adds them to its result so that no report claims what the store does not do.
   */
  warnings(): readonly string[];

  /** Reads an object back, streaming, and returns its size and SHA-256 (read-back verification). */
  digest(key: string): Promise<ObjectDigest>;

  /**
   * Removes what unfinished uploads under `prefix` left behind: S3 aborts every open multipart
   * upload whose key starts with `prefix` (their parts are invisible to listings but stored and
   * billed); the file store deletes its temp files there. These are the remains of a writer
   * killed before it could clean up ({@link put} cleans up after itself otherwise): call it only
   * where no live writer can be uploading. Returns how many were removed.
   */
  abortUploads(prefix: string): Promise<number>;
}

export interface PutOptions {
  /** S3 user metadata; non-sensitive only (see {@link ObjectStore.put}). */
  metadata?: Record<string, string>;
  /** @default 'application/octet-stream' */
  contentType?: string;
}

export interface ObjectInfo {
  /** Relative to the store root. */
  key: string;
  size: number;
  lastModified: Date;
  /** User metadata (lowercase keys); only from {@link ObjectStore.head}. */
  metadata?: Record<string, string>;
  /**
   * The store's entity tag, without quotes (S3 only; from {@link ObjectStore.head}): the MD5 of
   * the bytes for a simple upload, `<md5 of the parts' MD5s>-<parts>` for a multipart one.
   */
  etag?: string;
  /** The version read (S3 only; from {@link ObjectStore.head}): `'null'` or absent without versioning. */
  versionId?: string;
}

/** One version of an object, or a delete marker, from {@link ObjectStore.listVersions}. */
export interface ObjectVersion {
  /** Relative to the store root. */
  key: string;
  /** `'null'` for an object written while the bucket had no versioning. */
  versionId: string;
  /** The current version of its key (a delete marker can be: the key then reads as absent). */
  isLatest: boolean;
  /** A delete marker, not data. */
  deleteMarker: boolean;
  /** 0 for a delete marker. */
  size: number;
  lastModified: Date;
}

/** What {@link ObjectStore.deleteObjects} deletes: a key (its current version) or one version. */
export interface DeleteTarget {
  key: string;
  versionId?: string;
}

export interface DeleteOptions {
  /**
   * Send `x-amz-bypass-governance-retention`: delete versions under GOVERNANCE retention (the
   * caller needs `s3:BypassGovernanceRetention`). Never sent unless set.
   * @default false
   */
  bypassGovernanceRetention?: boolean;
}

/** What became of one {@link DeleteTarget}. */
export type DeleteOutcome = DeleteTarget &
  (
    | {
        status: 'deleted';
        /** A delete marker was added (a target without version on a versioned bucket) or removed. */
        deleteMarker?: boolean;
        /** The delete marker's version id. */
        deleteMarkerVersionId?: string;
      }
    | { status: 'kept'; error: StorageError }
  );

export interface PutResult {
  key: string;
  size: number;
  /** Lowercase hex SHA-256 of the bytes sent. */
  sha256: string;
}

export interface ObjectDigest {
  size: number;
  /** Lowercase hex SHA-256 of the bytes read back. */
  sha256: string;
}

/** Default `maxBytes` of {@link ObjectStore.getBytes}: 8 MiB. */
export const DEFAULT_GET_BYTES_LIMIT = 8 * 1024 * 1024;
