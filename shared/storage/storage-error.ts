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
 * - `locked`: an Object Lock refused to delete the object version: a retention period
 *   (`retainUntil`, `lockMode`) or a legal hold (`legalHold`). COMPLIANCE holds for everyone
 *   until it expires; GOVERNANCE yields only to a caller allowed to bypass it who asks to;
 * - `other`: anything else the store refused (bad request, invalid key or metadata, ...).
 */
export type StorageErrorKind = 'not-found' | 'access-denied' | 'unreachable' | 'too-large' | 'integrity' | 'locked' | 'other';

/** What an Object Lock holds on one object version (see {@link ObjectStore.lockStatus}). */
export interface LockDetails {
  /** The retention mode, when a retention period is set. */
  lockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  /** End of the retention period, when one is set (it may lie in the past: expired). */
  retainUntil?: Date;
  /** A legal hold is on (it has no end date: someone must lift it). */
  legalHold?: boolean;
}

/**
 * A failed object-store operation. The message names the operation and the object
 * (`failed to put s3://bucket/prefix/key: UploadPart 3: 500 InternalError after 3 attempts`)
 * and never credentials, request signatures or object bytes; that is why the SDK error is
 * summarised into `status`/`code` instead of being kept as `cause`.
 */
export class StorageError extends StewardError {
  readonly kind: StorageErrorKind;
  /** Our operation: put, get, getBytes, head, list, listPrefixes, listVersions, delete, deleteObjects, lockStatus, digest, abortUploads. */
  readonly operation: string;
  /** `s3://bucket/prefix/key` or `file:///dir/key` (no credentials). */
  readonly location: string;
  /** HTTP status from the store, when one answered. */
  readonly status?: number;
  /** The store's error code (`NoSuchKey`, `SlowDown`) or the network error code (`ECONNREFUSED`). */
  readonly code?: string;
  /** What went wrong, without the "failed to <operation> <location>: " head. */
  readonly detail: string;
  /** Kind `locked`: the lock's mode, when the store said. */
  readonly lockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  /** Kind `locked`: when the retention period ends, when the store said. */
  readonly retainUntil?: Date;
  /** Kind `locked`: a legal hold is on. */
  readonly legalHold?: boolean;

  constructor(
    init: {
      kind: StorageErrorKind;
      operation: string;
      location: string;
      detail: string;
      status?: number;
      code?: string;
      cause?: unknown;
    } & LockDetails,
  ) {
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
    if (init.lockMode !== undefined) this.lockMode = init.lockMode;
    if (init.retainUntil !== undefined) this.retainUntil = init.retainUntil;
    if (init.legalHold !== undefined) this.legalHold = init.legalHold;
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
