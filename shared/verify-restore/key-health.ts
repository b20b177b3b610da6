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
}

export interface KeyHealth {
  warnings: string[];
  details: {
    decryptionKeys: Array<{ fingerprint: string; expiresAt?: string; recipientOfBackup?: boolean }>;
    trustedSigners: Array<{ fingerprint: string; expiresAt?: string }>;
    /** Recipients of the backup for which no decryption key was given here (held elsewhere, or lost). */
    backupRecipientsWithoutKey?: string[];
  };
}

const DAY = 86_400_000;

/**
 * Key health: which of the keys involved expire soon (or have), so they are renewed before a
 * backup can no longer be written, signed or checked. Only warnings: an expired DECRYPTION key
 * still decrypts what was encrypted to it, which is why it is a warning too.
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
  if (i.backupRecipients) details.backupRecipientsWithoutKey = i.backupRecipients.filter((f) => !ours.has(f));
  return { warnings, details };
}
