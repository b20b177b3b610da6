import {
  booleanSetting,
  customSetting,
  durationSetting,
  enumSetting,
  fileSetting,
  integerSetting,
  numberSetting,
  type SettingsOf,
  settingLabel,
  stringSetting,
  ValueError,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { labelSelectorSetting } from '../kube/label-selector.js';
import { allNamespacesProblems, allNamespacesSetting, outOfScopeProblems, scopeOf, scopeSettings } from '../kube/scope.js';
import { logSettings, progressSettings } from '../log/log-settings.js';
import { metricsSettings } from '../metrics/pushgateway.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { isBackupId, isValidClusterName } from './backup-layout.js';
import { sealTrustSettings } from './catalogue-settings.js';
import { retentionSettings } from './retention-settings.js';

/** Types never backed up: controllers regenerate them, and restoring them elsewhere is harmful. */
export const DEFAULT_EXCLUDED_TYPES = ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token'] as const;

/** `--cluster-name`: the store path component that keeps clusters sharing a bucket apart. */
export const clusterSetting = {
  clusterName: stringSetting({
    description: 'Name of the cluster the backups belong to; backups live under <store>/<cluster-name>/.',
    valueName: 'NAME',
    required: true,
    group: 'Store',
    pattern: /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    expected: 'a lower-case DNS label such as prod-eu-1',
  }),
} as const;

const SELECT = 'Selection';
const KEYS = 'Encryption keys';

export const backupSettings = {
  ...clusterSetting,
  ...storeSettings,
  namespace: stringSetting({
    short: 'n',
    description: 'Back up only these namespaces (default: all, or all of --scope-namespaces).',
    valueName: 'NAMESPACE',
    repeatable: true,
    group: SELECT,
  }),
  allNamespaces: allNamespacesSetting(SELECT),
  excludeNamespace: stringSetting({
    description: 'Never back up these namespaces.',
    valueName: 'NAMESPACE',
    repeatable: true,
    group: SELECT,
  }),
  selector: labelSelectorSetting({
    short: 'l',
    description: 'Label selector, e.g. app=payments,tier!=cache.',
    valueName: 'SELECTOR',
    group: SELECT,
  }),
  excludeType: stringSetting({
    description: `Also exclude Secrets of this type, e.g. helm.sh/release.v1. Always excluded: ${DEFAULT_EXCLUDED_TYPES.join(', ')}.`,
    valueName: 'TYPE',
    repeatable: true,
    group: SELECT,
  }),
  recipientKey: fileSetting({
    description:
      'Armored OpenPGP public key file to encrypt to (several: any one private key can decrypt). The backup job needs no private key.',
    repeatable: true,
    required: true,
    group: KEYS,
  }),
  signingKey: fileSetting({
    description:
      'Armored OpenPGP private key that signs every backup: its index and its seal, the signed record that makes it a backup of this cluster (docs/threat-model.md). Its public half is what verify-restore, restore, prune, status and list-backups trust (--trusted-signer-key); when this job is given --trusted-signer-key, its public half must be one of them, or backup refuses to start (given none, it trusts its own key).',
    required: true,
    group: KEYS,
  }),
  signingKeyPassphraseFile: fileSetting({ description: 'File holding the signing key passphrase.', group: KEYS }),
  keyExpiryWarning: durationSetting({
    description: 'Warn (log and Event) about keys expiring within this long.',
    default: 30 * 86_400_000,
    group: KEYS,
  }),
  segmentSize: integerSetting({
    description:
      'Plaintext size of one segment in MiB. Each segment is one OpenPGP message that can be decrypted on its own; decrypting one takes about 2.5 times its size in memory, which bounds verification and restore.',
    valueName: 'MIB',
    min: 1,
    max: 64,
    default: 16,
    group: 'Format',
  }),
  compression: enumSetting(['gzip', 'none'] as const, {
    description: 'Compress segments before encryption. With none, the break-glass line in backup --help goes without its | gunzip.',
    default: 'gzip',
    group: 'Format',
  }),
  allowEmpty: booleanSetting({
    description: 'Succeed even when no Secret is selected (otherwise exit 1: an empty backup is almost always a mistake).',
    default: false,
    group: 'Safety',
  }),
  allowShrink: booleanSetting({
    description: 'Succeed even when the count dropped by more than --shrink-threshold since the previous complete backup.',
    default: false,
    group: 'Safety',
  }),
  shrinkThreshold: numberSetting({
    description: 'Fraction of Secrets that may disappear between two backups before the run fails (unless --allow-shrink).',
    min: 0,
    max: 1,
    default: 0.5,
    group: 'Safety',
  }),
  dryRun: booleanSetting({
    description: 'List what would be backed up (counts per namespace and type) and write nothing.',
    default: false,
    group: 'Safety',
  }),
  pageSize: integerSetting({
    description: 'Secrets per list request (adapted down for large Secrets to bound memory).',
    min: 10,
    max: 5000,
    default: 250,
    group: 'Kubernetes access',
  }),
  ...retentionSettings,
  // Not --cluster-uid: backup reads its own cluster's identity.
  trustedSignerKey: sealTrustSettings.trustedSignerKey,
  preRestoreSignerKey: sealTrustSettings.preRestoreSignerKey,
  rekeySignerKey: sealTrustSettings.rekeySignerKey,
  incompleteGrace: sealTrustSettings.incompleteGrace,
  output: outputSetting({ description: 'Format of the summary on stdout.', wide: false }),
  ...metricsSettings,
  ...kubeSettings,
  ...scopeSettings,
  ...lockSettings,
  ...logSettings,
  ...progressSettings,
} as const;

export type BackupSettings = SettingsOf<typeof backupSettings>;

export function validateBackupSettings(s: BackupSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  problems.push(...allNamespacesProblems(s, settingLabel('allNamespaces', backupSettings.allNamespaces)));
  const overlap = s.namespace.filter((n) => s.excludeNamespace.includes(n));
  if (overlap.length > 0)
    problems.push(problemFor(backupSettings, 'excludeNamespace', `excludes namespaces also given with --namespace: ${overlap.join(', ')}`));
  if (!isValidClusterName(s.clusterName)) problems.push(problemFor(backupSettings, 'clusterName', 'expected a lower-case DNS label'));
  problems.push(...outOfScopeProblems(scopeOf(s), s.namespace, settingLabel('namespace', backupSettings.namespace)));
  return problems;
}

/** A repeatable backup id that limits a command to some backups (adopt --backup, rekey --only). */
export function backupIdSelectionSetting(description: string) {
  return customSetting({
    description,
    valueName: 'ID',
    repeatable: true,
    group: 'Selection',
    parse: (raw: string) => {
      if (!isBackupId(raw.trim())) throw new ValueError('a backup id such as 20261127T031500Z-3f9a1c');
      return raw.trim();
    },
  });
}
