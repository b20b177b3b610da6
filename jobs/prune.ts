import { pruneSettings, validatePruneSettings } from '../shared/backup/prune-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward prune`: retention for one cluster's backups. */
export const pruneCommand = defineCommand({
  help: {
    name: 'prune',
    summary: 'Apply the retention policy to authenticated backups; never delete what nobody sealed.',
    description:
      'Deletes backups that no retention rule keeps, with restic forget semantics: rules are ORed; --keep-last N keeps the N newest; ' +
      '--keep-hourly/daily/weekly/monthly/yearly N keep the newest backup in each of the N most recent periods (UTC, ISO weeks) that have one; ' +
      '--keep-within D keeps every backup within D of the newest backup. Pre-restore backups are kept --keep-pre-restore-within (30d) and ' +
      'never take a scheduled slot. Only AUTHENTICATED backups take part (sealed by a trusted key, this cluster, whole); the newest of each ' +
      'kind is never deleted, an empty policy is refused, and a run that would delete more than --max-delete-share deletes nothing. ' +
      'Everything else (unsealed, forged, foreign, future, damaged) is reported and left alone; --delete-unauthenticated ID removes one ' +
      "after you checked it. Unless --offline, prune holds the backup job's Lease and keeps any backup a restore or drill in the cluster " +
      'reads. The backup job runs retention automatically after a successful backup when any --keep-* option is set.',
    examples: [
      'secret-steward prune --cluster-name prod --store s3://backups/k8s --trusted-signer-key /keys/signer.public.asc --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run',
      'secret-steward prune ... --delete-unauthenticated 20301201T000000Z-ffffff   # after checking what list-backups says about it',
    ],
  },
  settings: pruneSettings,
  validate: validatePruneSettings,
  run: async (settings, ctx) => (await import('../shared/backup/prune-job.js')).runPruneJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(pruneCommand, process.argv.slice(2));
