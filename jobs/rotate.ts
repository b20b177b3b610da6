import { rotateSettings, validateRotateSettings } from '../shared/rotate/rotate-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward rotate`: scheduled, resumable Secret rotation with the shipped backends (logic in shared/rotate/). */
export const rotateCommand = defineCommand({
  help: {
    name: 'rotate',
    summary: 'Rotate Secrets whose rotation policy is due; roll out and verify consumers.',
    description: [
      'Finds Secrets carrying a secret-steward.io/rotation policy from their metadata alone (a metadata-only list: no value is read to find them), ' +
        'and for each one that is due (its schedule slot passed since the last rotation, its maxAge is reached, or secret-steward.io/rotate-now is ' +
        'set) reads it in full, checks it again (its type, immutability and keys) and runs the rotation protocol: create (new values in a pending companion ' +
        'Secret), set and test (a backend plug-in, when the policy names one: backends postgresql and mysql make the database accept the new password and log in with it before anything switches), finish (in-place: one resourceVersion-guarded write, previous values kept in ' +
        '<name>-previous; versioned: a new immutable Secret <base>-v<N>), rollout (each consuming Deployment, StatefulSet, DaemonSet and Argo Rollout restarted ' +
        "once per run; CronJobs repointed) and verify (until updated and available, bounded by the policy's waitReady). A consumer that does not " +
        'become ready rolls the rotation back. Every step is recorded before the next, so a run stopped at any point (crash, SIGTERM) is resumed ' +
        'by the next one without generating a second set of values.',
      '',
      'Secrets managed by other controllers (service-account tokens, Helm, External Secrets, Vault Secrets Operator, sealed-secrets, cert-manager, ' +
        'mittwald, any controller owner) are skipped with an Event. A Lease (secret-steward-rotate) lets one run act at a time. The policy ' +
        'format: docs/rotation.md.',
    ].join('\n'),
    examples: [
      'secret-steward rotate --dry-run',
      'secret-steward rotate --dry-run --now 2026-03-01T03:00:00Z --output json',
      'secret-steward rotate --namespace payments --max-rotations 20 --max-concurrent-rollouts 3',
      'kubectl annotate secret db-creds secret-steward.io/rotate-now=1   # due on the next run',
      "kubectl annotate secret db-creds secret-steward.io/rotation='{maxAge: 30d, keys: {password: password}, backend: {name: postgresql, host: db.shop.svc, sslRootCertKey: ca.crt}}'",
    ],
    notes: [
      "Exit codes: 0 all due Secrets rotated (or nothing due); 1 a Secret failed, was rolled back or has an invalid policy; 2 bad settings; 3 another run holds the lock; 4 the API or a backend's database was unreachable; 143 stopped by SIGTERM (the next run resumes).",
      'Logs and the report carry keyed fingerprints of new values (hmac:<12 hex>, HMAC-SHA-256 under a random per-run key unless --fingerprint-key-file gives one), never the values: they compare within one run only unless a key is configured.',
    ],
  },
  settings: rotateSettings,
  validate: validateRotateSettings,
  run: async (settings, ctx) => {
    const [{ runRotateJob }, { SHIPPED_BACKENDS }] = await Promise.all([
      import('../shared/rotate/rotate-job.js'),
      import('../shared/rotate/backends/index.js'),
    ]);
    return runRotateJob(settings, ctx, { backends: SHIPPED_BACKENDS });
  },
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(rotateCommand, process.argv.slice(2));
