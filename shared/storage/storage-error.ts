import { ExitCode } from '../errors/exit-codes.js';
import { StewardError } from '../errors/index.js';

/**
 * What went wrong with the object store, as far as the caller needs to decide:
 * - `not-found`: the object (or bucket) does not exist; a missing bucket (code `NoSuchBucket`)
 *   is a configuration error (exit code 2: `--store` names a bucket that is not there);
 * - `access-denied`: credentials missing, rejected or lacking permission (fix IAM / the
 *   credentials; retrying cannot help);
 * - `unreachable`: network failure, timeout, throttling or a 5xx that outlasted the retries
 *   (exit code 4: a later run may succeed);
 * - `too-large`: the object exceeds a limit (getBytes' maxBytes, 10000 parts);
 * - `integrity`: the store reported that the bytes did not arrive intact (BadDigest,
 *   checksum mismatch);
 * - `other`: anything else the store refused (bad request, invalid key or metadata, ...).
 */
export type StorageErrorKind = 'not-found' | 'access-denied' | 'unreachable' | 'too-large' | 'integrity' | 'other';

/**
 * A failed object-store operation. The message names the operation and the object
 * (`failed to put s3://bucket/prefix/key: UploadPart 3: 500 InternalError after 3 attempts`)
 * and never credentials, request signatures or object bytes; that is why the SDK error is
 * summarised into `status`/`code` instead of being kept as `cause`.
 */
export class StorageError extends StewardError {
  readonly kind: StorageErrorKind;
  /** Our operation: put, get, getBytes, head, list, listPrefixes, delete, digest. */
  readonly operation: string;
  /** `s3://bucket/prefix/key` or `file:///dir/key` (no credentials). */
  readonly location: string;
  /** HTTP status from the store, when one answered. */
  readonly status?: number;
  /** The store's error code (`NoSuchKey`, `SlowDown`) or the network error code (`ECONNREFUSED`). */
  readonly code?: string;
  /** What went wrong, without the "failed to <operation> <location>: " head. */
  readonly detail: string;

  constructor(init: {
    kind: StorageErrorKind;
    operation: string;
    location: string;
    detail: string;
    status?: number;
    code?: string;
    cause?: unknown;
  }) {
    super(`failed to ${init.operation} ${init.location}: ${init.detail}`, {
      exitCode: init.kind === 'unreachable' ? ExitCode.Transient : init.code === 'NoSuchBucket' ? ExitCode.Config : ExitCode.Failed,
      cause: init.cause,
    });
    this.kind = init.kind;
    this.operation = init.operation;
    this.location = init.location;
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
  }

  /** An object larger than a reader accepts (`size` when known before reading). */
  static tooLarge(operation: string, location: string, maxBytes: number, size?: number): StorageError {
    return new StorageError({
      kind: 'too-large',
      operation,
      location,
      detail: `the object is ${size === undefined ? 'larger than' : `${size} bytes, more than`} the ${maxBytes} bytes allowed here`,
    });
  }
}

/** True for `StorageError`s, optionally of one kind; handy in catch blocks. */
export function isStorageError(e: unknown, kind?: StorageErrorKind): e is StorageError {
  return e instanceof StorageError && (kind === undefined || e.kind === kind);
}
