import { booleanSetting, enumSetting, type SettingsOf } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { logSettings } from '../log/log-settings.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { clusterSetting } from './backup-settings.js';
import { isEmptyPolicy } from './retention.js';
import { retentionPolicyOf, retentionSettings } from './retention-settings.js';

/** `secret-steward prune` settings: the store and the retention rules to apply to it. */
export const pruneSettings = {
  ...clusterSetting,
  ...storeSettings,
  ...retentionSettings,
  dryRun: booleanSetting({
    description: 'Print keep/delete for every backup with the rule that kept it; delete nothing.',
    default: false,
    group: 'Safety',
  }),
  output: enumSetting(['text', 'json'] as const, { description: 'Output format on stdout.', default: 'text', group: 'Output' }),
  ...logSettings,
} as const;

export type PruneSettings = SettingsOf<typeof pruneSettings>;

export function validatePruneSettings(s: PruneSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  if (isEmptyPolicy(retentionPolicyOf(s))) {
    problems.push(
      problemFor(
        pruneSettings,
        'keepLast',
        'no retention rule given: refusing to prune with an empty policy (set at least one --keep-* option)',
      ),
    );
  }
  return problems;
}
