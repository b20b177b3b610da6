import { rekeySettings, validateRekeySettings } from '../shared/rekey/rekey-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward rekey`: key rollover for existing backups, run as its own Job. */
export const rekeyCommand = defineCommand({
  help: {
    name: 'rekey',
    summary: 'Re-encrypt retained backups to the current recipient keys (key rollover); crash-safe.',
    description:
      'For each retained, authenticated backup not yet encrypted to exactly the --recipient-key set: verifies it as restore would ' +
      '(seal, signed index, every Secret), writes its segments and index re-encrypted BESIDE the old ones (the index keeps its ' +
      "original signature; nothing is decompressed or re-signed), checks the new copy, then switches the backup's seal to a rekey " +
      'seal in one write and removes the old objects (every version). Whenever it stops, each backup has one complete, verifiable ' +
      "copy; the next run removes what an interrupted one left. The rekey seal is signed with rekey's OWN key (--rekey-signing-key), " +
      'which the other commands trust with --rekey-signer-key only for where a re-encrypted copy is stored: what a backup is, and ' +
      "its Secrets' digests, still come from the backup job's signatures (docs/rekey.md). It holds the backup job's Lease and leaves " +
      'any backup a restore or drill is reading for a later run. On a bucket with Object Lock the old versions stay until their lock ' +
      'expires; the output says so.',
    examples: [
      'secret-steward rekey --cluster-name prod --store s3://backups/k8s --decryption-key /keys/old.private.asc \\\n' +
        '    --decryption-key-passphrase-file /keys/old.pass --trusted-signer-key /keys/signer.public.asc \\\n' +
        '    --recipient-key /keys/new.public.asc --rekey-signing-key /keys/rekey.private.asc --dry-run',
      'secret-steward rekey ... --only 20261127T031500Z-3f9a1c   # one backup',
    ],
    notes: [
      'Exit codes: 0 every backup that needed it was re-encrypted (or the dry run listed them); 1 a backup could not be re-encrypted ' +
        '(its current copy is kept whole; run again); 2 configuration error (including a --rekey-signing-key that is a backup signer); ' +
        '3 a backup or prune holds the Lease; 4 the API server or store stayed unavailable; 143 interrupted (run again: it resumes).',
    ],
  },
  settings: rekeySettings,
  validate: validateRekeySettings,
  run: async (settings, ctx) => (await import('../shared/rekey/rekey-job.js')).runRekeyJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(rekeyCommand, process.argv.slice(2));
