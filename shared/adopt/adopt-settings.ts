import { backupIdSelectionSetting, clusterSetting } from '../backup/backup-settings.js';
import { booleanSetting, fileSetting, type SettingsOf } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { logSettings } from '../log/log-settings.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { verificationKeySettings } from '../verify-restore/verification-settings.js';

const SEAL = 'Sealing keys';

/**
 * `secret-steward adopt` settings: what reads and verifies a backup made before seals existed
 * (as for restore), and the private keys that seal it, one per kind.
 */
export const adoptSettings = {
  ...clusterSetting,
  ...storeSettings,
  ...verificationKeySettings,
  signingKey: fileSetting({
    description:
      "The backup job's private signing key: seals the scheduled backups adopted (their index must already be signed by a --trusted-signer-key). Its public half must be a --trusted-signer-key too, or adopt refuses to start.",
    group: SEAL,
  }),
  signingKeyPassphraseFile: fileSetting({ description: 'File holding the signing key passphrase.', group: SEAL }),
  preRestoreSigningKey: fileSetting({
    description:
      "The restore job's private pre-restore signing key: seals the pre-restore backups adopted. Its public half must be a --pre-restore-signer-key, or adopt refuses to start.",
    group: SEAL,
  }),
  preRestoreSigningKeyPassphraseFile: fileSetting({ description: 'File holding the pre-restore signing key passphrase.', group: SEAL }),
  backup: backupIdSelectionSetting(
    'Adopt only these backups (default: every backup under the cluster that has an index and no seal). Repeatable.',
  ),
  dryRun: booleanSetting({
    description: 'Verify every candidate and print what would be sealed; write nothing.',
    default: false,
    group: 'Safety',
  }),
  output: outputSetting({ description: 'Output format on stdout.', wide: false }),
  ...kubeSettings,
  ...lockSettings,
  ...logSettings,
} as const;

export type AdoptSettings = SettingsOf<typeof adoptSettings>;

export function validateAdoptSettings(s: AdoptSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  if (!s.dryRun && s.signingKey === undefined && s.preRestoreSigningKey === undefined) {
    problems.push(
      problemFor(adoptSettings, 'signingKey', 'give --signing-key, --pre-restore-signing-key or both: they seal what is adopted'),
    );
  }
  if (s.trustedSignerKey.length === 0) {
    problems.push(problemFor(adoptSettings, 'trustedSignerKey', 'is required: a backup is adopted only when its index signature verifies'));
  }
  if (s.signingKeyPassphraseFile !== undefined && s.signingKey === undefined) {
    problems.push(problemFor(adoptSettings, 'signingKeyPassphraseFile', 'needs --signing-key'));
  }
  if (s.preRestoreSigningKeyPassphraseFile !== undefined && s.preRestoreSigningKey === undefined) {
    problems.push(problemFor(adoptSettings, 'preRestoreSigningKeyPassphraseFile', 'needs --pre-restore-signing-key'));
  }
  return problems;
}
