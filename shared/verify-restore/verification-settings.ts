import { isBackupId } from '../backup/backup-layout.js';
import { sealTrustSettings } from '../backup/catalogue-settings.js';
import { customSetting, fileSetting, type SettingsOf, ValueError } from '../config/options.js';

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
  ...sealTrustSettings,
  allowUnsigned: customSetting({
    description:
      'Accept these backups although their index is unsigned or signed by a key not given with --trusted-signer-key (each reported as a warning naming the signer): backup ids, or all. Repeatable. Given without a value (the boolean form before 0.2.0), it means all. A signature by a trusted key that does not verify always fails, and a forged seal is never accepted.',
    valueName: 'ID|all',
    repeatable: true,
    bareValue: 'all',
    group: KEYS,
    parse: (raw: string) => {
      const v = raw.trim();
      if (v === 'all' || v === 'true') return 'all';
      if (v === 'false') return 'none';
      if (isBackupId(v)) return v;
      throw new ValueError('a backup id such as 20261127T031500Z-3f9a1c, or all');
    },
  }),
} as const;

export type VerificationKeySettings = SettingsOf<typeof verificationKeySettings>;
