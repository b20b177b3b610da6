import { runSettings } from '../shared/run/run-settings.js';
import { defineCommand, isEntrypoint, runCommand as runCommandLine } from '../shared/runtime/command.js';

/** `secret-steward run`: a one-off Job from an installed CronJob (or the restore Job), with arguments. */
export const runCommand = defineCommand({
  help: {
    name: 'run',
    usage: 'secret-steward run backup|verify-restore|rotate|restore|rekey [options] [-- ARGUMENTS]',
    summary:
      'Run backup, verify-restore, rotate, restore or rekey now as a one-off Job with extra arguments, follow it, exit with its code.',
    description:
      'secret-steward run COMMAND [-- ARGUMENTS] makes a Job from the jobTemplate of the installed CronJob secret-steward-COMMAND (restore ' +
      'and rekey, which have no CronJob: from --job-file, the shipped manifests/jobs/COMMAND/COMMAND-job.yaml or your rendered overlay), like ' +
      '`kubectl create job --from=cronjob/...` (annotation cronjob.kubernetes.io/instantiate=manual, owned by the CronJob), with ARGUMENTS ' +
      "appended to the container's arguments. The arguments are checked against COMMAND's own options first: a typo fails here (exit 2) " +
      "and no Job is created. Then it creates the Job, streams its pods' logs to stdout, waits for the Job's Complete or Failed condition, " +
      "and exits with the exit code of the Job's last container, so 0/1/2/3/4 mean what they mean for COMMAND. The Job runs with the " +
      "CronJob's ServiceAccount, settings and key files; run itself uses your kubeconfig.",
    examples: [
      'secret-steward run backup',
      'secret-steward run verify-restore -- --backup 20261127T031500Z-3f9a1c',
      'secret-steward run restore --job-file manifests/jobs/restore/restore-job.yaml -- --backup latest --namespace payments --dry-run',
      'secret-steward run rotate --dry-run -- --namespace payments   # print the Job, create nothing',
      'secret-steward run rekey --job-file manifests/jobs/rekey/rekey-job.yaml -- --only 20261127T031500Z-3f9a1c',
    ],
    notes: [
      'Permissions of your identity in --job-namespace: get cronjobs (not with --job-file), create jobs, get jobs, list pods, get pods/log. ' +
        'A missing one is reported naming it (exit 2). See docs/one-off-jobs.md.',
      'Ctrl-C stops following (exit 143); the Job keeps running: kubectl -n secret-steward logs -f job/NAME.',
      'Exit codes: those of COMMAND; 1 also when the Job failed without a container exit code (deadline exceeded).',
    ],
  },
  settings: runSettings,
  maxPositionals: Number.POSITIVE_INFINITY,
  run: async (settings, ctx, positionals) => (await import('../shared/run/run-job.js')).runRunJob(settings, ctx, positionals),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommandLine(runCommand, process.argv.slice(2));
