import { type DecryptionKey, loadDecryptionKeys, loadTrustedSignerKeys, type TrustedSignerKey } from '../crypto/index.js';
import { ConfigError } from '../errors/index.js';
import { BackupVerificationError } from './verification-error.js';
import type { VerificationKeySettings } from './verification-settings.js';

/** The keys a backup is read and judged with. */
export interface VerificationKeys {
  decryptionKeys: DecryptionKey[];
  /** Keys trusted to sign an index: the scheduled and the pre-restore signers (the seal says which kind signed which). */
  trustedSigners: TrustedSignerKey[];
  /** Backups whose unsigned or untrusted index is accepted (with a warning): ids, or `all`. */
  allowUnsigned: ReadonlySet<string>;
}

/** True when `--allow-unsigned` covers backup `id`. */
export function unsignedAllowed(keys: Pick<VerificationKeys, 'allowUnsigned'>, id: string): boolean {
  return keys.allowUnsigned.has('all') || keys.allowUnsigned.has(id);
}

const DECRYPTION = '--decryption-key / SECRET_STEWARD_DECRYPTION_KEY';
const PASSPHRASE = '--decryption-key-passphrase-file / SECRET_STEWARD_DECRYPTION_KEY_PASSPHRASE_FILE';
const TRUSTED = '--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY';
const PRE_RESTORE = '--pre-restore-signer-key / SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY';

/**
 * Loads the decryption and trusted signer keys. A missing or unreadable file, a public key
 * given as decryption key and the like are configuration errors (exit 2). A WRONG PASSPHRASE is
 * different: the files are all there, but this site cannot open the backups with them, which is
 * exactly what a DR drill exists to find out. It is raised as a {@link BackupVerificationError}
 * (`key-locked`, exit 1) so that the drill reports it as a failed check.
 */
export async function loadVerificationKeys(s: Omit<VerificationKeySettings, 'rekeySignerKey'>): Promise<VerificationKeys> {
  const scheduled = await loadTrustedSignerKeys(s.trustedSignerKey, { setting: TRUSTED });
  const preRestore = await loadTrustedSignerKeys(s.preRestoreSignerKey, { setting: PRE_RESTORE });
  const trustedSigners = [...scheduled, ...preRestore.filter((k) => !scheduled.some((x) => x.fingerprint === k.fingerprint))];
  let decryptionKeys: DecryptionKey[];
  try {
    decryptionKeys = await loadDecryptionKeys(s.decryptionKey, s.decryptionKeyPassphraseFile, {
      setting: DECRYPTION,
      passphraseSetting: PASSPHRASE,
    });
  } catch (e) {
    if (e instanceof ConfigError && e.problems.length > 0 && e.problems.every((p) => /wrong passphrase/.test(p.message))) {
      throw new BackupVerificationError('key-locked', '', e.problems.map((p) => p.message).join('; '), { cause: e });
    }
    throw e;
  }
  return { decryptionKeys, trustedSigners, allowUnsigned: new Set(s.allowUnsigned.filter((v) => v !== 'none')) };
}
