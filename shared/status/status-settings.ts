import { isValidClusterName } from '../backup/backup-layout.js';
import { drillEvidenceSettings, sealTrustSettings, signerKeySetting } from '../backup/catalogue-settings.js';
import { fleetDiscoveryProblems, fleetDiscoverySettings } from '../backup/fleet-discovery.js';
import {
  customSetting,
  durationSetting,
  enumSetting,
  fileSetting,
  integerSetting,
  type SettingsOf,
  settingLabel,
  stringSetting,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings } from '../kube/kube-settings.js';
import { labelSelectorSetting } from '../kube/label-selector.js';
import { allNamespacesProblems, allNamespacesSetting, outOfScopeProblems, scopeOf, scopeSettings } from '../kube/scope.js';
import { logSettings } from '../log/log-settings.js';
import { cronProblem, isValidTimeZone } from '../runtime/cron-schedule.js';
import { outputSetting } from '../runtime/output.js';
import { parseStoreUrl, s3Settings, validateStoreSettings } from '../storage/store-settings.js';

const ROTATION = 'Rotation';
const BACKUPS = 'Backups and drills';
const KEYS = 'Key expiry';
const OUTPUT = 'Output';

/**
 * `secret-steward status` settings. The store is optional (without it only rotation and keys
 * are reported); the freshness settings are verify-restore's, under the same names and
 * variables, so one environment serves both.
 */
export const statusSettings = {
  clusterName: stringSetting({
    description:
      'Name of the cluster the backups belong to (<store>/<cluster-name>/). Required with --store, unless --fleet-cluster or --fleet-discover is given.',
    valueName: 'NAME',
    group: BACKUPS,
    pattern: /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    expected: 'a lower-case DNS label such as prod-eu-1',
  }),
  fleetCluster: stringSetting({
    description:
      "At a DR site: report these clusters' backups and drills (repeatable), one row each, instead of --cluster-name's alone. The same setting and variable as verify-restore's fleet drill, so one environment serves both.",
    valueName: 'NAME',
    repeatable: true,
    group: BACKUPS,
    pattern: /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    expected: 'a lower-case DNS label such as prod-eu-1',
  }),
  ...fleetDiscoverySettings,
  store: customSetting({
    description:
      'Where backups are kept (s3://bucket[/prefix] or file:///dir), as for backup. Without it the backup and drill sections are left out. Read only: status lists objects and reads seals and drill reports (small, signed), never an index or a segment.',
    valueName: 'URL',
    group: BACKUPS,
    parse: parseStoreUrl,
  }),
  ...s3Settings,
  namespace: stringSetting({
    short: 'n',
    description:
      'Report rotation policies only in this namespace (repeatable). Default: every namespace (of --scope-namespaces when given).',
    valueName: 'NAMESPACE',
    repeatable: true,
    group: ROTATION,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    expected: 'a namespace name',
  }),
  allNamespaces: allNamespacesSetting(ROTATION),
  selector: labelSelectorSetting({
    short: 'l',
    description: 'Report only Secrets matching this label selector.',
    valueName: 'SELECTOR',
    group: ROTATION,
  }),
  rotationGrace: durationSetting({
    description:
      "How long a Secret may be due before it counts as overdue: the rotate CronJob needs time to get to it. Set it to that CronJob's interval plus its run time.",
    default: 3_600_000,
    group: ROTATION,
  }),
  backupSchedule: stringSetting({
    description:
      "The backup CronJob's schedule (5 cron fields or @daily...). With it, a newest complete backup older than the schedule allows is overdue (the same rule as verify-restore's freshness check). Without it, only a store with no complete backup is.",
    valueName: 'CRON',
    group: BACKUPS,
  }),
  backupTimezone: stringSetting({
    description: "IANA time zone of --backup-schedule (the CronJob's spec.timeZone).",
    valueName: 'ZONE',
    default: 'UTC',
    group: BACKUPS,
  }),
  freshnessGrace: durationSetting({
    description: 'How long after a scheduled time its backup may still be missing (it may be running) before it is overdue.',
    default: 3_600_000,
    group: BACKUPS,
  }),
  drillMaxAge: durationSetting({
    description: 'Overdue when no DR drill (verify-restore) has passed within this long. 0s: do not check.',
    default: 8 * 86_400_000,
    group: BACKUPS,
  }),
  deepCheckCycle: durationSetting({
    description:
      "Overdue when an authenticated backup was neither verified (a drill or its deep check, as signed drill reports show; needs --drill-signer-key) nor created within this long. 0s: the cycle of the newest signed drill report with a deep check (verify-restore's --deep-check-cycle), else not checked.",
    default: 0,
    group: BACKUPS,
  }),
  backups: integerSetting({
    description: 'How many of the newest complete backups to list.',
    min: 1,
    max: 100,
    default: 5,
    group: BACKUPS,
  }),
  recipientKey: fileSetting({
    description:
      "Public key file(s) backups are encrypted to (the backup job's --recipient-key): their expiry is reported. An expired or revoked one is overdue (backups fail).",
    repeatable: true,
    group: KEYS,
  }),
  ...sealTrustSettings,
  trustedSignerKey: signerKeySetting({
    description:
      "Public key file(s) of the backup signer (the public half of the backup job's --signing-key): only backups it sealed are believed, and its expiry is reported (expired or revoked: overdue, the backup job can no longer sign). Status never needs a private key. Append ,notBefore=TIME and/or ,notAfter=TIME (RFC 3339) to believe only signatures made inside that window (a rollover's retired key: docs/backup-and-restore.md).",
    repeatable: true,
    group: KEYS,
  }),
  ...drillEvidenceSettings,
  keyExpiryWarning: durationSetting({
    description: 'Warn about keys that expire within this long.',
    default: 30 * 86_400_000,
    group: KEYS,
  }),
  output: outputSetting({ description: 'text: tables for a terminal.', wide: false, group: OUTPUT }),
  color: enumSetting(['auto', 'always', 'never'] as const, {
    description: 'Highlight overdue rows in red and warnings in yellow: auto = when stdout is a terminal and NO_COLOR is not set.',
    default: 'auto',
    group: OUTPUT,
  }),
  ...kubeSettings,
  ...scopeSettings,
  ...logSettings,
} as const;

export type StatusSettings = SettingsOf<typeof statusSettings>;

export function validateStatusSettings(s: StatusSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = outOfScopeProblems(scopeOf(s), s.namespace, settingLabel('namespace', statusSettings.namespace));
  problems.push(...allNamespacesProblems(s, settingLabel('allNamespaces', statusSettings.allNamespaces)));
  if (s.store !== undefined) {
    problems.push(...validateStoreSettings(s));
    if (s.trustedSignerKey.length === 0)
      problems.push(
        problemFor(statusSettings, 'trustedSignerKey', 'is required with --store: backups count only when their seal verifies by this key'),
      );
    if (s.fleetDiscover || s.fleetAllow.length > 0) problems.push(...fleetDiscoveryProblems(statusSettings, s));
    else if (s.clusterName !== undefined && s.fleetCluster.length > 0)
      problems.push(problemFor(statusSettings, 'clusterName', 'cannot be given with --fleet-cluster: give one cluster or the fleet'));
    else if (s.clusterName === undefined && s.fleetCluster.length === 0)
      problems.push(problemFor(statusSettings, 'clusterName', 'is required with --store (or --fleet-cluster, or --fleet-discover)'));
    else if (s.clusterName !== undefined && !isValidClusterName(s.clusterName))
      problems.push(problemFor(statusSettings, 'clusterName', 'expected a lower-case DNS label'));
  } else {
    if (s.fleetCluster.length > 0) problems.push(problemFor(statusSettings, 'fleetCluster', 'needs --store (where the backups are)'));
    if (s.fleetDiscover) problems.push(problemFor(statusSettings, 'fleetDiscover', 'needs --store (where the clusters are discovered)'));
    if (s.backupSchedule !== undefined)
      problems.push(problemFor(statusSettings, 'backupSchedule', 'needs --store (where the backups are)'));
    if (s.s3Endpoint !== undefined) problems.push(problemFor(statusSettings, 's3Endpoint', 'needs --store'));
  }
  if (!isValidTimeZone(s.backupTimezone)) {
    problems.push(
      problemFor(
        statusSettings,
        'backupTimezone',
        `unknown time zone "${s.backupTimezone}" (expected an IANA name such as UTC or Europe/Berlin)`,
      ),
    );
  } else if (s.backupSchedule !== undefined) {
    const p = cronProblem(s.backupSchedule, s.backupTimezone);
    if (p !== undefined) problems.push(problemFor(statusSettings, p.field === 'schedule' ? 'backupSchedule' : 'backupTimezone', p.message));
  }
  return problems;
}
