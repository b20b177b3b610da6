import { enumSetting, type SettingsOf } from '../config/options.js';
import type { ConfigProblem } from '../errors/index.js';
import { logSettings } from '../log/log-settings.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';
import { clusterSetting } from './backup-settings.js';
import { drillEvidenceSettings, sealTrustSettings } from './catalogue-settings.js';

/** `secret-steward list-backups` settings: where the catalogue is, and whose seals and reports to believe (public keys only). */
export const listBackupsSettings = {
  ...clusterSetting,
  ...storeSettings,
  ...sealTrustSettings,
  ...drillEvidenceSettings,
  output: enumSetting(['text', 'json'] as const, {
    short: 'o',
    description: 'Output format on stdout.',
    default: 'text',
    group: 'Output',
  }),
  ...logSettings,
} as const;

export type ListBackupsSettings = SettingsOf<typeof listBackupsSettings>;

export function validateListBackupsSettings(s: ListBackupsSettings): ConfigProblem[] {
  return validateStoreSettings(s);
}
