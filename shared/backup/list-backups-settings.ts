import type { SettingsOf } from '../config/options.js';
import type { ConfigProblem } from '../errors/index.js';
import { logSettings } from '../log/log-settings.js';
import { outputSetting } from '../runtime/output.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { clusterSetting } from './backup-settings.js';
import { drillEvidenceSettings, sealTrustSettings } from './catalogue-settings.js';

/** `secret-steward list-backups` settings: where the catalogue is, and whose seals and reports to believe (public keys only). */
export const listBackupsSettings = {
  ...clusterSetting,
  ...storeSettings,
  ...sealTrustSettings,
  ...drillEvidenceSettings,
  output: outputSetting({ description: 'Output format on stdout.', wide: true }),
  ...logSettings,
} as const;

export type ListBackupsSettings = SettingsOf<typeof listBackupsSettings>;

export function validateListBackupsSettings(s: ListBackupsSettings): ConfigProblem[] {
  return validateStoreSettings(s);
}
