import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { fixedClock } from '../../shared/runtime/clock.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import { backupKeyArgs, createDrillNamespace, drillArgs, seedMany } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, startHarness } from '../support/job-harness.js';

/**
 * Freshness with an injected clock: the backup is taken at a fixed time (its id records it) and
 * the drill runs at fixed times after it. Schedules are in zones that are not UTC. The times are
 * in the future of the test keys, which must exist when the backup is encrypted and signed.
 */
interface Schedule {
  name: string;
  schedule: string;
  timeZone: string;
  grace: string;
  backupAt: string;
  drills: Array<{ at: string; fresh: boolean; expect: RegExp }>;
}

const SCHEDULES: Schedule[] = [
  {
    name: 'hourly in Europe/Berlin (UTC+1 in January)',
    schedule: '0 * * * *',
    timeZone: 'Europe/Berlin',
    grace: '30m',
    backupAt: '2027-01-15T10:00:20+01:00',
    drills: [
      { at: '2027-01-15T10:45:00+01:00', fresh: true, expect: /covers the latest scheduled time, 2027-01-15T09:00:00\.000Z/ },
      {
        at: '2027-01-15T11:20:00+01:00',
        fresh: true,
        expect:
          /the backup due at 2027-01-15T10:00:00\.000Z has not completed yet, which is within the grace period until 2027-01-15T10:30:00\.000Z/,
      },
      {
        at: '2027-01-15T11:40:00+01:00',
        fresh: false,
        expect:
          /^backup stale: expected one after 2027-01-15T10:00:00\.000Z, newest is 2027-01-15T09:00:20\.000Z \(backup 20270115T090020Z-[0-9a-f]{6}\) \(schedule "0 \* \* \* \*" in Europe\/Berlin, grace 30m\)$/,
      },
    ],
  },
  {
    name: 'daily in America/New_York (UTC-5 in January)',
    schedule: '30 2 * * *',
    timeZone: 'America/New_York',
    grace: '2h',
    backupAt: '2027-01-15T02:30:30-05:00',
    drills: [
      { at: '2027-01-15T12:00:00-05:00', fresh: true, expect: /covers the latest scheduled time, 2027-01-15T07:30:00\.000Z/ },
      {
        at: '2027-01-16T03:30:00-05:00',
        fresh: true,
        expect:
          /the backup due at 2027-01-16T07:30:00\.000Z has not completed yet, which is within the grace period until 2027-01-16T09:30:00\.000Z/,
      },
      {
        at: '2027-01-16T05:00:00-05:00',
        fresh: false,
        expect: /^backup stale: expected one after 2027-01-16T07:30:00\.000Z, newest is 2027-01-15T07:30:30\.000Z/,
      },
    ],
  },
  {
    name: 'weekdays in Asia/Tokyo (UTC+9), over a weekend',
    schedule: '0 6 * * 1-5',
    timeZone: 'Asia/Tokyo',
    grace: '1h',
    // Friday.
    backupAt: '2027-01-15T06:00:10+09:00',
    drills: [
      // Monday before the 06:00 run: the weekend has no slot, Friday's backup is current.
      { at: '2027-01-18T05:30:00+09:00', fresh: true, expect: /covers the latest scheduled time, 2027-01-14T21:00:00\.000Z/ },
      {
        at: '2027-01-18T06:40:00+09:00',
        fresh: true,
        expect:
          /the backup due at 2027-01-17T21:00:00\.000Z has not completed yet, which is within the grace period until 2027-01-17T22:00:00\.000Z/,
      },
      {
        at: '2027-01-18T07:30:00+09:00',
        fresh: false,
        expect: /^backup stale: expected one after 2027-01-17T21:00:00\.000Z, newest is 2027-01-14T21:00:10\.000Z/,
      },
    ],
  },
];

describe('jobs/verify-restore (freshness, injected clock)', function () {
  this.timeout(180_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
    createDrillNamespace(h);
    seedMany(h, 3, 'apps');
  });
  after(async () => h?.stop());

  for (const [i, s] of SCHEDULES.entries()) {
    describe(s.name, () => {
      before(async () => {
        const r = await h.run(backupCommand, [...h.baseArgs(`f${i}`), ...backupKeyArgs(h)], { clock: fixedClock(new Date(s.backupAt)) });
        assert.equal(r.code, 0, r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
      });

      for (const d of s.drills) {
        it(`drill at ${d.at}: ${d.fresh ? 'fresh' : 'stale'} (exit ${d.fresh ? 0 : 1})`, async () => {
          const r = await h.run(
            verifyRestoreCommand,
            [
              ...drillArgs(h, `f${i}`),
              '--backup-schedule',
              s.schedule,
              '--backup-timezone',
              s.timeZone,
              '--freshness-grace',
              s.grace,
              '--output',
              'json',
            ],
            { clock: fixedClock(new Date(d.at)) },
          );

          assert.equal(r.code, d.fresh ? 0 : 1, r.stdout + r.stderr);
          const report = JSON.parse(r.stdout) as DrillReport;
          const freshness = report.checks.find((c) => c.name === 'freshness')!;
          assert.equal(freshness.status, d.fresh ? 'pass' : 'fail');
          assert.match(freshness.summary, d.expect);
          if (!d.fresh) assert.equal(freshness.findings[0].message, freshness.summary);
          // The other checks are unaffected by staleness.
          assert.deepEqual(
            report.checks.filter((c) => c.name !== 'freshness').map((c) => c.status),
            ['pass', 'pass', 'pass', 'skipped', 'pass', 'pass', 'pass'],
          );
        });
      }
    });
  }

  it('rejects an invalid schedule or time zone as a configuration error (exit 2)', async () => {
    const bad = await h.run(verifyRestoreCommand, [...drillArgs(h), '--backup-schedule', '0 * * *', '--backup-timezone', 'Mars/Olympus']);
    const badCron = await h.run(verifyRestoreCommand, [...drillArgs(h), '--backup-schedule', '61 * * * *']);

    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--backup-timezone.*unknown time zone "Mars\/Olympus"/);
    assert.equal(badCron.code, 2);
    assert.match(badCron.stderr, /--backup-schedule.*invalid cron expression "61 \* \* \* \*"/);
  });
});
