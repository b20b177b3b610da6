import { listBackupsSettings, validateListBackupsSettings } from '../shared/backup/list-backups-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward list-backups`: one cluster's backup catalogue, from the store alone. */
export const listBackupsCommand = defineCommand({
  help: {
    name: 'list-backups',
    summary: 'List backups: id, time, complete or not, items, size, age, last drill result.',
    description:
      "Lists one cluster's backups, newest first, from the store alone: no private key is needed, because counts, sizes and " +
      "completion are kept as object metadata of each backup's index (never Secret names). A backup without its index is " +
      'INCOMPLETE and is never a restore point. LAST DRILL is the newest verify-restore report for that backup.',
    examples: ['secret-steward list-backups --cluster-name prod --store s3://backups/k8s', 'secret-steward list-backups ... --output json'],
  },
  settings: listBackupsSettings,
  validate: validateListBackupsSettings,
  run: async (settings, ctx) => (await import('../shared/backup/list-backups-job.js')).runListBackupsJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(listBackupsCommand, process.argv.slice(2));
