import assert from 'node:assert/strict';
import { readCatalogue } from '../../../shared/backup/backup-catalog.js';
import { deleteUnauthenticated, finishAbandonedDeletion, pruneBackups, pruneNote } from '../../../shared/backup/prune.js';
import type { RetentionPolicy } from '../../../shared/backup/retention.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { makeSealKeys, type SealedBucket, type SealKeys, sealedBucket } from './catalogue-fixtures.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const DAY = 86_400_000;
const SHIPPED: RetentionPolicy = { daily: 14, weekly: 8, monthly: 12 };

describe('shared/backup/prune', function () {
  this.timeout(120_000);
  let keys: SealKeys;
  let b: SealedBucket;
  let sink: MemorySink;
  before(async () => {
    keys = await makeSealKeys();
  });
  after(() => keys.cleanup());
  beforeEach(async () => {
    b = await sealedBucket(keys);
    sink = new MemorySink();
  });
  afterEach(async () => b.stop());

  /** 40 daily scheduled backups at 03:00, the newest on 2026-12-07. */
  async function dailyBackups(days = 40): Promise<string[]> {
    const ids: string[] = [];
    for (let d = days - 1; d >= 0; d--) ids.push(await b.backup(new Date(Date.parse('2026-12-07T03:00:00Z') - d * DAY).toISOString()));
    return ids;
  }

  const prune = async (
    o: {
      dryRun?: boolean;
      maxDeleteShare?: number;
      protect?: Map<string, string>;
      policy?: RetentionPolicy;
      clusterUid?: string | null;
    } = {},
  ) => {
    const trust = b.trust(NOW, o.clusterUid === null ? { clusterUid: undefined } : {});
    const catalogue = await readCatalogue(b.store, b.layout, trust);
    return pruneBackups(b.store, b.layout, catalogue, o.policy ?? SHIPPED, {
      now: NOW,
      dryRun: o.dryRun ?? false,
      log: createLogger({ sink }),
      preRestore: { within: 30 * DAY },
      protect: o.protect,
      maxDeleteShare: o.maxDeleteShare ?? 1,
    });
  };

  it('deletes the authenticated backups no rule keeps, seal first, and nothing else', async () => {
    const ids = await dailyBackups();

    const r = await prune();

    const deleted = r.decisions.filter((d) => !d.keep).map((d) => d.id);
    assert.equal(r.deletedBackups, deleted.length);
    assert.ok(deleted.length > 0);
    const left = await b.keys_();
    for (const id of deleted) assert.ok(!left.some((k) => k.includes(id)), `${id} fully deleted`);
    for (const id of ids.filter((i) => !deleted.includes(i))) assert.ok(left.includes(b.layout.sealKey(id)), `${id} kept`);
  });

  it('a bucket writer planting a fake index for every month of 2030 (and other debris) changes no decision and loses no real backup', async () => {
    await dailyBackups();
    const clean = (await prune({ dryRun: true })).decisions.map((d) => `${d.id} ${d.keep}`);
    for (let m = 1; m <= 12; m++) await b.put(`prod/backups/2030${String(m).padStart(2, '0')}01T000000Z-ffffff/index.json.pgp`, 'garbage');
    await b.put('prod/backups/20301301T000000Z-ffffff/index.json.pgp', 'month 13');
    await b.put('prod/backups/20301201T000000Z-fffffe/seal.json.asc', 'not a seal');
    const before = await b.keys_();

    const r = await prune();

    const after = await b.keys_();
    assert.deepEqual(
      r.decisions.map((d) => `${d.id} ${d.keep}`),
      clean,
      'the same decisions as without the fakes',
    );
    for (const k of before.filter((k) => k.startsWith('prod/backups/2030'))) assert.ok(after.includes(k), `${k} left alone`);
    assert.deepEqual(r.strays, ['prod/backups/20301301T000000Z-ffffff/index.json.pgp']);
    assert.equal(r.unauthenticated.length, 13);
    assert.ok(r.unauthenticated.every((u) => /^(unsealed|forged)/.test(u.problem)));
    assert.ok(sink.records().some((l) => l.msg === 'backup not authenticated: kept and reported, never deleted by retention'));
  });

  it('a real backup whose seal was deleted or overwritten is kept and reported, not deleted', async () => {
    const ids = await dailyBackups();
    const oldest = ids[0];
    const second = ids[1];
    await b.store.delete([b.layout.sealKey(oldest)]);
    await b.put(b.layout.sealKey(second), 'overwritten');

    const r = await prune();

    const left = await b.keys_();
    assert.ok(left.includes(b.layout.indexKey(oldest)));
    assert.ok(left.includes(b.layout.sealKey(second)));
    assert.deepEqual(
      r.unauthenticated.map((u) => `${u.id} ${u.problem.split(':')[0]}`),
      [`${oldest} unsealed`, `${second} forged`],
    );
  });

  it('refuses to delete more than the allowed share, and says so', async () => {
    await dailyBackups(10);

    const r = await prune({ policy: { last: 2 }, maxDeleteShare: 0.5 });

    assert.equal(r.deletedBackups, 0);
    assert.match(r.refused ?? '', /would delete 8 of 10 authenticated backups, more than 50%: nothing was deleted/);
    assert.equal((await b.keys_()).filter((k) => k.endsWith('seal.json.asc')).length, 10);
  });

  it('refuses to delete when seals of two cluster identities share the name and none is pinned', async () => {
    await dailyBackups(5);
    await b.backup('2026-12-07T04:00:00Z', { clusterUid: 'second-cluster' });

    const r = await prune({ policy: { last: 1 }, clusterUid: null });

    assert.equal(r.deletedBackups, 0);
    assert.match(r.refused ?? '', /backups of 2 clusters are sealed under this cluster name/);
  });

  it('keeps protected backups (this run, readers) and deletes nothing in a dry run', async () => {
    const ids = await dailyBackups(5);

    const dry = await prune({ policy: { last: 1 }, dryRun: true });
    const r = await prune({ policy: { last: 1 }, protect: new Map([[ids[0], 'being read by restore (r-1)']]) });

    assert.equal(dry.deletedBackups, 0);
    assert.equal(dry.decisions.filter((d) => !d.keep).length, 4);
    assert.equal(r.deletedBackups, 3);
    assert.deepEqual(r.decisions.find((d) => d.id === ids[0])?.reasons, ['being read by restore (r-1)']);
  });

  it('deleteUnauthenticated removes only the named unauthenticated backups', async () => {
    const [real] = await dailyBackups(1);
    await b.put('prod/backups/20300101T000000Z-ffffff/index.json.pgp', 'garbage');
    const catalogue = await readCatalogue(b.store, b.layout, b.trust(NOW));

    const r = await deleteUnauthenticated(b.store, b.layout, catalogue, ['20300101T000000Z-ffffff', real, '20300101T000000Z-000000'], {
      dryRun: false,
      log: createLogger({ sink }),
    });

    assert.deepEqual(
      r.deleted.map((d) => d.id),
      ['20300101T000000Z-ffffff'],
    );
    assert.deepEqual(r.refused, [
      { id: real, why: 'it is an authenticated backup: retention decides about it' },
      { id: '20300101T000000Z-000000', why: 'no such backup under this cluster' },
    ]);
    assert.ok((await b.keys_()).includes(b.layout.sealKey(real)));
  });

  it('finishes a deletion a killed prune began, from its Lease note only', async () => {
    const [victim, other] = await dailyBackups(2);
    await b.store.delete([b.layout.sealKey(victim)]);

    await finishAbandonedDeletion(pruneNote(victim), b.store, b.layout, createLogger({ sink }));
    await finishAbandonedDeletion('backup 20261207T030000Z-000001', b.store, b.layout, createLogger({ sink }));

    const left = await b.keys_();
    assert.ok(!left.some((k) => k.includes(victim)));
    assert.ok(left.includes(b.layout.sealKey(other)));
  });
});
