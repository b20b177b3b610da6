import assert from 'node:assert/strict';
import type { BackupKind } from '../../../shared/backup/backup-index.js';
import { compactTime } from '../../../shared/backup/backup-layout.js';
import { signDetached } from '../../../shared/crypto/index.js';
import { collectBackupOverview } from '../../../shared/status/backup-status.js';
import type { ObjectStore } from '../../../shared/storage/index.js';
import { type SealedBucket, useSealedBuckets } from '../backup/catalogue-fixtures.js';

const NOW = new Date('2026-03-11T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('shared/status/backup-status', function () {
  this.timeout(60_000);
  let b: SealedBucket;
  useSealedBuckets((x) => {
    b = x;
  });
  const store = () => b.store;

  /** A backup started `hoursAgo` before NOW: sealed (two segments of 200 and 201 bytes, an index of 300), or unsealed (one segment). */
  async function backup(hoursAgo: number, o: { kind?: BackupKind; complete?: boolean; secrets?: number } = {}): Promise<string> {
    const at = new Date(NOW.getTime() - hoursAgo * HOUR);
    if (o.complete === false) {
      const id = `${compactTime(at)}-${String(hoursAgo).padStart(6, '0')}`;
      await b.put(b.layout.segmentKey(id, 1, 'gzip'), Buffer.alloc(1000));
      return id;
    }
    return b.backup(at.toISOString(), { kind: o.kind, secrets: o.secrets ?? 42, suffix: String(hoursAgo).padStart(6, '0') });
  }

  /** A drill report, signed by the drill signer (the fixtures' "stranger" key). */
  async function drill(id: string, hoursAgo: number, passed: boolean, extra: Record<string, unknown> = {}): Promise<void> {
    const at = new Date(NOW.getTime() - hoursAgo * HOUR);
    const key = b.layout.reportKey(at, id, passed);
    const body = Buffer.from(
      JSON.stringify({ cluster: 'prod', result: passed ? 'pass' : 'fail', finishedAt: at.toISOString(), backup: { id }, ...extra }),
    );
    await b.put(key, body);
    await b.put(b.layout.reportSignatureKey(key), await signDetached(body, b.keys.stranger, { now: at }));
  }

  const overview = (o: Partial<Parameters<typeof collectBackupOverview>[2]> = {}, from: ObjectStore = store()) =>
    collectBackupOverview(from, b.layout, {
      now: NOW,
      limit: 5,
      drillMaxAgeMs: 8 * DAY,
      trust: b.trust(NOW),
      drillSigners: b.trusted.stranger,
      incompleteGraceMs: DAY,
      ...o,
    });

  it('lists the newest complete backups first, with items, size and the latest drill of each', async () => {
    const old = await backup(50);
    const mid = await backup(26, { secrets: 40 });
    const newest = await backup(2);
    await backup(1, { complete: false });
    await drill(old, 49, true);
    await drill(mid, 25, false);
    await drill(mid, 20, true);

    const o = await overview({ limit: 2 });

    assert.deepEqual(
      o.backups.map((b) => b.id),
      [newest, mid],
    );
    assert.equal(o.backups[1].secrets, 40);
    assert.equal(o.backups[1].storedBytes, 200 + 201 + 300 + (await b.store.head(b.layout.sealKey(mid)))!.size);
    assert.equal(o.backups[1].lastDrill?.result, 'pass');
    assert.equal(o.backups[1].lastDrill?.verified, true);
    assert.equal(o.backups[0].lastDrill, undefined);
    assert.equal(o.authenticatedBackups, 3);
    assert.deepEqual(
      o.unauthenticated.map((u) => u.inProgress),
      [true],
      'the unsealed one is young: it may still be being written',
    );
    assert.equal(o.location, `${store().location}/prod/backups/`);
  });

  it('pre-restore backups are listed but are not what freshness judges', async () => {
    const scheduled = await backup(30);
    await backup(1, { kind: 'pre-restore' });

    const o = await overview({ freshness: { schedule: '0 * * * *', timeZone: 'UTC', graceMs: HOUR } });

    assert.equal(o.backups[0].kind, 'pre-restore');
    assert.equal(o.newestScheduled?.id, scheduled);
    assert.equal(o.freshness?.fresh, false);
    assert.match(o.freshness!.message, /^backup stale: expected one after 2026-03-11T11:00:00.000Z/);
  });

  const freshness: Array<{ name: string; backupHoursAgo: number; schedule: string; graceMs: number; fresh: boolean }> = [
    { name: "daily backup taken at today's slot", backupHoursAgo: 9, schedule: '0 3 * * *', graceMs: HOUR, fresh: true },
    { name: "daily backup from yesterday, today's slot missed", backupHoursAgo: 33, schedule: '0 3 * * *', graceMs: HOUR, fresh: false },
    {
      name: "yesterday's backup while today's slot is still within a long grace",
      backupHoursAgo: 33,
      schedule: '0 3 * * *',
      graceMs: 10 * HOUR,
      fresh: true,
    },
  ];
  for (const f of freshness) {
    it(`freshness: ${f.name}`, async () => {
      await backup(f.backupHoursAgo);

      const o = await overview({ freshness: { schedule: f.schedule, timeZone: 'UTC', graceMs: f.graceMs } });

      assert.equal(o.freshness?.fresh, f.fresh, o.freshness?.message);
    });
  }

  it('no complete backup: nothing newest, freshness stale', async () => {
    await backup(1, { complete: false });

    const o = await overview({ freshness: { schedule: '0 3 * * *', timeZone: 'UTC', graceMs: HOUR } });

    assert.equal(o.newestScheduled, undefined);
    assert.equal(o.freshness?.fresh, false);
    assert.deepEqual(o.backups, []);
  });

  const drills: Array<{
    name: string;
    reports: Array<[hoursAgo: number, passed: boolean]>;
    maxAgeMs: number;
    ok: boolean;
    latest?: 'pass' | 'fail';
  }> = [
    { name: 'a pass within the window', reports: [[30, true]], maxAgeMs: 8 * DAY, ok: true, latest: 'pass' },
    { name: 'the last pass is older than the window', reports: [[9 * 24, true]], maxAgeMs: 8 * DAY, ok: false, latest: 'pass' },
    {
      name: 'a later failure does not hide an earlier pass within the window',
      reports: [
        [30, true],
        [5, false],
      ],
      maxAgeMs: 8 * DAY,
      ok: true,
      latest: 'fail',
    },
    { name: 'only failures', reports: [[5, false]], maxAgeMs: 8 * DAY, ok: false, latest: 'fail' },
    { name: 'no drill at all', reports: [], maxAgeMs: 8 * DAY, ok: false },
    { name: 'no drill, check disabled (0s)', reports: [], maxAgeMs: 0, ok: true },
  ];
  for (const d of drills) {
    it(`drills: ${d.name}`, async () => {
      const id = await backup(10 * 24);
      for (const [h, p] of d.reports) await drill(id, h, p);

      const o = await overview({ drillMaxAgeMs: d.maxAgeMs });

      assert.equal(o.drills.ok, d.ok);
      assert.equal(o.drills.latest?.result, d.latest);
    });
  }

  it('ignores report signatures and foreign keys under reports/', async () => {
    const id = await backup(3);
    await drill(id, 2, true);
    await b.put('prod/reports/notes.txt', Buffer.from('x'));

    const o = await overview();

    assert.equal(o.drills.latestPass?.backupId, id);
    assert.equal(o.drills.latestPass?.report, b.layout.reportKey(new Date(NOW.getTime() - 2 * HOUR), id, true));
  });

  it('two drills in one second: the newest is the one whose signed finishedAt is later, not the one the keys list first', async () => {
    const listedFirst = await backup(20); // the older id: its report's key sorts first within the second
    const finishedLast = await backup(10);
    const second = NOW.getTime() - 2 * HOUR;
    const finished = (ms: number) => new Date(second + ms).toISOString();
    // The first one listed also carries a deep check: the history walk must still read its second to the end.
    await drill(listedFirst, 2, true, {
      finishedAt: finished(100),
      rto: { measuredMs: 100 },
      deepCheck: { cycleMs: 0, backups: [] },
    });
    await drill(finishedLast, 2, true, { finishedAt: finished(900), rto: { measuredMs: 900 } });
    assert.ok(b.layout.reportKey(new Date(second), listedFirst, true) < b.layout.reportKey(new Date(second), finishedLast, true));

    const o = await overview();

    assert.equal(o.drills.latest?.backupId, finishedLast);
    assert.equal(o.drills.latest?.at, finished(900));
    assert.equal(o.drills.latestPass?.backupId, finishedLast);
    assert.equal(o.rto?.backupId, finishedLast);
    assert.equal(o.rto?.measuredMs, 900);
  });

  it('a pass report that does not verify never counts as a passed drill', async () => {
    const id = await backup(3);
    const key = b.layout.reportKey(new Date(NOW.getTime() - 2 * HOUR), id, true);
    await b.put(key, JSON.stringify({ cluster: 'prod', result: 'pass', backup: { id } }));

    const o = await overview();

    assert.equal(o.drills.ok, false);
    assert.equal(o.drills.latestPass, undefined);
    assert.equal(o.drills.latest?.verified, false);
    assert.match(o.drills.latest?.unverified ?? '', /report or its signature is missing/);
  });

  it('lists the drill reports once and reads and checks each (and its signature) once, though several passes ask for it', async () => {
    const older = await backup(30);
    const newer = await backup(10);
    await drill(older, 20, true);
    const unsigned = b.layout.reportKey(new Date(NOW.getTime() - 5 * HOUR), newer, true);
    await b.put(unsigned, JSON.stringify({ cluster: 'prod', result: 'pass', backup: { id: newer } }));
    await drill(newer, 3, false);
    // The newest per backup, the latest, the pass walk and the verification history each want
    // some of these three: the newest fail three times, the unsigned pass twice, the old pass three times.
    const reads = new Map<string, number>();
    const listings: string[] = [];
    const counting: ObjectStore = Object.assign(Object.create(b.store) as ObjectStore, {
      getBytes: (key: string, limit?: number) => {
        if (key.startsWith(b.layout.reportsPrefix())) reads.set(key, (reads.get(key) ?? 0) + 1);
        return b.store.getBytes(key, limit);
      },
      list: (prefix: string) => {
        listings.push(prefix);
        return b.store.list(prefix);
      },
    });

    const o = await overview({}, counting);

    assert.equal(
      listings.filter((p) => p.startsWith(b.layout.reportsPrefix())).length,
      1,
      `the reports are listed once: ${listings.join(', ')}`,
    );
    assert.ok(reads.size >= 5, `the three reports and two signatures were read: ${[...reads.keys()].join(', ')}`);
    assert.deepEqual(
      [...reads].filter(([, n]) => n > 1),
      [],
      'no report or signature read twice',
    );
    assert.deepEqual(
      o.backups.map((x) => [x.id, x.lastDrill?.result, x.lastDrill?.verified]),
      [
        [newer, 'fail', true],
        [older, 'pass', true],
      ],
    );
    assert.equal(o.drills.latest?.result, 'fail');
    assert.equal(o.drills.latest?.verified, true);
    assert.equal(o.drills.latestPass?.backupId, older, 'the unsigned pass is passed over, as before');
    assert.equal(o.drills.ok, true);
  });

  it('reports what is not authenticated: forged, and unsealed beyond the grace', async () => {
    await backup(5);
    await backup(30, { complete: false });
    await b.backup(new Date(NOW.getTime() - 4 * HOUR).toISOString(), { by: b.keys.stranger });

    const o = await overview();

    assert.deepEqual(
      o.unauthenticated.map((u) => u.problem.split(':')[0]),
      ['unsealed', 'forged'],
    );
    assert.equal(o.authenticatedBackups, 1);
  });
});
