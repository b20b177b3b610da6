import { checkSettings, validateCheckSettings } from '../shared/check/check-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward check`: validates an installation for one job without writing anything (logic in shared/check/). */
export const checkCommand = defineCommand({
  help: {
    name: 'check',
    summary: 'Validate an installation for one job: settings, key files, store access, Kubernetes permissions. Writes nothing.',
    description: [
      'Checks what the job given by --for needs, and writes nothing anywhere:',
      '  settings     parsed and cross-checked like the job does (a bad one: exit 2)',
      '  keys         each key file given: public or private as its role needs, can encrypt / sign / decrypt, not expired (expiring within --key-expiry-warning: a warning)',
      '  store        one listing request under <cluster-name>/backups/: reachable, the bucket exists, the credentials may list (not rotate)',
      "  permissions  one SelfSubjectAccessReview per verb and resource the job's manifests grant it, as the identity of --kubeconfig (in a pod: the ServiceAccount)",
      'Each check has a verdict: ok, warning or failed, naming the setting or the object.',
    ].join('\n'),
    examples: [
      'secret-steward check --for backup --cluster-name prod --store s3://backups/k8s --recipient-key /keys/recipient.asc --signing-key /keys/signing.asc --signing-key-passphrase-file /keys/pass',
      'kubectl -n secret-steward create job --from=cronjob/secret-steward-backup check-backup  # after setting args to check --for backup ...',
      'secret-steward check --for rotate --output json | jq \'.checks[] | select(.verdict != "ok")\'',
    ],
    notes: [
      'Exit codes: 0 nothing failed (warnings allowed); 1 a check failed; 2 bad settings.',
      'Writes (S3 put and delete, Secret writes) are never tried: a store that may be listed but not written passes here and fails at the first backup.',
    ],
  },
  settings: checkSettings,
  validate: validateCheckSettings,
  run: async (settings, ctx) => (await import('../shared/check/check-job.js')).runCheckJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(checkCommand, process.argv.slice(2));
