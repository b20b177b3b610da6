import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';
import { validateVerifyRestoreSettings, verifyRestoreSettings } from '../shared/verify-restore/verify-restore-settings.js';

/** `secret-steward verify-restore`: the scheduled DR drill (CronJob entrypoint). */
export const verifyRestoreCommand = defineCommand({
  help: {
    name: 'verify-restore',
    summary: 'DR drill: prove the latest backup is fresh, intact, decryptable and restorable.',
    description:
      'Runs a disaster-recovery drill against one backup and records the evidence. Checks, in order:\n' +
      '1. Freshness: the newest authenticated scheduled backup (its sealed time) is as recent as --backup-schedule says it must be (plus --freshness-grace)\n' +
      "2. Integrity: the seal and the index signature (--trusted-signer-key), that the index is this backup's and says what the seal says, every segment's size and SHA-256, decryption, every Secret against its recorded hash, the item counts\n" +
      '3. Validity: every Secret is a valid object: DNS-1123 names, data keys, base64 values, 1 MiB, the keys its type needs, tls.crt/tls.key parse as PEM and match, docker configs parse as JSON\n' +
      '4. Restorability: every Secret is created in --drill-namespace under a labelled drill name, read back and compared byte for byte, and deleted, in batches (--drill-batch-secrets, --drill-batch-mib): one list reads a batch back, one deletecollection removes it\n' +
      '5. Drift (--compare-live): the backup against the live Secrets, by hashes: created, deleted, changed since\n' +
      '6. Key health: keys that expire within --key-expiry-warning\n' +
      '7. Catalogue: every backup under the cluster is authenticated (forged, foreign, future or damaged ones, and stray objects, fail it; one made before seals passes when its index signature verifies, with a reminder to run adopt)\n' +
      'latest is the newest backup with a valid seal: never a forged or future one, however new its name.\n' +
      'The report (JSON with --output json, else a summary) is stored and signed next to the backups; list-backups shows the last result per backup. ' +
      'The drill needs only read access to the store, the keys, and create/list/deletecollection on Secrets in its drill namespace, so it runs as well from another cluster (the DR site).',
    examples: [
      'secret-steward verify-restore --cluster-name prod --store s3://backups/k8s --drill-namespace secret-steward-drill \\\n' +
        '    --decryption-key /keys/private.asc --decryption-key-passphrase-file /keys/passphrase --trusted-signer-key /keys/backup-signer.asc \\\n' +
        "    --backup-schedule '15 3 * * *' --backup-timezone Europe/Berlin --freshness-grace 2h --report-signing-key /keys/drill.asc",
      'secret-steward verify-restore ... --backup 20261127T031500Z-3f9a1c --output json   # drill one particular backup',
      'secret-steward verify-restore ... --compare-live   # also report drift against this cluster',
    ],
    notes: [
      'Exit codes: 0 every check passed (skipped checks aside); 1 a check failed (the report says which and why); 2 configuration error; 3 another drill holds the lock; ' +
        '4 a check could not complete because the API server or the store failed; 143 interrupted (drill objects are removed before exiting).',
      'Drill objects are labelled secret-steward.io/drill=<drill id> and secret-steward.io/drill-batch=<n>, and named drill-<drill id>.<namespace>.<name> (hashed when that would be too long). ' +
        'Each batch is deleted as soon as it is compared (while the next is created), so the drill namespace never holds more than two batches; at the end also on failure or SIGTERM; leftovers of an earlier drill that was killed are removed first. ' +
        'Without deletecollection in its Role the drill deletes copies one by one (verb delete) and warns.',
      'A wrong decryption key passphrase is a failed check (exit 1): it means this site cannot restore the backups.',
    ],
  },
  settings: verifyRestoreSettings,
  validate: validateVerifyRestoreSettings,
  run: async (settings, ctx) => (await import('../shared/verify-restore/verify-restore-job.js')).runVerifyRestoreJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(verifyRestoreCommand, process.argv.slice(2));
