import { type DecryptionKey, describeKey, type KeyInfo, type KeyWarning, type TrustedSignerKey } from '../crypto/index.js';

export interface KeyHealthInput {
  now: Date;
  /** Warn about keys expiring within this long. */
  warnWithinMs: number;
  /** Warnings from loading the recipient keys (--recipient-key), and problems that kept one from loading (expired, revoked). */
  recipientWarnings: readonly KeyWarning[];
  recipientProblems: readonly string[];
  /** Warnings from loading the report signing key. */
  signingWarnings: readonly KeyWarning[];
  decryptionKeys: readonly DecryptionKey[];
  trustedSigners: readonly TrustedSignerKey[];
  /** Fingerprints the drilled backup is encrypted to, when its index was read. */
  backupRecipients?: readonly string[];
  /**
   * Fingerprints of the public keys the backups are meant to be encrypted to (--recipient-key):
   * with the decryption keys, every recipient the drill expects.
   */
  expectedRecipients: readonly string[];
}

export interface KeyHealth {
  warnings: string[];
  details: {
    decryptionKeys: Array<{ fingerprint: string; expiresAt?: string; recipientOfBackup?: boolean }>;
    trustedSigners: Array<{ fingerprint: string; expiresAt?: string }>;
    /** Recipients of the backup for which no decryption key was given here (held elsewhere, or lost). */
    backupRecipientsWithoutKey?: string[];
    /**
     * Recipients of the backup that are neither a decryption key nor a --recipient-key given
     * here: someone the drill does not know of can read every Secret in the backup.
     */
    unexpectedBackupRecipients?: string[];
  };
  /**
   * The warning about {@link KeyHealth.details.unexpectedBackupRecipients}, when there are any
   * (kept apart from `warnings`, which are about expiry).
   */
  unexpectedRecipients?: string;
}

const DAY = 86_400_000;

/**
 * Key health: which of the keys involved expire soon (or have), so they are renewed before a
 * backup can no longer be written, signed or checked, and whether the backup is encrypted to a
 * key the drill did not expect (a recipient added to the backup keys is a reader of every later
 * backup). Only warnings here: an expired DECRYPTION key still decrypts what was encrypted to
 * it, which is why it is a warning too; the drill fails on an unexpected recipient only with
 * --strict-recipients.
 */
export function assessKeyHealth(i: KeyHealthInput): KeyHealth {
  const warnings = [
    ...i.recipientWarnings.map((w) => w.message),
    ...i.recipientProblems.map((p) => `recipient key problem: ${p}`),
    ...i.signingWarnings.map((w) => w.message),
  ];
  const judge = (role: string, k: KeyInfo) => {
    if (k.expiresAt === undefined) return;
    const left = k.expiresAt.getTime() - i.now.getTime();
    if (left <= 0) {
      warnings.push(
        `${role} key ${describeKey(k)} from ${k.file} expired on ${k.expiresAt.toISOString()}` +
          (role === 'decryption'
            ? '; it still decrypts backups made with it, but new backups should be encrypted to a current key'
            : '; extend it (gpg --quick-set-expire) or replace it'),
      );
    } else if (left <= i.warnWithinMs) {
      const days = Math.floor(left / DAY);
      warnings.push(
        `${role} key ${describeKey(k)} from ${k.file} expires on ${k.expiresAt.toISOString()} (in ${days} day${days === 1 ? '' : 's'}); extend it (gpg --quick-set-expire) or add a new key before then`,
      );
    }
  };
  for (const k of i.decryptionKeys) judge('decryption', k);
  for (const k of i.trustedSigners) judge('trusted signer', k);
  const ours = new Set(i.decryptionKeys.map((k) => k.fingerprint));
  const details: KeyHealth['details'] = {
    decryptionKeys: i.decryptionKeys.map((k) => ({
      fingerprint: k.fingerprint,
      ...(k.expiresAt ? { expiresAt: k.expiresAt.toISOString() } : {}),
      ...(i.backupRecipients ? { recipientOfBackup: i.backupRecipients.includes(k.fingerprint) } : {}),
    })),
    trustedSigners: i.trustedSigners.map((k) => ({
      fingerprint: k.fingerprint,
      ...(k.expiresAt ? { expiresAt: k.expiresAt.toISOString() } : {}),
    })),
  };
  if (i.backupRecipients === undefined) return { warnings, details };
  details.backupRecipientsWithoutKey = i.backupRecipients.filter((f) => !ours.has(f));
  const expected = new Set([...ours, ...i.expectedRecipients]);
  const unexpected = i.backupRecipients.filter((f) => !expected.has(f));
  details.unexpectedBackupRecipients = unexpected;
  if (unexpected.length === 0) return { warnings, details };
  const unexpectedRecipients =
    `the backup is encrypted to ${unexpected.length} key(s) this drill did not expect (${unexpected.join(', ')}): whoever holds ` +
    `${unexpected.length === 1 ? 'it' : 'them'} can read every Secret in it. If intended (an escrow key), give the public key with ` +
    '--recipient-key; if not, remove it from the backup keys, find who added it, and treat the Secrets in these backups as exposed';
  return { warnings, details, unexpectedRecipients };
}
