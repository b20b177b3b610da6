import { clusterSetting } from '../backup/backup-settings.js';
import { sealTrustSettings } from '../backup/catalogue-settings.js';
import { durationSetting, type SettingsOf, settingLabel, stringSetting } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { allNamespacesProblems, allNamespacesSetting } from '../kube/scope.js';
import { logSettings } from '../log/log-settings.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { verificationKeySettings } from '../verify-restore/verification-settings.js';

const AGE = 'Age';

/**
 * `secret-steward secret-age` settings: the store and the keys that open a backup's index (as for
 * verify-restore, without --allow-unsigned: only sealed backups count), the threshold, and which
 * namespaces to report. No label selector: the index records namespace, name and type only.
 */
export const secretAgeSettings = {
  ...clusterSetting,
  ...storeSettings,
  decryptionKey: verificationKeySettings.decryptionKey,
  decryptionKeyPassphraseFile: verificationKeySettings.decryptionKeyPassphraseFile,
  ...sealTrustSettings,
  maxUnchanged: durationSetting({
    description:
      'Flag a Secret whose data has not changed for longer than this (judged from the oldest retained backup holding its current data, so never flagged too early); exit 1 when any is flagged. Applies to every backed-up Secret, with or without a rotation policy.',
    default: 90 * 86_400_000,
    group: AGE,
  }),
  namespace: stringSetting({
    short: 'n',
    description: 'Report only Secrets of this namespace (repeatable). Default: every namespace the newest backup holds.',
    valueName: 'NAMESPACE',
    repeatable: true,
    group: AGE,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    expected: 'a namespace name',
  }),
  allNamespaces: allNamespacesSetting(AGE),
  output: outputSetting({ description: 'Output format on stdout.', wide: true }),
  ...logSettings,
} as const;

export type SecretAgeSettings = SettingsOf<typeof secretAgeSettings>;

export function validateSecretAgeSettings(s: SecretAgeSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  problems.push(...allNamespacesProblems(s, settingLabel('allNamespaces', secretAgeSettings.allNamespaces)));
  if (s.trustedSignerKey.length === 0) {
    problems.push(
      problemFor(
        secretAgeSettings,
        'trustedSignerKey',
        'is required: only backups sealed by a trusted key are read (the bucket is not trusted)',
      ),
    );
  }
  return problems;
}
