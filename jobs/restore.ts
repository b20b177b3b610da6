import { restoreSettings, validateRestoreSettings } from '../shared/restore/restore-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward restore`: the one-off restore an operator runs as a Job. */
export const restoreCommand = defineCommand({
  help: {
    name: 'restore',
    summary: 'Restore Secrets from a backup (create missing, or overwrite with undo).',
    description:
      "Restores Secrets from a backup after verifying ALL of it exactly like verify-restore does (signature, identity, every segment's " +
      'SHA-256, decryption, every Secret against its recorded hash): nothing is written from a backup that fails verification.\n' +
      'Modes: create-missing (default) creates Secrets that do not exist and never touches an existing one; overwrite also replaces ' +
      'existing Secrets whose content differs, after saving them in an automatic pre-restore backup (normal backup format, kind ' +
      'pre-restore) so that the restore can be undone by restoring that backup. Immutable Secrets (and type changes) are only replaced, ' +
      'by delete and create, with --recreate-immutable. Service-account and bootstrap token Secrets are never restored.\n' +
      'Filters (--namespace, --name, --selector) use the namespaces, names and labels AS IN THE BACKUP; --map-namespace changes where they ' +
      'are written. A target namespace that does not exist is an error unless --create-namespaces.',
    examples: [
      'secret-steward restore --cluster-name prod --store s3://backups/k8s --decryption-key /keys/private.asc --decryption-key-passphrase-file /keys/pass \\\n' +
        '    --trusted-signer-key /keys/signer.asc --dry-run                                   # the plan: what would be created, nothing written',
      'secret-steward restore ... --namespace payments --create-namespaces                   # DR: bring back one namespace',
      'secret-steward restore ... --name payments/db-creds --mode overwrite --recipient-key /keys/public.asc',
      'secret-steward restore ... --map-namespace payments=payments-restored --create-namespaces   # side by side, for inspection',
      'secret-steward restore ... --backup 20261127T101500Z-a1b2c3 --mode overwrite --recreate-immutable --recipient-key ...   # undo: restore the pre-restore backup',
    ],
    notes: [
      'Exit codes: 0 every planned write succeeded (skipped Secrets are reported, not failures); 1 the backup failed verification, nothing matched, ' +
        'a --name is not in the backup, or a Secret could not be written; 2 configuration error (including missing target namespaces without --create-namespaces); ' +
        '3 another restore holds the lock; 4 the API server or store stayed unavailable; 143 interrupted (the output says how far it got).',
      'Output lists every selected Secret with its action (create, overwrite, recreate, unchanged, skip) and result, never values.',
      'An overwrite is guarded by the resourceVersion the pre-restore backup saved: a Secret changed in between is not overwritten (reported as failed; run again).',
    ],
  },
  settings: restoreSettings,
  validate: validateRestoreSettings,
  run: async (settings, ctx) => (await import('../shared/restore/restore-job.js')).runRestoreJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(restoreCommand, process.argv.slice(2));
