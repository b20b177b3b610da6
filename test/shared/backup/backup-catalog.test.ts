import assert from 'node:assert/strict';
import {
  AmbiguousCatalogueError,
  authenticatedBackups,
  latestAuthenticated,
  problemOf,
  readCatalogue,
} from '../../../shared/backup/backup-catalog.js';
import { type SealedBucket, useSealedBuckets } from './catalogue-fixtures.js';

const NOW = new Date('2026-12-07T12:00:00Z');

describe('shared/backup/backup-catalog', function () {
  this.timeout(60_000);
  let b: SealedBucket;
  useSealedBuckets((x) => {
    b = x;
  });

  it('authenticates sealed backups and takes kind and times from the seal, not from names or metadata', async () => {
    const s = await b.backup('2026-12-06T03:00:00Z');
    const p = await b.backup('2026-12-06T09:00:00Z', { kind: 'pre-restore' });

    const c = await readCatalogue(b.store, b.layout, b.trust(NOW));

    assert.deepEqual(
      authenticatedBackups(c).map((a) => `${a.id} ${a.kind} ${a.createdAt.toISOString()}`),
      [`${p} pre-restore 2026-12-06T09:00:00.000Z`, `${s} scheduled 2026-12-06T03:00:00.000Z`],
    );
    assert.equal(latestAuthenticated(c, 'prod')?.id, s, 'latest means the newest scheduled backup');
    assert.equal(latestAuthenticated(c, 'prod', 'pre-restore')?.id, p);
  });

  it('a sealed backup with a missing or resized object is damaged: reported, not authenticated', async () => {
    const missing = await b.backup('2026-12-06T03:00:00Z');
    const resized = await b.backup('2026-12-06T04:00:00Z');
    await b.store.delete([`${b.layout.backupPrefix(missing)}segment-00002.json.gz.pgp`]);
    await b.put(`${b.layout.backupPrefix(resized)}segment-00001.json.gz.pgp`, 'short');

    const c = await readCatalogue(b.store, b.layout, b.trust(NOW));

    assert.deepEqual(authenticatedBackups(c), []);
    assert.deepEqual(
      c.entries.map((e) => problemOf(e)),
      ['damaged: segment-00002.json.gz.pgp is missing', 'damaged: segment-00001.json.gz.pgp is 5 bytes, sealed as 200'],
    );
    assert.equal(latestAuthenticated(c, 'prod'), undefined);
  });

  it('never takes a forged, foreign or future backup as the latest, however new its id', async () => {
    const real = await b.backup('2026-12-06T03:00:00Z');
    await b.put('prod/backups/20301201T000000Z-ffffff/index.json.pgp', 'fake');
    await b.backup('2026-12-07T03:00:00Z', { by: b.keys.stranger });
    await b.backup('2026-12-07T04:00:00Z', { clusterUid: 'other' });
    await b.backup('2026-12-08T04:00:00Z', { signedAt: NOW });

    const c = await readCatalogue(b.store, b.layout, b.trust(NOW));

    assert.equal(latestAuthenticated(c, 'prod')?.id, real);
    assert.deepEqual(
      c.entries.map((e) => (problemOf(e) ?? 'ok').split(':')[0]),
      ['ok', 'forged', 'foreign', 'future', 'unsealed'],
    );
  });

  it('without a known cluster UID, seals of two identities make the catalogue ambiguous: no latest', async () => {
    await b.backup('2026-12-06T03:00:00Z');
    await b.backup('2026-12-07T03:00:00Z', { clusterUid: 'second-cluster' });

    const c = await readCatalogue(b.store, b.layout, b.trust(NOW, { clusterUid: undefined }));

    assert.equal(c.clusterUids.length, 2);
    assert.throws(() => latestAuthenticated(c, 'prod'), AmbiguousCatalogueError);
    assert.throws(() => latestAuthenticated(c, 'prod'), /set --cluster-uid to the UID of this cluster/);
  });

  it('lists keys under backups/ that belong to no backup id as strays (month 13 is no date)', async () => {
    await b.put('prod/backups/20261301T000000Z-abcdef/index.json.pgp', 'x');
    await b.put('prod/backups/not-an-id/seal.json.asc', 'x');

    const c = await readCatalogue(b.store, b.layout, b.trust(NOW));

    assert.deepEqual(c.entries, []);
    assert.deepEqual(c.strays.sort(), ['prod/backups/20261301T000000Z-abcdef/index.json.pgp', 'prod/backups/not-an-id/seal.json.asc']);
  });
});
