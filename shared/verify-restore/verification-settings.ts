import { isBackupId } from '../backup/backup-layout.js';
import { booleanSetting, customSetting, fileSetting, type SettingsOf, ValueError } from '../config/options.js';

const KEYS = 'Verification keys';

/** `--backup latest|ID`: which backup a drill or a restore reads. */
export const backupChoiceSetting = {
  backup: customSetting({
    description:
      'The backup to use: latest (the newest complete scheduled backup; automatic pre-restore backups are never "latest") or a backup id as listed by list-backups, e.g. 20261127T031500Z-3f9a1c.',
    valueName: 'latest|ID',
    default: 'latest',
    group: 'Backup',
    parse: (raw: string) => {
      const v = raw.trim();
      if (v === 'latest' || isBackupId(v)) return v;
      throw new ValueError('latest or a backup id such as 20261127T031500Z-3f9a1c');
    },
  }),
} as const;

/**
 * The keys that read and verify a backup. Shared by verify-restore and restore, which run the
 * same checks before they trust a single byte of a backup.
 */
export const verificationKeySettings = {
  decryptionKey: fileSetting({
    description:
      'Armored OpenPGP PRIVATE key that decrypts the backups (several allowed, e.g. the current key and the one it replaced). Expired keys still decrypt old backups.',
    repeatable: true,
    required: true,
    group: KEYS,
  }),
  decryptionKeyPassphraseFile: fileSetting({
    description:
      'File holding the passphrase of the decryption key(s). A wrong passphrase fails the run with exit 1: the backup cannot be read with what this site holds.',
    group: KEYS,
  }),
  trustedSignerKey: fileSetting({
    description:
      "Armored OpenPGP public key whose signature on a backup index is trusted (the public half of the backup job's --signing-key). Repeatable. A backup that is unsigned, or signed by any other key, fails verification unless --allow-unsigned.",
    repeatable: true,
    group: KEYS,
  }),
  allowUnsigned: booleanSetting({
    description:
      'Accept a backup whose index is unsigned or signed by a key not given with --trusted-signer-key (reported as a warning). A signature by a trusted key that does not verify always fails.',
    default: false,
    group: KEYS,
  }),
} as const;

export type VerificationKeySettings = SettingsOf<typeof verificationKeySettings>;
