import { BackupLayout } from '../backup/backup-layout.js';
import { loadSealTrust } from '../backup/catalogue-settings.js';
import { loadSigningKey, type SigningKey } from '../crypto/index.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { createKubeClients, loadKubeConfig, readClusterUid, withJobLock } from '../kube/index.js';
import type { CommandContext } from '../runtime/command.js';
import { renderTable } from '../runtime/format.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { createObjectStore } from '../storage/index.js';
import { loadVerificationKeys } from '../verify-restore/verification-keys.js';
import type { AdoptSettings } from './adopt-settings.js';
import { runAdopt } from './run-adopt.js';

/** Version of the `-o json` document; changes are listed in CHANGELOG.md. */
export const ADOPT_FORMAT = 'secret-steward.io/adopt/v1';

/**
 * `secret-steward adopt`: a one-off run after upgrading from a release before seals. Holds the
 * backup job's Lease (no backup or prune runs meanwhile), reads the cluster's UID unless
 * --cluster-uid names it, and seals every backup it can verify. Exit 1 when any failed.
 */
export async function runAdoptJob(s: AdoptSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const now = ctx.clock.now();
  const keys = await loadVerificationKeys(s);
  const load = (file: string | undefined, passphrase: string | undefined, flag: string) =>
    file === undefined
      ? undefined
      : loadSigningKey(file, passphrase, { now, setting: `--${flag}`, passphraseSetting: `--${flag}-passphrase-file` }).then((k) => k.key);
  const [scheduled, preRestore] = await Promise.all([
    load(s.signingKey, s.signingKeyPassphraseFile, 'signing-key'),
    load(s.preRestoreSigningKey, s.preRestoreSigningKeyPassphraseFile, 'pre-restore-signing-key'),
  ]);
  const signers: Partial<Record<'scheduled' | 'pre-restore', SigningKey>> = {
    ...(scheduled ? { scheduled } : {}),
    ...(preRestore ? { 'pre-restore': preRestore } : {}),
  };
  const kube = createKubeClients(loadKubeConfig(s, ctx.io.env), {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const clusterUid = s.clusterUid ?? (await readClusterUid(kube.core, kube.caller));
  // Before the Lease and any write: a key the trust lists as retired, or does not list at all,
  // would seal what every reader calls forged.
  const own = Object.entries(signers).map(([kind, key]) => ({ kind: kind as keyof typeof signers, key }));
  const trust = await loadSealTrust(s, { now, clusterUid, own, unlistedOwn: 'refuse' });
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const run = () =>
    runAdopt(
      { store, layout, keys, trust, signers, clusterUid, log: ctx.log, clock: ctx.clock, shutdown: ctx.shutdown },
      { ids: s.backup, dryRun: s.dryRun },
    );
  const results = s.dryRun ? await run() : await withJobLock('backup', s, kube, ctx, run);
  if (isDocumentOutput(s.output))
    ctx.io.stdout.write(renderDocument({ format: ADOPT_FORMAT, dryRun: s.dryRun, clusterUid, backups: results }, s.output));
  else if (results.length === 0)
    ctx.io.stdout.write(`Nothing to adopt: every backup under ${store.location}/${layout.backupsPrefix()} with an index is sealed.\n`);
  else
    ctx.io.stdout.write(
      renderTable(
        ['BACKUP', 'KIND', 'RESULT', 'DETAIL'],
        results.map((r) => [r.id, r.kind ?? '-', r.result, r.detail]),
      ),
    );
  return results.some((r) => r.result === 'failed') ? ExitCode.Failed : ExitCode.Success;
}
