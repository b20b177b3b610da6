import { StewardError } from '../errors/index.js';

/**
 * What made a backup fail verification. Each kind has its own message (see the reader), so
 * that an operator or an auditor reads what happened, not just "verification failed":
 *
 * - `no-index`: the backup has no index (incomplete, deleted, or a wrong id).
 * - `not-authenticated`: its seal is forged, of another cluster, dated in the future, or its
 *   objects differ from what it seals; or no authenticated backup could be chosen as latest.
 * - `index-unreadable`: the index cannot be decrypted (wrong key, damaged) or is malformed.
 * - `index-swapped`: the index is that of another backup or cluster.
 * - `unsigned` / `untrusted` / `bad-signature`: who wrote the index cannot be proven.
 * - `index-inconsistent`: counts, names or references inside the index do not add up.
 * - `segment-missing` / `segment-truncated` / `segment-extended` / `segment-damaged` /
 *   `segment-swapped`: the stored bytes of a segment differ from what the index records.
 * - `segment-unreadable`: a segment that matches its digest still does not decrypt,
 *   decompress or parse (wrong key, or a writer bug).
 * - `segment-content`: a segment's Secrets do not match the index (count, order or hashes).
 * - `key-locked`: a decryption key cannot be unlocked (wrong passphrase).
 */
export type VerificationErrorKind =
  | 'no-index'
  | 'not-authenticated'
  | 'index-unreadable'
  | 'index-swapped'
  | 'unsigned'
  | 'untrusted'
  | 'bad-signature'
  | 'index-inconsistent'
  | 'segment-missing'
  | 'segment-truncated'
  | 'segment-extended'
  | 'segment-damaged'
  | 'segment-swapped'
  | 'segment-unreadable'
  | 'segment-content'
  | 'key-locked';

/**
 * A backup (or the keys given to read it) failed verification. Exit code 1: the backup cannot
 * be trusted or restored as it is, which is a failed check, not a configuration error. The
 * message names the backup and the object (`segment-00002.json.gz.pgp of backup ...`) and
 * never contains Secret data.
 */
export class BackupVerificationError extends StewardError {
  readonly kind: VerificationErrorKind;
  readonly backupId: string;
  /** 1-based segment number, for segment-level failures. */
  readonly segment?: number;

  constructor(kind: VerificationErrorKind, backupId: string, message: string, opts: { segment?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.kind = kind;
    this.backupId = backupId;
    this.segment = opts.segment;
  }
}

export function isVerificationError(e: unknown): e is BackupVerificationError {
  return e instanceof BackupVerificationError;
}
