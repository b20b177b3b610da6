import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';
import { secretAgeSettings, validateSecretAgeSettings } from '../shared/status/secret-age-settings.js';

/** `secret-steward secret-age`: when each backed-up Secret's data last changed, from the backup history. */
export const secretAgeCommand = defineCommand({
  help: {
    name: 'secret-age',
    summary: 'Report when each backed-up Secret last changed; flag those unchanged too long.',
    description:
      "Kubernetes does not record when a Secret's data last changed; the backups do. secret-age reads the indexes of the retained " +
      'scheduled backups sealed by a --trusted-signer-key, newest first, compares the per-Secret data digests they record, and reports ' +
      'for every Secret of the newest backup the oldest backup since which its data is the same ("at least" when that is the oldest ' +
      'backup retained). Secrets unchanged for longer than --max-unchanged are flagged, with or without a rotation policy; exit 1 when ' +
      'any is. Only indexes are decrypted, never a segment: no Secret value is read. Anything under the prefix that is not an ' +
      'authenticated backup is listed as skipped and never read. Needs the backup decryption key, like verify-restore.',
    examples: [
      'secret-steward secret-age --cluster-name prod --store s3://backups/k8s --decryption-key key.asc --trusted-signer-key signer.asc',
      'secret-steward secret-age ... --max-unchanged 180d -n payments --output json',
    ],
  },
  settings: secretAgeSettings,
  validate: validateSecretAgeSettings,
  run: async (settings, ctx) => (await import('../shared/status/secret-age-job.js')).runSecretAgeJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(secretAgeCommand, process.argv.slice(2));
