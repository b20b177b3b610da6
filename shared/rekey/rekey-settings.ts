import { backupIdSelectionSetting, clusterSetting } from '../backup/backup-settings.js';
import { booleanSetting, durationSetting, fileSetting, type SettingsOf } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { logSettings, progressSettings } from '../log/log-settings.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { verificationKeySettings } from '../verify-restore/verification-settings.js';

const KEYS = 'Rekey keys';

/** `secret-steward rekey` settings: the store, the old decryption key(s), the new recipients and rekey's own signing key. */
export const rekeySettings = {
  ...clusterSetting,
  ...storeSettings,
  ...verificationKeySettings,
  recipientKey: fileSetting({
    description:
      "Armored OpenPGP public key file of the CURRENT recipient set (the backup job's --recipient-key files): every retained backup is re-encrypted to exactly these. Repeatable.",
    repeatable: true,
    required: true,
    group: KEYS,
  }),
  rekeySigningKey: fileSetting({
    description:
      "Armored OpenPGP private key that signs rekey seals, and nothing else: a rekey seal only says where a backup's re-encrypted copy is stored (docs/rekey.md). Never the backup job's --signing-key. Its public half is what the other commands trust with --rekey-signer-key; when this job is given --rekey-signer-key, its public half must be one of them, or rekey refuses to start (given none, it trusts its own key).",
    required: true,
    group: KEYS,
  }),
  rekeySigningKeyPassphraseFile: fileSetting({ description: 'File holding the rekey signing key passphrase.', group: KEYS }),
  keyExpiryWarning: durationSetting({
    description: 'Warn (log) about keys expiring within this long.',
    default: 30 * 86_400_000,
    group: KEYS,
  }),
  only: backupIdSelectionSetting(
    'Rekey only this backup (repeatable; default: every retained backup not yet encrypted to the current recipients).',
  ),
  dryRun: booleanSetting({
    description: 'List which backups would be re-encrypted (and to whom they are encrypted now); write and delete nothing.',
    default: false,
    group: 'Safety',
  }),
  output: outputSetting({ description: 'Output format on stdout.', wide: false }),
  ...progressSettings,
  ...kubeSettings,
  ...lockSettings,
  ...logSettings,
} as const;

export type RekeySettings = SettingsOf<typeof rekeySettings>;

export function validateRekeySettings(s: RekeySettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  if (s.trustedSignerKey.length === 0) {
    problems.push(
      problemFor(
        rekeySettings,
        'trustedSignerKey',
        "is required: a backup is re-encrypted only after its seal and index verify against the backup job's key (give the public half of its --signing-key)",
      ),
    );
  }
  return problems;
}
