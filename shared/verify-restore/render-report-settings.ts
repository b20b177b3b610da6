import { isBackupId } from '../backup/backup-layout.js';
import { clusterSetting } from '../backup/backup-settings.js';
import { drillEvidenceSettings } from '../backup/catalogue-settings.js';
import {
  booleanSetting,
  customSetting,
  fileSetting,
  integerSetting,
  type SettingsOf,
  stringSetting,
  ValueError,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { logSettings } from '../log/log-settings.js';
import { storeSettings, validateStoreSettings } from '../storage/store-settings.js';

const REPORT = 'Report';

/** `secret-steward render-report` settings: which stored drill report, whose signature to believe, where the page goes. */
export const renderReportSettings = {
  ...clusterSetting,
  ...storeSettings,
  ...drillEvidenceSettings,
  report: stringSetting({
    description:
      'The stored drill report to render: its key as list-backups -o wide shows it (<cluster>/reports/<time>_<backup>_<pass|fail>.json) or its file name. Default: the newest report of --backup.',
    valueName: 'KEY',
    group: REPORT,
  }),
  backup: customSetting({
    description: 'Render the newest drill report of this backup: latest (the newest report of any backup) or a backup id.',
    valueName: 'latest|ID',
    default: 'latest',
    group: REPORT,
    parse: (raw: string) => {
      const v = raw.trim();
      if (v === 'latest' || isBackupId(v)) return v;
      throw new ValueError('latest or a backup id such as 20261127T031500Z-3f9a1c');
    },
  }),
  history: integerSetting({
    description: "How many of the cluster's newest drill reports the history chart shows (each is verified; only verified passes count).",
    min: 1,
    max: 200,
    default: 30,
    group: REPORT,
  }),
  allowUnverified: booleanSetting({
    description:
      'Render a report whose signature does not verify by --drill-signer-key (or when no key is given), under a banner saying it is not evidence. Without it such a report is refused with exit 1.',
    default: false,
    group: REPORT,
  }),
  out: fileSetting({
    description: 'Write the HTML page to this file (replaced whole). Default: stdout.',
    group: 'Output',
  }),
  ...logSettings,
} as const;

export type RenderReportSettings = SettingsOf<typeof renderReportSettings>;

export function validateRenderReportSettings(s: RenderReportSettings): ConfigProblem[] {
  const problems = validateStoreSettings(s);
  if (s.drillSignerKey.length === 0 && !s.allowUnverified)
    problems.push(
      problemFor(
        renderReportSettings,
        'drillSignerKey',
        'required: the report is verified before it is rendered (or give --allow-unverified to render it under a warning banner)',
      ),
    );
  if (s.report !== undefined && s.backup !== 'latest')
    problems.push(problemFor(renderReportSettings, 'report', 'give either --report or --backup, not both'));
  return problems;
}
