import assert from 'node:assert/strict';
import type { V1Secret } from '@kubernetes/client-node';
import { type BackupIndex, INDEX_FORMAT, type LoadedIndex, type SecretEntry, SecretTable } from '../../../shared/backup/backup-index.js';
import { secretDataDigest } from '../../../shared/backup/secret-digest.js';
import type { SecretStore } from '../../../shared/kube/index.js';
import { createLogger, Redactor } from '../../../shared/log/index.js';
import { compareWithLive } from '../../../shared/verify-restore/drift.js';

const log = createLogger({ sink: { write: () => {} }, redactor: new Redactor() });

function secret(namespace: string, name: string, value: string, type = 'Opaque'): V1Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name }, type, data: { v: Buffer.from(value).toString('base64') } };
}

function indexOf(secrets: V1Secret[], selection: Partial<BackupIndex['selection']> = {}): LoadedIndex {
  const entries: SecretEntry[] = secrets.map((s) => ({
    namespace: s.metadata!.namespace!,
    name: s.metadata!.name!,
    type: s.type!,
    dataSha256: secretDataDigest(s.data),
    segment: 1,
  }));
  return {
    format: INDEX_FORMAT,
    backupId: '20261207T000000Z',
    cluster: 'c',
    kind: 'scheduled',
    createdAt: '2026-12-07T00:00:00.000Z',
    completedAt: '2026-12-07T00:00:01.000Z',
    toolVersion: '0.2.0',
    listResourceVersion: '1',
    selection: { namespaces: [], excludeNamespaces: [], excludeTypes: [], ...selection },
    compression: 'gzip',
    recipients: [],
    segments: [{ name: 'segment-00001.json.gz.pgp', size: 1, sha256: 'f'.repeat(64), items: entries.length, plaintextBytes: 1 }],
    secrets: SecretTable.of(entries, entries.length),
    totals: { secrets: entries.length, segments: 1, storedBytes: 1, plaintextBytes: 1 },
  };
}

/** A SecretStore whose list answers `live` in pages of `pageSize`, filtered by namespace. */
function liveStore(live: V1Secret[], pageSize = 3): Pick<SecretStore, 'list'> {
  return {
    async *list(namespace) {
      const items = live.filter((s) => namespace === undefined || s.metadata?.namespace === namespace);
      for (let i = 0; i < items.length; i += pageSize) yield { items: items.slice(i, i + pageSize), resourceVersion: '2' };
    },
  } as Pick<SecretStore, 'list'>;
}

describe('shared/verify-restore/drift', () => {
  it('counts changed, deleted, created and unchanged Secrets by namespace and name, with sorted examples', async () => {
    const backedUp = Array.from({ length: 2000 }, (_, i) => secret(`ns-${i % 37}`, `s-${i}`, `value-${i}`));
    // Same name in another namespace, and a name that is the other's namespace/name split differently.
    backedUp.push(secret('a', 'b-c', 'x'), secret('a-b', 'c', 'y'), secret('ünï', 'cödé', 'z'));
    const key = (x: V1Secret) => `${x.metadata!.namespace}/${x.metadata!.name}`;
    const deleted = backedUp.filter((_, i) => i % 100 === 7);
    const changed = backedUp.filter((_, i) => i % 250 === 3);
    const live = backedUp
      .filter((s) => !deleted.includes(s))
      .map((s) => (changed.includes(s) ? secret(s.metadata!.namespace!, s.metadata!.name!, 'rotated') : s));
    live.push(secret('ns-1', 's-new', 'n'), secret('a', 'c', 'y'), secret('ünï', 'cödé2', 'z'));

    const d = await compareWithLive(liveStore(live), indexOf(backedUp), { pageSize: 3, log, checkpoint: () => {} });

    assert.equal(d.deletedSince, 20);
    assert.equal(d.changedSince, 8);
    assert.equal(d.missingFromBackup, 3);
    assert.equal(d.unchanged, backedUp.length - 20 - 8);
    assert.deepEqual(d.examples.missingFromBackup, ['a/c', 'ns-1/s-new', 'ünï/cödé2']);
    assert.deepEqual(d.examples.deletedSince, deleted.map(key).sort());
    assert.deepEqual(d.examples.changedSince, changed.map(key).sort());
  });

  it('compares an empty and a one-Secret backup', async () => {
    const one = [secret('ns', 'only', 'v')];

    const same = await compareWithLive(liveStore(one), indexOf(one), { pageSize: 1, log, checkpoint: () => {} });
    const none = await compareWithLive(liveStore(one), indexOf([]), { pageSize: 1, log, checkpoint: () => {} });
    const gone = await compareWithLive(liveStore([]), indexOf(one), { pageSize: 1, log, checkpoint: () => {} });

    assert.deepEqual([same.unchanged, same.deletedSince, same.missingFromBackup, same.changedSince], [1, 0, 0, 0]);
    assert.deepEqual([none.unchanged, none.missingFromBackup], [0, 1]);
    assert.deepEqual([gone.deletedSince, gone.examples.deletedSince], [1, ['ns/only']]);
  });
});
