import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';
import { statusSettings, validateStatusSettings } from '../shared/status/status-settings.js';

/** `secret-steward status`: one read-only overview of rotation, backups, drills and keys (logic in shared/status/). */
export const statusCommand = defineCommand({
  help: {
    name: 'status',
    summary: 'One overview: rotation policies, latest backups and drills, key expiry, anything overdue.',
    description: [
      'Reads the cluster and the store (nothing is written) and shows where every Secret stands:',
      '  rotation  each Secret with a secret-steward.io/rotation policy: schedule, last rotated, next due, strategy, consumers (the workloads a rotation restarts), last outcome',
      '  backups   the newest authenticated backups (sealed by --trusted-signer-key / --pre-restore-signer-key): id, age, items, size, last drill; and every object that is not one',
      '  drills    the newest DR drill and the newest one that passed with a report that verifies by --drill-signer-key',
      '  keys      expiry of the recipient and signer keys',
      'Overdue, highlighted and exit 1: a rotation due for longer than --rotation-grace; a policy that cannot be used (invalid); ' +
        'no authenticated backup, or (with --backup-schedule) a newest one older than the schedule allows; a backup that is not authenticated; ' +
        'no drill with a verified report passed within --drill-max-age; ' +
        'an expired or revoked key. Warnings (exit 0): a last rotation that did not succeed, a latest drill that failed, keys expiring within --key-expiry-warning.',
    ].join('\n'),
    examples: [
      'secret-steward status --cluster-name prod --store s3://backups/k8s --backup-schedule "15 3 * * *" --recipient-key /keys/recipient.asc',
      'secret-steward status --namespace payments   # rotation only (no --store)',
      'secret-steward status ... --output json | jq .problems   # gate a pipeline: exit 1 when anything is overdue',
    ],
    notes: [
      'Exit codes: 0 nothing overdue; 1 something overdue (see "Overdue"); 2 bad settings; 4 the API server or the store was unreachable.',
      'Needs list on Secrets (like rotate) and on Deployments, StatefulSets, DaemonSets and CronJobs (and Argo Rollouts, when they are to be listed) in the namespaces with policies, and read access (list, head) to the store. No private key.',
    ],
  },
  settings: statusSettings,
  validate: validateStatusSettings,
  run: async (settings, ctx) => (await import('../shared/status/status-job.js')).runStatusJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(statusCommand, process.argv.slice(2));
