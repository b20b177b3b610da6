import type { V1Secret } from '@kubernetes/client-node';
import type { BackupIndex } from '../../shared/backup/backup-index.js';
import { parseBackupIndex } from '../../shared/backup/backup-index-schema.js';
import type { BackupLayout } from '../../shared/backup/backup-layout.js';
import { type BackupOptions, runBackup } from '../../shared/backup/run-backup.js';
import type { SecretPage } from '../../shared/backup/secret-source.js';
import { decryptAndVerify, encryptBytes, loadDecryptionKeys, loadRecipientKeys, loadSigningKey } from '../../shared/crypto/index.js';
import type { Logger } from '../../shared/log/index.js';
import { systemClock } from '../../shared/runtime/clock.js';
import { Shutdown } from '../../shared/runtime/shutdown.js';
import type { ObjectStore } from '../../shared/storage/index.js';
import type { TestKeyFiles } from './job-harness.js';

/** The cluster UID tests seal backups with when they do not name one. */
export const TEST_CLUSTER_UID = 'test-cluster-uid';

/**
 * Takes a backup of exactly `items` with the backup job's own code (runBackup, from an
 * in-memory source instead of a list), encrypted to `recipient`, signed and sealed by `signer`
 * (for `clusterUid`), with no shrink guard. `unsealed`: made into a backup as release 0.1.0
 * wrote it (see {@link rewriteIndex}). Returns its id.
 */
export async function writeBackup(
  items: V1Secret[],
  to: { store: ObjectStore; layout: BackupLayout; recipient: TestKeyFiles; signer: TestKeyFiles; log: Logger; clusterUid?: string },
  o: Partial<Pick<BackupOptions, 'segmentBytes' | 'compression' | 'kind' | 'allowEmpty'>> & { unsealed?: boolean } = {},
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
      clusterUid: to.clusterUid ?? TEST_CLUSTER_UID,
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
    },
  );
  if (o.unsealed) await rewriteIndex(to, r.backupId, () => {});
  return r.backupId;
}

/**
 * Decrypts backup `id`'s index, lets `edit` change it, and stores it again encrypted to
 * `recipient` and signed by `signer`, as a backup made before seals existed: its index says
 * release 0.1.0 wrote it (unless `edit` says otherwise), and its seal is removed.
 */
export async function rewriteIndex(
  to: { store: ObjectStore; layout: BackupLayout; recipient: TestKeyFiles; signer: TestKeyFiles },
  id: string,
  edit: (i: BackupIndex) => void,
): Promise<void> {
  const decryptionKeys = await loadDecryptionKeys([to.recipient.privateKey], to.recipient.passphraseFile);
  const { plaintext } = await decryptAndVerify(await to.store.getBytes(to.layout.indexKey(id)), { decryptionKeys, trustedSigners: [] });
  const parsed = parseBackupIndex(Buffer.from(plaintext).toString());
  if (!('index' in parsed)) throw new Error(`index of ${id} does not parse: ${parsed.problems.join('; ')}`);
  parsed.index.toolVersion = '0.1.0';
  edit(parsed.index);
  const { keys: recipients } = await loadRecipientKeys([to.recipient.publicKey], { now: new Date(), warnWithinMs: 0 });
  const signing = await loadSigningKey(to.signer.privateKey, to.signer.passphraseFile, { now: new Date() });
  await to.store.put(
    to.layout.indexKey(id),
    await encryptBytes(Buffer.from(JSON.stringify(parsed.index)), { recipients, signingKey: signing.key }),
  );
  await to.store.delete([to.layout.sealKey(id)]);
}
