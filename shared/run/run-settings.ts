import { backupSettings } from '../backup/backup-settings.js';
import { booleanSetting, durationSetting, fileSetting, type SettingsOf, type SettingsSpec, stringSetting } from '../config/options.js';
import { kubeSettings } from '../kube/kube-settings.js';
import { logSettings } from '../log/log-settings.js';
import { rekeySettings } from '../rekey/rekey-settings.js';
import { restoreSettings } from '../restore/restore-settings.js';
import { rotateSettings } from '../rotate/rotate-settings.js';
import { verifyRestoreSettings } from '../verify-restore/verify-restore-settings.js';

/**
 * The commands `secret-steward run` starts as one-off Jobs, with the settings table their extra
 * arguments are checked against before a Job is created, and where their Job template comes
 * from: the installed CronJob of that name, or (restore and rekey, which have no CronJob) a Job manifest.
 */
export const RUNNABLE: Readonly<Record<string, { settings: SettingsSpec; cronJob?: string }>> = {
  backup: { settings: backupSettings, cronJob: 'secret-steward-backup' },
  'verify-restore': { settings: verifyRestoreSettings, cronJob: 'secret-steward-verify-restore' },
  rotate: { settings: rotateSettings, cronJob: 'secret-steward-rotate' },
  restore: { settings: restoreSettings },
  rekey: { settings: rekeySettings },
};

const SOURCE = 'Job template';

/** `secret-steward run` settings. The command and its extra arguments are positionals. */
export const runSettings = {
  // No -n: in `run restore ... -- --namespace payments` that would read as the Secrets' namespace.
  jobNamespace: stringSetting({
    description: 'Namespace of the CronJob and of the Job created.',
    valueName: 'NAMESPACE',
    default: 'secret-steward',
    group: SOURCE,
  }),
  cronjob: stringSetting({
    description: 'CronJob whose jobTemplate the Job is made from. Default: secret-steward-<command> (backup, verify-restore, rotate).',
    valueName: 'NAME',
    group: SOURCE,
  }),
  jobFile: fileSetting({
    description:
      "A Job manifest (YAML or JSON) to make the Job from instead of a CronJob: restore's or rekey's, which have no CronJob (manifests/jobs/restore/restore-job.yaml, manifests/jobs/rekey/rekey-job.yaml, or your overlay's rendered Job). Its own arguments after the command are replaced by yours.",
    group: SOURCE,
  }),
  dryRun: booleanSetting({
    description: 'Print the Job as YAML and create nothing (the CronJob is still read).',
    default: false,
    group: 'Safety',
  }),
  pollInterval: durationSetting({
    description: "How often the Job's pods and status are read while waiting.",
    default: 1000,
    group: 'Waiting',
  }),
  ...kubeSettings,
  ...logSettings,
} as const;

export type RunSettings = SettingsOf<typeof runSettings>;
