import { type SettingsOf, stringSetting } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { logSettings } from '../log/log-settings.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { clusterSetting } from './backup-settings.js';
import { drillEvidenceSettings, sealTrustSettings } from './catalogue-settings.js';
import { fleetDiscoveryProblems, fleetDiscoverySettings } from './fleet-discovery.js';

/** `secret-steward list-backups` settings: where the catalogue is, and whose seals and reports to believe (public keys only). */
export const listBackupsSettings = {
  clusterName: {
    ...clusterSetting.clusterName,
    required: false,
    description:
      'Name of the cluster whose backups are listed (<store>/<cluster-name>/). Required unless --fleet-cluster or --fleet-discover is given.',
  },
  fleetCluster: stringSetting({
    description:
      "At a DR site: list the backups of these clusters (repeatable) in one table with a CLUSTER column, instead of --cluster-name's alone. The same setting and variable as verify-restore's fleet drill.",
    valueName: 'NAME',
    repeatable: true,
    group: 'Store',
    pattern: /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    expected: 'a lower-case DNS label such as prod-eu-1',
  }),
  ...fleetDiscoverySettings,
  ...storeSettings,
  ...sealTrustSettings,
  ...drillEvidenceSettings,
  output: outputSetting({ description: 'Output format on stdout.', wide: true }),
  ...logSettings,
} as const;

export type ListBackupsSettings = SettingsOf<typeof listBackupsSettings>;

export function validateListBackupsSettings(s: ListBackupsSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  if (s.fleetDiscover || s.fleetAllow.length > 0) problems.push(...fleetDiscoveryProblems(listBackupsSettings, s));
  else if (s.clusterName !== undefined && s.fleetCluster.length > 0)
    problems.push(problemFor(listBackupsSettings, 'clusterName', 'cannot be given with --fleet-cluster: give one cluster or the fleet'));
  else if (s.clusterName === undefined && s.fleetCluster.length === 0)
    problems.push(
      problemFor(listBackupsSettings, 'clusterName', 'is required (NAME): the cluster whose backups are listed, or give --fleet-cluster'),
    );
  return problems;
}
