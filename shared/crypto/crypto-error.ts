import { StewardError } from '../errors/index.js';

/**
 * Why an OpenPGP operation on a message failed.
 *
 * - `wrong-key`: none of the decryption keys given matches a recipient of the message (the
 *   message lists its recipients' key ids; the error names them and the keys given).
 * - `corrupt`: not an OpenPGP message, malformed or truncated packets, or the integrity check
 *   (MDC) failed: the bytes were changed or cut short after encryption.
 * - `unsupported`: a well-formed message this tool does not accept (for example one encrypted
 *   with a password rather than to a key).
 * - `key-unusable`: a key given for the operation cannot do it now (a recipient key expired or
 *   was revoked since it was loaded, a private key that is still locked).
 * - `failed`: anything else openpgp.js reported.
 */
export type CryptoErrorKind = 'wrong-key' | 'corrupt' | 'unsupported' | 'key-unusable' | 'failed';

/**
 * An OpenPGP encryption, decryption or signing step failed. The message names the operation
 * and the object (the label the caller passed, e.g. `segment 3 of backup 20261127T1100Z`) and
 * never contains plaintext, passphrases or key material; openpgp.js's own error is kept on
 * `cause`. Exit code 1: a bad or unreadable backup is a failed run, not a configuration error
 * (problems with the configured key files are {@link ConfigError}s, raised when they load).
 */
export class CryptoError extends StewardError {
  readonly kind: CryptoErrorKind;
  /** What was being encrypted, decrypted or signed, as the caller named it. */
  readonly label: string;

  constructor(kind: CryptoErrorKind, label: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.kind = kind;
    this.label = label;
  }
}
