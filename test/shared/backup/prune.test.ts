import assert from 'node:assert/strict';
import { readCatalogue } from '../../../shared/backup/backup-catalog.js';
import { deleteUnauthenticated, finishAbandonedDeletion, pruneBackups, pruneNote } from '../../../shared/backup/prune.js';
import type { RetentionPolicy } from '../../../shared/backup/retention.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { type DeleteOutcome, type DeleteTarget, type ObjectStore, StorageError } from '../../../shared/storage/index.js';
import { type SealedBucket, useSealedBuckets } from './catalogue-fixtures.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const DAY = 86_400_000;
const SHIPPED: RetentionPolicy = { daily: 14, weekly: 8, monthly: 12 };

describe('shared/backup/prune', function () {
  this.timeout(120_000);
  let b: SealedBucket;
  let sink: MemorySink;
  useSealedBuckets((x) => {
    b = x;
    sink = new MemorySink();
  });

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

  /**
   * The bucket as an Object Lock bucket would answer: deletes of `lockedKeys` are refused with
   * kind `locked` and a retain-until date, everything else deleted.
   */
  function lockedStore(lockedKeys: (key: string) => boolean, retainUntil: Date): ObjectStore {
    const real = b.store;
    return new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'deleteObjects') return Reflect.get(target, prop, receiver);
        return async (targets: readonly DeleteTarget[]): Promise<DeleteOutcome[]> => {
          const out: DeleteOutcome[] = [];
          for (const t of targets) {
            if (lockedKeys(t.key)) {
              const error = new StorageError({
                kind: 'locked',
                operation: 'deleteObjects',
                location: `${real.location}/${t.key}`,
                detail: 'AccessDenied (Object Lock)',
                lockMode: 'COMPLIANCE',
                retainUntil,
              });
              out.push({ ...t, status: 'kept', error });
            } else out.push(...(await real.deleteObjects([t])));
          }
          return out;
        };
      },
    });
  }

  const pruneWith = async (store: ObjectStore, inFlight?: { record(note: string | undefined): Promise<void> }) =>
    pruneBackups(
      store,
      b.layout,
      await readCatalogue(store, b.layout, b.trust(NOW)),
      { last: 1 },
      {
        now: NOW,
        dryRun: false,
        log: createLogger({ sink }),
        preRestore: { within: 30 * DAY },
        maxDeleteShare: 1,
        ...(inFlight ? { inFlight } : {}),
      },
    );

  it("a locked seal: nothing of the backup is deleted, it is reported kept by the store's lock until its date, and the run does not fail", async () => {
    const [older, newer] = await dailyBackups(2);
    const until = new Date('2026-12-20T00:00:00Z');
    const before = await b.keys_();

    const r = await pruneWith(lockedStore((k) => k === b.layout.sealKey(older), until));

    assert.equal(r.refused, undefined);
    assert.equal(r.deletedBackups, 0);
    assert.deepEqual(r.keptByStore, [
      {
        id: older,
        objects: 1,
        sealKept: true,
        retainUntil: until.toISOString(),
        lockMode: 'COMPLIANCE',
        reason: "kept by the store's lock (COMPLIANCE) until 2026-12-20T00:00:00.000Z",
      },
    ]);
    assert.deepEqual(await b.keys_(), before);
    assert.match(r.decisions.find((d) => d.id === older)?.reasons.join('; ') ?? '', /not deleted: kept by the store's lock/);
    assert.equal(r.decisions.find((d) => d.id === newer)?.keep, true);
  });

  it('a locked segment after the seal went: the rest is deleted, the run says partly, and the Lease note stays for the next run', async () => {
    const [older] = await dailyBackups(2);
    const notes: (string | undefined)[] = [];
    const segment = (k: string) => k.startsWith(b.layout.backupPrefix(older)) && k.includes('segment-');

    const r = await pruneWith(lockedStore(segment, new Date('2026-12-08T00:00:00Z')), { record: async (n) => void notes.push(n) });

    assert.equal(r.deletedBackups, 0);
    assert.deepEqual(
      r.keptByStore.map((k) => [k.id, k.sealKept]),
      [[older, false]],
    );
    assert.match(r.decisions.find((d) => d.id === older)?.reasons.join('; ') ?? '', /partly deleted: kept by the store's lock/);
    const left = (await b.keys_()).filter((k) => k.startsWith(b.layout.backupPrefix(older)));
    assert.ok(left.length > 0 && left.every(segment), JSON.stringify(left));
    assert.deepEqual(notes, [pruneNote(older)]);

    // The lock gone, the next run finishes from the note.
    await finishAbandonedDeletion(notes.at(-1), b.store, b.layout, createLogger({ sink }));
    assert.deepEqual(
      (await b.keys_()).filter((k) => k.startsWith(b.layout.backupPrefix(older))),
      [],
    );
  });

  it('without s3:ListBucketVersions on a versioned bucket: deletes by key, and reports the delete markers as hidden, not deleted', async () => {
    const [older] = await dailyBackups(2);
    const real = b.store;
    const versioned = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'listVersions')
          // biome-ignore lint/correctness/useYield: it refuses before the first version, as S3 does
          return async function* () {
            throw new StorageError({
              kind: 'access-denied',
              operation: 'listVersions',
              location: real.location,
              status: 403,
              detail: 'AccessDenied',
            });
          };
        if (prop === 'deleteObjects')
          return async (targets: readonly DeleteTarget[]): Promise<DeleteOutcome[]> =>
            targets.map((t) => ({ ...t, status: 'deleted', ...(t.versionId === undefined ? { deleteMarker: true } : {}) }));
        return Reflect.get(target, prop, receiver);
      },
    });

    const r = await pruneWith(versioned);

    assert.equal(r.deletedBackups, 0);
    assert.deepEqual(
      r.keptByStore.map((k) => [k.id, k.sealKept]),
      [[older, false]],
    );
    assert.match(r.keptByStore[0].reason, /^hidden behind \d+ delete marker\(s\), not deleted: .*s3:ListBucketVersions/);
    assert.ok(sink.records().some((x) => /cannot list object versions/.test(String(x.msg))));
  });
});
