import { backupSettings, validateBackupSettings } from '../shared/backup/backup-settings.js';
import { BREAK_GLASS_RESTORE } from '../shared/crypto/break-glass.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward backup`: the scheduled backup job (CronJob entrypoint). */
export const backupCommand = defineCommand({
  help: {
    name: 'backup',
    summary: 'Back up Secrets, OpenPGP-encrypted on the client side, to S3 or a directory.',
    description:
      'Exports the selected Secrets (all namespaces by default; service-account and bootstrap tokens never), encrypts them on the client ' +
      'side with OpenPGP to the recipient public keys, and stores them as bounded segments, a signed, encrypted index, and last a ' +
      "seal: a cleartext-signed record of the backup's id, cluster (name and kube-system UID), kind, times, and every object's size " +
      'and SHA-256. Every object is read back and checked before the seal makes the backup complete. An attacker with the bucket ' +
      'learns nothing but counts and sizes. The job holds no decryption key.\n' +
      'Retention (--keep-*) then applies to AUTHENTICATED backups only (sealed by --signing-key, or a pre-restore backup sealed by ' +
      '--pre-restore-signer-key, of this cluster, whole): objects anyone else put in the bucket never take a keep slot and are never ' +
      'deleted; they are logged and reported in an Event (docs/threat-model.md).\n' +
      `Break-glass restore without secret-steward, one segment at a time: ${BREAK_GLASS_RESTORE}`,
    examples: [
      'secret-steward backup --cluster-name prod --store s3://backups/k8s --recipient-key /keys/recipient.asc --signing-key /keys/signing.asc --signing-key-passphrase-file /keys/signing.pass',
      'secret-steward backup --cluster-name prod --store file:///var/backups --recipient-key key.asc --dry-run',
      'secret-steward backup ... --keep-daily 7 --keep-weekly 4 --keep-monthly 12   # prune after success',
    ],
    notes: [
      'Safety rails: zero selected Secrets fails the run (exit 1) unless --allow-empty; a count that dropped by more than ' +
        '--shrink-threshold since the newest authenticated backup (its sealed count) fails unless --allow-shrink; an expired or revoked recipient key fails ' +
        'before anything is uploaded (exit 2).',
      'Retention never deletes the backup this run wrote, the newest authenticated backup of each kind, a backup a restore or drill in this ' +
        'cluster is reading, or more than --max-delete-share of the authenticated backups in one run (that run deletes nothing and exits 1).',
      'S3 credentials come from the AWS SDK default chain (AWS_SHARED_CREDENTIALS_FILE, AWS_ACCESS_KEY_ID/..., IRSA web identity), never from flags.',
    ],
  },
  settings: backupSettings,
  validate: validateBackupSettings,
  run: async (settings, ctx) => (await import('../shared/backup/backup-job.js')).runBackupJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(backupCommand, process.argv.slice(2));
