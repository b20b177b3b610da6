import { keygenSettings, validateKeygenSettings } from '../shared/crypto/keygen-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward keygen`: create the OpenPGP key pair that backups are encrypted to. */
export const keygenCommand = defineCommand({
  help: {
    name: 'keygen',
    summary: 'Create an OpenPGP key pair for backups (public half for backup, private for restore).',
    usage:
      'secret-steward keygen --key-name NAME --email EMAIL --out-dir DIR [--passphrase-file FILE] [--type ecc|rsa] [--expires 2y|never]',
    description:
      'Creates an OpenPGP key pair (v4, readable by GnuPG 2.2 and later) for encrypting backups, and writes each half to its own ' +
      'file in DIR: <name>.public.asc (mode 0644), <name>.private.asc (passphrase-protected, mode 0600), <name>.revocation.asc ' +
      '(mode 0600) and, when no --passphrase-file is given, a generated <name>.passphrase (mode 0600). It prints the fingerprint ' +
      'and the commands that put each half where it belongs.\n' +
      'Where each half goes:\n' +
      "- PUBLIC key: into the backup job's Secret (secret-steward-backup-keys). The backup job only encrypts and must never hold a private key.\n" +
      '- PRIVATE key + passphrase: only where restores and DR drills run (secret-steward-restore-keys), never next to the backups.\n' +
      '- An OFFLINE copy of the private key, passphrase and revocation certificate (password manager, safe): the break-glass path, ' +
      'restorable with plain gpg --import and gpg --decrypt even without secret-steward or the cluster. Without the private key, the backups are unreadable.\n' +
      'The same command makes the three SIGNING keys, one pair each, each trusted for one thing only (docs/threat-model.md):\n' +
      '- backup signing key: private half in secret-steward-signing-key (the backup job signs and seals every backup); public half as --trusted-signer-key of verify-restore, restore, prune, status and list-backups.\n' +
      '- pre-restore signing key: private half in secret-steward-pre-restore-signing-key (the restore job seals the pre-restore backup it takes before overwriting); public half as pre-restore-signer.asc in secret-steward-backup-keys and secret-steward-restore-keys (--pre-restore-signer-key of backup, verify-restore, restore, prune, status and list-backups).\n' +
      '- drill report key: private half in secret-steward-drill-signing-key (components/drill-report-signing); public half as --drill-signer-key of status and list-backups.',
    examples: [
      'secret-steward keygen --key-name backups-prod --email backups@example.com --out-dir ./keys',
      'secret-steward keygen --key-name backups-prod --email backups@example.com --out-dir ./keys --passphrase-file ./pass --type rsa --rsa-bits 4096 --expires never',
      "secret-steward keygen --key-name pre-restore-prod --email backups@example.com --out-dir ./keys   # the restore job's own signing key",
    ],
    notes: [
      'Exit codes: 0 key pair written; 2 invalid settings, unreadable passphrase file, or key files already exist (nothing is written without --force); 1 the files could not be written.',
      'GnuPG may print "WARNING: key ... contains preferences for unavailable algorithms" (SHA3) when importing the key: harmless, gpg 2.2 simply does not use those.',
    ],
  },
  settings: keygenSettings,
  validate: validateKeygenSettings,
  run: async (settings, ctx) => (await import('../shared/crypto/keygen-job.js')).runKeygenJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(keygenCommand, process.argv.slice(2));
