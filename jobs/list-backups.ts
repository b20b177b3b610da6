import { listBackupsSettings, validateListBackupsSettings } from '../shared/backup/list-backups-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward list-backups`: one cluster's backup catalogue, from the store alone. */
export const listBackupsCommand = defineCommand({
  help: {
    name: 'list-backups',
    summary: 'List backups: id, kind, time, authenticated or why not, Secrets, size, last drill.',
    description:
      "Lists one cluster's backups, newest first, from the store and public keys alone. What a backup is (kind, creation time, " +
      'Secret count) is read from its seal, which must verify by --trusted-signer-key (scheduled) or --pre-restore-signer-key ' +
      '(pre-restore); anything else under the prefix is shown as not authenticated, with why (unsealed, forged, foreign, future, damaged): ' +
      'it is never a restore point. LAST DRILL is the newest verify-restore report for that backup, marked unverified unless it ' +
      'verifies by --drill-signer-key.',
    examples: ['secret-steward list-backups --cluster-name prod --store s3://backups/k8s', 'secret-steward list-backups ... --output json'],
  },
  settings: listBackupsSettings,
  validate: validateListBackupsSettings,
  run: async (settings, ctx) => (await import('../shared/backup/list-backups-job.js')).runListBackupsJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(listBackupsCommand, process.argv.slice(2));
