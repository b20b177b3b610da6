import { signerKeySetting } from '../backup/catalogue-settings.js';
import { customSetting, durationSetting, enumSetting, fileSetting, type SettingsOf, stringSetting } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { logSettings } from '../log/log-settings.js';
import { outputSetting } from '../runtime/output.js';
import { parseStoreUrl, s3Settings, validateStoreSettings } from '../storage/store-settings.js';
import { CHECKED_JOBS, usesStore } from './job-permissions.js';

const KEYS = 'Key files';
const STORE = 'Backup store';

/** `secret-steward check` settings: the job to check for, and the settings of that job to check. */
export const checkSettings = {
  for: enumSetting(CHECKED_JOBS, {
    description: "The job whose installation to check: its Kubernetes permissions, its store (not rotate's) and the key files given.",
    required: true,
  }),
  clusterName: stringSetting({
    description: 'Name of the cluster the backups belong to (<store>/<cluster-name>/): the store is listed there.',
    valueName: 'NAME',
    group: STORE,
    pattern: /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    expected: 'a lower-case DNS label such as prod-eu-1',
  }),
  store: customSetting({
    description:
      'The backup store of the job (s3://bucket[/prefix] or file:///dir). Checked read-only: one listing request under <cluster-name>/; nothing is written.',
    valueName: 'URL',
    group: STORE,
    parse: parseStoreUrl,
  }),
  ...s3Settings,
  ...kubeSettings,
  lockNamespace: lockSettings.lockNamespace,
  drillNamespace: stringSetting({
    description: "verify-restore's --drill-namespace, where its permissions are checked.",
    valueName: 'NAMESPACE',
    default: 'secret-steward-drill',
    pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    expected: 'a namespace name (DNS-1123 label)',
  }),
  recipientKey: fileSetting({
    description: 'Public key file(s) backups are encrypted to: each must be a public key that can encrypt now.',
    repeatable: true,
    group: KEYS,
  }),
  signingKey: fileSetting({
    description:
      'The private key file the job signs with (backup --signing-key, verify-restore --report-signing-key, restore --pre-restore-signing-key): it must sign now.',
    group: KEYS,
  }),
  signingKeyPassphraseFile: fileSetting({
    description: 'File holding the passphrase of --signing-key.',
    group: KEYS,
  }),
  decryptionKey: fileSetting({
    description: 'Private key file(s) that decrypt backups (restore, verify-restore): each must be a private key that can decrypt.',
    repeatable: true,
    group: KEYS,
  }),
  decryptionKeyPassphraseFile: fileSetting({
    description: 'File holding the passphrase of --decryption-key.',
    group: KEYS,
  }),
  trustedSignerKey: signerKeySetting({
    description:
      'Public key file(s) whose seals and signatures are believed: each must be a public key, optionally with the window its signatures are believed in (,notBefore=TIME ,notAfter=TIME, as for the other commands).',
    repeatable: true,
    group: KEYS,
  }),
  keyExpiryWarning: durationSetting({
    description: 'A key that expires within this long is a warning.',
    default: 30 * 86_400_000,
    group: KEYS,
  }),
  output: outputSetting({ description: 'text: one line per check; json or yaml: every check for machines.', wide: false }),
  ...logSettings,
} as const;

export type CheckSettings = SettingsOf<typeof checkSettings>;

/** Cross-setting problems, all at once. */
export function validateCheckSettings(s: CheckSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  if (s.store !== undefined && s.clusterName === undefined)
    problems.push(problemFor(checkSettings, 'clusterName', 'is required with --store (the store is listed under <cluster-name>/)'));
  if (s.store !== undefined && !usesStore(s.for)) problems.push(problemFor(checkSettings, 'store', `${s.for} does not use a backup store`));
  if (s.signingKeyPassphraseFile !== undefined && s.signingKey === undefined)
    problems.push(problemFor(checkSettings, 'signingKeyPassphraseFile', 'needs --signing-key'));
  if (s.decryptionKeyPassphraseFile !== undefined && s.decryptionKey.length === 0)
    problems.push(problemFor(checkSettings, 'decryptionKeyPassphraseFile', 'needs --decryption-key'));
  return problems;
}
