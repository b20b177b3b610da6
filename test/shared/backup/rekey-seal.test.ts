import assert from 'node:assert/strict';
import { readCatalogue } from '../../../shared/backup/backup-catalog.js';
import { generationName, INDEX_NAME } from '../../../shared/backup/backup-layout.js';
import {
  type BackupSeal,
  judgeSeal,
  REKEY_SEAL_FORMAT,
  type RekeySeal,
  type SealVerdict,
  signRekeySeal,
} from '../../../shared/backup/backup-seal.js';
import { signCleartext } from '../../../shared/crypto/index.js';
import { CLUSTER, type SealedBucket, useSealedBuckets } from './catalogue-fixtures.js';

const NOW = new Date('2026-12-07T12:00:00Z');

/**
 * The rekey seal's trust model (docs/rekey.md): a rekey key vouches only for where a backup's
 * re-encrypted copy is stored; every fact about the backup comes from the original seal it
 * carries, judged as any seal. Here `stranger` plays the rekey key.
 */
describe('shared/backup/backup-seal (rekey seals)', function () {
  this.timeout(60_000);
  let b: SealedBucket;
  useSealedBuckets((x) => {
    b = x;
  });

  const trust = () => b.trust(NOW, { rekeySigners: b.trusted.stranger });
  const verdict = (id: string, t = trust()): Promise<SealVerdict> => judgeSeal(b.store, b.layout, id, t);
  const reason = (v: SealVerdict) => ('reason' in v ? v.reason : v.status);
  const sealText = async (id: string) => (await b.store.getBytes(b.layout.sealKey(id))).toString();

  /** A rekey seal of backup `id` carrying `original`, naming generation 1's objects as the fixture stored them. */
  async function rekeyed(id: string, original: string, o: Partial<RekeySeal> = {}, by = b.keys.stranger): Promise<void> {
    const v = await verdict(id);
    const seal = v.status === 'sealed' ? v.seal : (undefined as unknown as BackupSeal);
    const rk: RekeySeal = {
      format: REKEY_SEAL_FORMAT,
      backupId: id,
      cluster: CLUSTER,
      generation: 1,
      rekeyedAt: '2026-12-07T11:00:00.000Z',
      toolVersion: 'test',
      original,
      index: { name: generationName(INDEX_NAME, 1), ...seal.index },
      segments: seal.segments.map((s) => ({ ...s, name: generationName(s.name, 1) })),
      recipients: ['NEWKEY'],
      ...o,
    };
    for (const s of [{ name: INDEX_NAME }, ...seal.segments]) {
      await b.put(
        `${b.layout.backupPrefix(id)}${generationName(s.name, rk.generation)}`,
        await b.store.getBytes(b.layout.backupPrefix(id) + s.name),
      );
    }
    await b.put(b.layout.sealKey(id), await signRekeySeal(rk, by, new Date('2026-12-07T11:00:00Z')));
  }

  it('a rekey seal by a trusted rekey key is sealed with every fact of the original seal and the new copy as stored objects', async () => {
    const id = await b.backup('2026-12-07T03:00:00Z');
    const original = await sealText(id);
    const before = await verdict(id);

    await rekeyed(id, original);
    const v = await verdict(id);
    const catalogue = await readCatalogue(b.store, b.layout, trust());

    assert.equal(v.status, 'sealed', reason(v));
    assert.deepEqual(v.status === 'sealed' && v.seal, before.status === 'sealed' && before.seal);
    assert.equal(
      v.status === 'sealed' && v.signer,
      b.trusted.scheduled[0].fingerprint,
      'the signer is the backup signer, not the rekey key',
    );
    assert.equal(v.status === 'sealed' && v.rekey?.signer, b.trusted.stranger[0].fingerprint);
    assert.deepEqual(v.status === 'sealed' && v.rekey?.recipients, ['NEWKEY']);
    assert.ok(catalogue.entries[0].authenticated, JSON.stringify(catalogue.entries[0].damage));
  });

  const forged: { name: string; make: (id: string, original: string) => Promise<void>; reason: RegExp }[] = [
    {
      name: 'a rekey seal carrying an original signed by the rekey key itself (a rekey key inventing a backup)',
      make: async (id, original) => {
        const text = original.split('\n').find((l) => l.startsWith('{')) as string;
        await rekeyed(id, await signCleartext(text, b.keys.stranger, { now: new Date('2026-12-07T03:00:00Z') }));
      },
      reason: /original seal it carries is not believed: its seal is signed by [0-9A-F]+, which is not a trusted signer/,
    },
    {
      name: "a rekey seal carrying another backup's original seal (a rekey key replaying a backup under a new id)",
      make: async (id) => {
        const other = await b.backup('2026-12-07T02:00:00Z', { suffix: 'aaaaaa' });
        await rekeyed(id, await sealText(other));
      },
      reason: /original seal it carries is not believed: its seal names backup 20261207T020000Z-aaaaaa/,
    },
    {
      name: 'a rekey seal whose objects are not the generation names of the original segments',
      make: async (id, original) => rekeyed(id, original, { index: { name: 'index.r2.json.pgp', size: 1, sha256: '0'.repeat(64) } }),
      reason: /names other objects than the 2 segments and the index of generation 1/,
    },
    {
      name: 'a plain seal signed by the rekey key',
      make: async (id, original) => {
        const text = original.split('\n').find((l) => l.startsWith('{')) as string;
        await b.put(b.layout.sealKey(id), await signCleartext(text, b.keys.stranger, { now: new Date('2026-12-07T03:00:00Z') }));
      },
      reason: /signed by [0-9A-F]+, a rekey key, which may not seal a backup/,
    },
  ];
  for (const c of forged) {
    it(`forged: ${c.name}`, async () => {
      const id = await b.backup('2026-12-07T03:00:00Z');
      await c.make(id, await sealText(id));

      const v = await verdict(id);

      assert.equal(v.status, 'forged', reason(v));
      assert.match(reason(v), c.reason);
    });
  }

  it('a rekey seal is forged where the rekey key is not trusted', async () => {
    const id = await b.backup('2026-12-07T03:00:00Z');
    await rekeyed(id, await sealText(id));

    const v = await verdict(id, b.trust(NOW));

    assert.equal(v.status, 'forged');
    assert.match(reason(v), /signed by [0-9A-F]+, which is not a trusted signer/);
  });

  it('a rekey seal signed by a backup signer is forged: only a trusted rekey key may sign one', async () => {
    const id = await b.backup('2026-12-07T03:00:00Z');
    await rekeyed(id, await sealText(id), {}, b.keys.scheduled);

    const v = await verdict(id);

    assert.equal(v.status, 'forged');
    assert.match(reason(v), /its rekey seal is signed by [0-9A-F]+, which is not a trusted rekey key \(--rekey-signer-key\)/);
  });
});
