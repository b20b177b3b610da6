import { adoptSettings, validateAdoptSettings } from '../shared/adopt/adopt-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward adopt`: seal the backups made before seals existed, once, after upgrading. */
export const adoptCommand = defineCommand({
  help: {
    name: 'adopt',
    summary: 'Seal backups made before 0.2.0, after verifying each in full (run once after upgrading).',
    description:
      'Backups made before 0.2.0 have no seal, so the jobs that hold only public keys (backup, prune, status, list-backups) cannot tell them ' +
      'from objects anyone could have put in the bucket: they are never deleted by retention and are reported as unsealed. adopt verifies each ' +
      'such backup exactly as restore would (its index decrypts and is signed by a --trusted-signer-key, every segment and Secret matches) and ' +
      'writes its seal, signed by the key of its kind (the kind from the signed index): --signing-key for scheduled backups, ' +
      '--pre-restore-signing-key for pre-restore ones. The cluster identity in the seal is the UID of the cluster adopt reaches (or --cluster-uid). ' +
      "It holds the backup job's Lease while it writes.",
    examples: [
      'secret-steward adopt --cluster-name prod --store s3://backups/k8s --decryption-key /keys/private.asc --decryption-key-passphrase-file /keys/pass \\\n' +
        '    --trusted-signer-key /keys/signer.public.asc --signing-key /keys/signer.private.asc --signing-key-passphrase-file /keys/signer.pass --dry-run',
    ],
    notes: [
      'Exit codes: 0 every candidate sealed (or, with --dry-run, verified); 1 a backup failed verification and was not sealed; 2 configuration error.',
    ],
  },
  settings: adoptSettings,
  validate: validateAdoptSettings,
  run: async (settings, ctx) => (await import('../shared/adopt/adopt-job.js')).runAdoptJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(adoptCommand, process.argv.slice(2));
