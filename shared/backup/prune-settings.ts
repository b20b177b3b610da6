import { booleanSetting, customSetting, type SettingsOf, ValueError } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { logSettings } from '../log/log-settings.js';
import { metricsSettings } from '../metrics/pushgateway.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { isBackupId } from './backup-layout.js';
import { clusterSetting } from './backup-settings.js';
import { sealTrustSettings } from './catalogue-settings.js';
import { isEmptyPolicy } from './retention.js';
import { retentionPolicyOf, retentionSettings } from './retention-settings.js';

/** `secret-steward prune` settings: the store, who to trust, the retention rules, and the cluster to coordinate with. */
export const pruneSettings = {
  ...clusterSetting,
  ...storeSettings,
  ...retentionSettings,
  ...sealTrustSettings,
  deleteUnauthenticated: customSetting({
    description:
      'Delete these backups, which the catalogue does not authenticate (unsealed, forged, foreign, future or damaged: see list-backups), instead of applying the retention rules. Repeatable. An authenticated backup is refused: retention decides about those.',
    valueName: 'ID',
    repeatable: true,
    group: 'Safety',
    parse: (raw: string) => {
      if (!isBackupId(raw.trim())) throw new ValueError('a backup id such as 20261127T031500Z-3f9a1c');
      return raw.trim();
    },
  }),
  dryRun: booleanSetting({
    description: 'Print keep/delete for every backup with the rule that kept it; delete nothing.',
    default: false,
    group: 'Safety',
  }),
  offline: booleanSetting({
    description:
      "Prune without the cluster: no Lease, so a backup or prune running meanwhile, and a restore or drill reading an older backup, are not seen. Without it prune takes the backup job's Lease and keeps every backup a reader in the cluster holds.",
    default: false,
    group: 'Safety',
  }),
  output: outputSetting({ description: 'Output format on stdout.', wide: false }),
  ...metricsSettings,
  ...kubeSettings,
  ...lockSettings,
  ...logSettings,
} as const;

export type PruneSettings = SettingsOf<typeof pruneSettings>;

export function validatePruneSettings(s: PruneSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  if (s.deleteUnauthenticated.length === 0 && isEmptyPolicy(retentionPolicyOf(s))) {
    problems.push(
      problemFor(
        pruneSettings,
        'keepLast',
        'no retention rule given: refusing to prune with an empty policy (set at least one --keep-* option)',
      ),
    );
  }
  if (s.trustedSignerKey.length === 0) {
    problems.push(
      problemFor(
        pruneSettings,
        'trustedSignerKey',
        "is required: only backups sealed by the backup job's key are ever deleted (give the public half of its --signing-key)",
      ),
    );
  }
  return problems;
}
