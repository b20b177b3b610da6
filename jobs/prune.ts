import { pruneSettings, validatePruneSettings } from '../shared/backup/prune-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward prune`: retention for one cluster's backups. */
export const pruneCommand = defineCommand({
  help: {
    name: 'prune',
    summary: 'Apply the retention policy: delete old backups (never the newest complete one).',
    description:
      'Deletes backups that no retention rule keeps, with restic forget semantics: rules are ORed; --keep-last N keeps the N newest; ' +
      '--keep-hourly/daily/weekly/monthly/yearly N keep the newest backup in each of the N most recent periods (UTC, ISO weeks) that have one; ' +
      '--keep-within D keeps every backup within D of the newest backup. The newest complete backup is never deleted and an empty policy is ' +
      'refused. Incomplete backups older than --incomplete-grace are removed. The backup job runs this automatically after a successful ' +
      'backup when any --keep-* option is set.',
    examples: [
      'secret-steward prune --cluster-name prod --store s3://backups/k8s --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run',
    ],
  },
  settings: pruneSettings,
  validate: validatePruneSettings,
  run: async (settings, ctx) => (await import('../shared/backup/prune-job.js')).runPruneJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(pruneCommand, process.argv.slice(2));
