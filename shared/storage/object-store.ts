import type { Readable } from 'node:stream';

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
 * integrity, other) whose message names the operation and `location/key`, never credentials
 * or object bytes. `unreachable` maps to exit code 4 (a later run may succeed).
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

  /** Deletes keys (S3: DeleteObjects in batches of 1000), ignoring keys that do not exist. */
  delete(keys: readonly string[]): Promise<void>;

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
}

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
