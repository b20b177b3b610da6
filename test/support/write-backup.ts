import type { V1Secret } from '@kubernetes/client-node';
import type { BackupLayout } from '../../shared/backup/backup-layout.js';
import { type BackupOptions, runBackup } from '../../shared/backup/run-backup.js';
import type { SecretPage } from '../../shared/backup/secret-source.js';
import { loadRecipientKeys, loadSigningKey } from '../../shared/crypto/index.js';
import type { Logger } from '../../shared/log/index.js';
import { systemClock } from '../../shared/runtime/clock.js';
import { Shutdown } from '../../shared/runtime/shutdown.js';
import type { ObjectStore } from '../../shared/storage/index.js';
import type { TestKeyFiles } from './job-harness.js';

/**
 * Takes a backup of exactly `items` with the backup job's own code (runBackup, from an
 * in-memory source instead of a list), encrypted to `recipient` and signed by `signer`, with
 * no shrink guard. Returns its id.
 */
export async function writeBackup(
  items: V1Secret[],
  to: { store: ObjectStore; layout: BackupLayout; recipient: TestKeyFiles; signer: TestKeyFiles; log: Logger },
  o: Partial<Pick<BackupOptions, 'segmentBytes' | 'compression' | 'kind' | 'allowEmpty'>> = {},
): Promise<string> {
  const { keys: recipients } = await loadRecipientKeys([to.recipient.publicKey], { now: new Date(), warnWithinMs: 0 });
  const signing = await loadSigningKey(to.signer.privateKey, to.signer.passphraseFile, { now: new Date() });
  async function* source(): AsyncGenerator<SecretPage> {
    yield { items, resourceVersion: '1', restarted: false };
  }
  const r = await runBackup(
    {
      secrets: undefined as never, // the source replaces the list
      store: to.store,
      layout: to.layout,
      recipients,
      signingKey: signing.key,
      log: to.log,
      clock: systemClock,
      shutdown: new Shutdown(),
    },
    {
      selection: { namespaces: [], excludeNamespaces: [], excludeTypes: [] },
      compression: o.compression ?? 'gzip',
      segmentBytes: o.segmentBytes ?? 1024 * 1024,
      pageSize: 100,
      allowEmpty: o.allowEmpty ?? true,
      allowShrink: true,
      shrinkThreshold: 1,
      kind: o.kind,
      source: source(),
      skipShrinkGuard: true,
    },
  );
  return r.backupId;
}
