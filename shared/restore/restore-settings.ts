import { isValidClusterName } from '../backup/backup-layout.js';
import { clusterSetting } from '../backup/backup-settings.js';
import {
  booleanSetting,
  customSetting,
  durationSetting,
  enumSetting,
  fileSetting,
  integerSetting,
  type SettingsOf,
  settingLabel,
  sizeSetting,
  stringSetting,
  ValueError,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { labelSelectorSetting } from '../kube/label-selector.js';
import { isDnsLabel, isDnsSubdomain } from '../kube/object-names.js';
import { allNamespacesProblems, allNamespacesSetting, outOfScopeProblems, scopeOf, scopeSettings } from '../kube/scope.js';
import { logSettings, progressSettings } from '../log/log-settings.js';
import { metricsSettings } from '../metrics/pushgateway.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { backupChoiceSetting, verificationKeySettings } from '../verify-restore/verification-settings.js';

const SELECT = 'Selection';
const MODE = 'Mode';
const UNDO = 'Undo (pre-restore backup)';

export interface NamespaceMapping {
  from: string;
  to: string;
}

export const restoreSettings = {
  ...clusterSetting,
  ...storeSettings,
  ...backupChoiceSetting,
  ...verificationKeySettings,
  namespace: stringSetting({
    short: 'n',
    description: 'Restore only Secrets of this namespace, as it is named IN THE BACKUP (repeatable; default: all).',
    valueName: 'NAMESPACE',
    repeatable: true,
    pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    expected: 'a namespace name (DNS-1123 label)',
    group: SELECT,
  }),
  allNamespaces: allNamespacesSetting(SELECT),
  name: stringSetting({
    description: 'Restore only this Secret: namespace/name, or a bare name looked up in every --namespace (repeatable).',
    valueName: 'NAMESPACE/NAME',
    repeatable: true,
    group: SELECT,
  }),
  selector: labelSelectorSetting({
    short: 'l',
    description:
      'Restore only Secrets whose labels AT BACKUP TIME match this label selector, e.g. app=payments,tier!=cache or env in (prod,staging).',
    valueName: 'SELECTOR',
    group: SELECT,
  }),
  mapNamespace: customSetting({
    description:
      'Restore the Secrets of namespace FROM (as named in the backup) into namespace TO (repeatable), e.g. payments=payments-restored.',
    valueName: 'FROM=TO',
    repeatable: true,
    group: SELECT,
    parse: (raw: string): NamespaceMapping => {
      const m = /^([^=]+)=([^=]+)$/.exec(raw.trim());
      if (!m || !isDnsLabel(m[1].trim()) || !isDnsLabel(m[2].trim()))
        throw new ValueError('FROM=TO with two namespace names, e.g. payments=payments-restored');
      return { from: m[1].trim(), to: m[2].trim() };
    },
  }),
  createNamespaces: booleanSetting({
    description: 'Create target namespaces that do not exist (otherwise a missing namespace is an error and nothing is written).',
    default: false,
    group: SELECT,
  }),
  mode: enumSetting(['create-missing', 'overwrite'] as const, {
    description:
      'create-missing: create Secrets that do not exist, never touch an existing one (reported as skipped). overwrite: also replace existing Secrets whose content differs, after backing them up (see --recipient-key) so the restore can be undone.',
    default: 'create-missing',
    group: MODE,
  }),
  recreateImmutable: booleanSetting({
    description:
      'With --mode overwrite: replace immutable Secrets (and Secrets whose type changed) by deleting and recreating them. Without it they are skipped.',
    default: false,
    group: MODE,
  }),
  dryRun: booleanSetting({
    description:
      "Verify the backup and print the plan (create / overwrite / recreate / skip per Secret, never values). Every write is sent with the API server's dryRun=All, so it is validated but not persisted; no pre-restore backup, no Lease, no Event.",
    default: false,
    group: MODE,
  }),
  restoreConcurrency: integerSetting({
    description:
      'Most Secret writes in flight at once. Halved whenever the API server answers 429 or 5xx (and nothing new is sent before its Retry-After), then grown back by one per round of successful writes.',
    min: 1,
    max: 64,
    default: 8,
    group: MODE,
  }),
  restoreSpoolLimit: sizeSetting({
    description:
      "Most bytes of /tmp (the Job's emptyDir, whose shipped sizeLimit is 2Gi) that the encrypted spool of verified Secrets may take between verifying and writing. Whole segments are spooled in order while they fit; the segments beyond are downloaded, decrypted and verified again to write (slower, same result). 0: spool nothing, read every segment twice. Keep it under the emptyDir's sizeLimit, or the kubelet evicts the pod.",
    default: 1536 * 1024 * 1024,
    group: MODE,
  }),
  recipientKey: fileSetting({
    description:
      "Public key(s) to encrypt the pre-restore backup to (normally the backup job's --recipient-key). Required with --mode overwrite (except --dry-run).",
    repeatable: true,
    group: UNDO,
  }),
  preRestoreSigningKey: fileSetting({
    description:
      "The restore job's own private key that signs and seals the pre-restore backup (before 0.2.0 this was --signing-key, the backup job's key). Its public half is --pre-restore-signer-key of backup, prune, status and list-backups; it is trusted for pre-restore backups only, so this job can never vouch for a scheduled backup. Give it to this job's --pre-restore-signer-key too: otherwise the restore still runs, but warns (log and output) that readers with the same list would not believe the pre-restore backup. Required with --mode overwrite (except --dry-run).",
    group: UNDO,
  }),
  preRestoreSigningKeyPassphraseFile: fileSetting({ description: 'File holding the pre-restore signing key passphrase.', group: UNDO }),
  keyExpiryWarning: durationSetting({ description: 'Warn about keys expiring within this long.', default: 30 * 86_400_000, group: UNDO }),
  output: outputSetting({ description: 'Format of the plan and result on stdout.', wide: false }),
  ...metricsSettings,
  ...kubeSettings,
  ...scopeSettings,
  ...lockSettings,
  ...logSettings,
  ...progressSettings,
} as const;

export type RestoreSettings = SettingsOf<typeof restoreSettings>;

export function validateRestoreSettings(s: RestoreSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  problems.push(...allNamespacesProblems(s, settingLabel('allNamespaces', restoreSettings.allNamespaces)));
  const p = (key: keyof typeof restoreSettings & string, message: string) => problems.push(problemFor(restoreSettings, key, message));
  if (!isValidClusterName(s.clusterName)) p('clusterName', 'expected a lower-case DNS label');
  for (const n of s.name) {
    const slash = n.indexOf('/');
    if (slash === -1) {
      if (!isDnsSubdomain(n)) p('name', `"${n}" is not a Secret name (DNS-1123 subdomain)`);
      else if (s.namespace.length === 0) p('name', `"${n}" has no namespace: give it as namespace/name, or give --namespace`);
    } else if (!isDnsLabel(n.slice(0, slash)) || !isDnsSubdomain(n.slice(slash + 1))) {
      p('name', `"${n}" is not namespace/name`);
    }
  }
  const froms = s.mapNamespace.map((m) => m.from);
  const dupes = froms.filter((f, i) => froms.indexOf(f) !== i);
  if (dupes.length > 0) p('mapNamespace', `namespace ${[...new Set(dupes)].join(', ')} is mapped more than once`);
  const tos = s.mapNamespace.map((m) => m.to);
  const merged = tos.filter((t, i) => tos.indexOf(t) !== i);
  if (merged.length > 0)
    p('mapNamespace', `several namespaces are mapped into ${[...new Set(merged)].join(', ')}; Secrets of the same name would collide`);
  if (s.mode === 'overwrite' && !s.dryRun && s.recipientKey.length === 0) {
    p(
      'recipientKey',
      'is required with --mode overwrite: the Secrets about to be overwritten are backed up first (kind pre-restore), so that the restore can be undone',
    );
  }
  if (s.recreateImmutable && s.mode !== 'overwrite') p('recreateImmutable', 'only applies with --mode overwrite');
  if (s.mode === 'overwrite' && !s.dryRun && s.preRestoreSigningKey === undefined) {
    p(
      'preRestoreSigningKey',
      'is required with --mode overwrite: the pre-restore backup is sealed with it (it replaces --signing-key, which restore no longer takes)',
    );
  }
  if (s.preRestoreSigningKeyPassphraseFile !== undefined && s.preRestoreSigningKey === undefined)
    p('preRestoreSigningKeyPassphraseFile', 'needs --pre-restore-signing-key');
  problems.push(...scopeProblems(s));

  return problems;
}

/**
 * Within a namespaced scope, every namespace the restore is told to write into must be in it
 * (where --namespace and --name point, after --map-namespace), and no namespace is created: a
 * namespaced installation has no cluster-wide right to create one, and its namespaces exist
 * (their RoleBindings live there).
 */
function scopeProblems(s: RestoreSettings): ConfigProblem[] {
  const scope = scopeOf(s);
  if (scope.kind === 'cluster') return [];
  const mapped = new Map(s.mapNamespace.map((m) => [m.from, m.to]));
  const target = (ns: string) => mapped.get(ns) ?? ns;
  const named = s.name.filter((n) => n.includes('/')).map((n) => n.slice(0, n.indexOf('/')));
  const problems = [
    ...outOfScopeProblems(scope, s.namespace.map(target), settingLabel('namespace', restoreSettings.namespace)),
    ...outOfScopeProblems(scope, named.map(target), settingLabel('name', restoreSettings.name)),
    ...outOfScopeProblems(
      scope,
      s.mapNamespace.map((m) => m.to),
      settingLabel('mapNamespace', restoreSettings.mapNamespace),
    ),
  ];
  if (s.createNamespaces)
    problems.push(
      problemFor(
        restoreSettings,
        'createNamespaces',
        'cannot be combined with --scope-namespaces: a namespaced installation may not create namespaces, and the ones it works in exist',
      ),
    );
  return problems;
}
