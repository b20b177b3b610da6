import assert from 'node:assert/strict';
import { judgeSeal, judgeSealText, MAX_SEAL_BYTES, type SealVerdict } from '../../../shared/backup/backup-seal.js';
import { signCleartext } from '../../../shared/crypto/index.js';
import { CLUSTER, CLUSTER_UID, type SealedBucket, useSealedBuckets } from './catalogue-fixtures.js';

const NOW = new Date('2026-12-07T12:00:00Z');

describe('shared/backup/backup-seal', function () {
  this.timeout(60_000);
  let b: SealedBucket;
  useSealedBuckets((x) => {
    b = x;
  });

  const verdict = async (id: string, trust = b.trust(NOW)): Promise<SealVerdict> => judgeSeal(b.store, b.layout, id, trust);
  const sealText = async (id: string) => (await b.store.getBytes(b.layout.sealKey(id))).toString();
  const reason = (v: SealVerdict) => ('reason' in v ? v.reason : v.status);

  it('a seal by the key of its kind, naming this backup, cluster and cluster UID, is sealed', async () => {
    const id = await b.backup('2026-12-07T03:00:00Z');
    const pre = await b.backup('2026-12-07T04:00:00Z', { kind: 'pre-restore' });

    const v = await verdict(id);
    const p = await verdict(pre);

    assert.equal(v.status, 'sealed');
    assert.equal(v.status === 'sealed' && v.seal.kind, 'scheduled');
    assert.equal(v.status === 'sealed' && v.signer, b.trusted.scheduled[0].fingerprint);
    assert.equal(p.status === 'sealed' && p.seal.kind, 'pre-restore');
    assert.match(await sealText(id), /^-----BEGIN PGP SIGNED MESSAGE-----\n/, 'a cleartext-signed message gpg --verify reads');
  });

  it('no seal object is unsealed', async () => {
    const id = await b.backup('2026-12-07T03:00:00Z');
    await b.store.delete([b.layout.sealKey(id)]);

    assert.deepEqual(await verdict(id), { status: 'unsealed' });
  });

  const forged: { name: string; make: (b: SealedBucket) => Promise<string>; reason: RegExp }[] = [
    {
      name: 'a seal signed by a key nobody trusts',
      make: (b) => b.backup('2026-12-07T03:00:00Z', { by: b.keys.stranger }),
      reason: /signed by [0-9A-F]+, which is not a trusted signer/,
    },
    {
      name: 'a scheduled seal signed by the pre-restore key (the restore identity vouching for a scheduled backup)',
      make: (b) => b.backup('2026-12-07T03:00:00Z', { by: b.keys.preRestore }),
      reason: /not trusted for scheduled backups/,
    },
    {
      name: 'a pre-restore seal signed by the backup key',
      make: (b) => b.backup('2026-12-07T03:00:00Z', { kind: 'pre-restore', by: b.keys.scheduled }),
      reason: /not trusted for pre-restore backups/,
    },
    {
      name: 'a real seal copied under a new id (replay)',
      make: async (b) => {
        const real = await b.backup('2026-12-07T03:00:00Z');
        const copy = '20301201T000000Z-ffffff';
        await b.put(b.layout.sealKey(copy), await b.store.getBytes(b.layout.sealKey(real)));
        return copy;
      },
      reason: /names backup 20261207T030000Z-000000: it was copied from another backup/,
    },
    {
      name: 'a truncated seal',
      make: async (b) => {
        const id = await b.backup('2026-12-07T03:00:00Z');
        const text = await b.store.getBytes(b.layout.sealKey(id));
        await b.put(b.layout.sealKey(id), text.subarray(0, text.length - 80));
        return id;
      },
      reason: /signature does not verify|not an OpenPGP cleartext-signed message/,
    },
    {
      name: 'a seal whose JSON was edited (kind flipped)',
      make: async (b) => {
        const id = await b.backup('2026-12-07T03:00:00Z');
        const text = (await b.store.getBytes(b.layout.sealKey(id))).toString().replace('"kind":"scheduled"', '"kind":"pre-restore"');
        await b.put(b.layout.sealKey(id), text);
        return id;
      },
      reason: /signature does not verify/,
    },
    {
      name: 'plain JSON that claims to be a seal',
      make: async (b) => {
        const id = '20261207T030000Z-aaaaaa';
        await b.put(b.layout.sealKey(id), `{"format":"secret-steward.io/backup-seal/v1","backupId":"${id}"}`);
        return id;
      },
      reason: /not an OpenPGP cleartext-signed message/,
    },
    {
      name: 'a seal larger than any seal',
      make: async (b) => {
        const id = '20261207T030000Z-bbbbbb';
        await b.put(b.layout.sealKey(id), Buffer.alloc(MAX_SEAL_BYTES + 1, 0x41));
        return id;
      },
      reason: /larger than 1048576 bytes/,
    },
  ];
  for (const c of forged) {
    it(`forged: ${c.name}`, async () => {
      const id = await c.make(b);

      const v = await verdict(id);

      assert.equal(v.status, 'forged', reason(v));
      assert.match(reason(v), c.reason);
    });
  }

  it('a valid seal of another cluster identity is foreign; unpinned readers see it as sealed', async () => {
    const id = await b.backup('2026-12-07T03:00:00Z', { clusterUid: 'another-cluster-uid' });

    const pinned = await verdict(id);
    const unpinned = await verdict(id, b.trust(NOW, { clusterUid: undefined }));

    assert.equal(pinned.status, 'foreign');
    assert.match(reason(pinned), /kube-system UID is another-cluster-uid, not this one/);
    assert.equal(unpinned.status, 'sealed');
  });

  it('a valid seal dated beyond the clock skew is future; within it, sealed', async () => {
    // Signed now (a signature dated in the future does not verify at all: forged).
    const far = await b.backup('2026-12-07T12:30:00Z', { signedAt: NOW });
    const near = await b.backup('2026-12-07T12:05:00Z', { signedAt: NOW });

    assert.equal((await verdict(far)).status, 'future');
    assert.equal((await verdict(near)).status, 'sealed');
  });

  it('a seal signed after the reader read its clock verifies within the clock skew; beyond it, forged', async () => {
    // A backup finishing while a drill, prune or status runs is signed after their clock was read.
    const during = await b.backup('2026-12-07T11:58:00Z', { signedAt: new Date('2026-12-07T12:03:00Z') });
    const beyond = await b.backup('2026-12-07T11:59:00Z', { signedAt: new Date('2026-12-07T12:11:00Z') });

    assert.equal((await verdict(during)).status, 'sealed');
    assert.equal((await verdict(beyond)).status, 'forged');
    assert.match(reason(await verdict(beyond)), /signature does not verify/);
  });

  it('judges the signed text: a seal naming another cluster name, or a time its id does not carry, is forged', async () => {
    const base = {
      format: 'secret-steward.io/backup-seal/v1',
      backupId: '20261207T030000Z-abcdef',
      cluster: CLUSTER,
      clusterUid: CLUSTER_UID,
      kind: 'scheduled',
      createdAt: '2026-12-07T03:00:00.000Z',
      completedAt: '2026-12-07T03:01:00.000Z',
      toolVersion: 'test',
      index: { size: 1, sha256: 'a'.repeat(64) },
      segments: [],
      totals: { secrets: 0, segments: 0, storedBytes: 0, plaintextBytes: 0 },
      recipients: [],
    };
    const judge = async (o: Record<string, unknown>, id = base.backupId) =>
      judgeSealText(await signCleartext(JSON.stringify({ ...base, ...o }), b.keys.scheduled, { now: NOW }), CLUSTER, id, b.trust(NOW));

    assert.equal((await judge({})).status, 'sealed');
    assert.match(reason(await judge({ cluster: 'staging' })), /names cluster staging, not prod/);
    assert.match(reason(await judge({ createdAt: '2026-12-06T03:00:00.000Z' })), /does not carry its sealed creation time/);
    assert.match(reason(await judge({ extra: 1 })), /signed but not a valid seal/);
    assert.match(reason(await judge({ backupId: '20261332T030000Z-abcdef' }, '20261332T030000Z-abcdef')), /backupId: not a backup id/);
  });
});
