import assert from 'node:assert/strict';
import type { RotationReport } from '../../shared/rotate/report.js';
import { RotateCluster } from '../shared/rotate/support/cluster.js';

/**
 * Due-ness through the real command against the emulator: one Secret per row, judged by a dry
 * run at the row's time (`--now`), then real runs for rotate-now and for a slot started twice.
 */

interface Row {
  schedule?: string;
  timeZone?: string;
  maxAge?: string;
  lastRotated?: string;
  now: string;
  due: boolean;
}

const ROWS: Row[] = [
  // hourly, UTC
  { schedule: '0 * * * *', lastRotated: '2025-01-01T09:00:05Z', now: '2025-01-01T09:59:59Z', due: false },
  { schedule: '0 * * * *', lastRotated: '2025-01-01T09:00:05Z', now: '2025-01-01T10:00:00Z', due: true },
  // daily, UTC
  { schedule: '30 2 * * *', lastRotated: '2025-01-01T02:31:00Z', now: '2025-01-02T02:29:00Z', due: false },
  { schedule: '30 2 * * *', lastRotated: '2025-01-01T02:31:00Z', now: '2025-01-02T02:30:00Z', due: true },
  // weekly (Sunday 03:00), UTC
  { schedule: '0 3 * * 0', lastRotated: '2024-12-29T03:00:10Z', now: '2025-01-05T02:59:00Z', due: false },
  { schedule: '0 3 * * SUN', lastRotated: '2024-12-29T03:00:10Z', now: '2025-01-05T03:00:00Z', due: true },
  // monthly, UTC
  { schedule: '0 4 1 * *', lastRotated: '2025-02-01T04:01:00Z', now: '2025-03-01T03:59:00Z', due: false },
  { schedule: '@monthly', lastRotated: '2025-02-01T00:01:00Z', now: '2025-03-01T00:00:00Z', due: true },
  // Europe/Berlin across the spring switch (2025-03-30, 02:00 -> 03:00): 02:30 does not exist that day
  { schedule: '30 2 * * *', timeZone: 'Europe/Berlin', lastRotated: '2025-03-29T01:31:00Z', now: '2025-03-30T21:00:00Z', due: false },
  { schedule: '30 2 * * *', timeZone: 'Europe/Berlin', lastRotated: '2025-03-29T01:31:00Z', now: '2025-03-31T00:30:00Z', due: true },
  // ... and across the autumn switch (2025-10-26, 03:00 -> 02:00): 02:30 twice, rotated once
  { schedule: '30 2 * * *', timeZone: 'Europe/Berlin', lastRotated: '2025-10-26T00:31:00Z', now: '2025-10-26T01:45:00Z', due: false },
  { schedule: '30 2 * * *', timeZone: 'Europe/Berlin', lastRotated: '2025-10-25T00:31:00Z', now: '2025-10-26T00:30:00Z', due: true },
  // hourly in Berlin keeps both 02:00 hours of the autumn night
  { schedule: '0 * * * *', timeZone: 'Europe/Berlin', lastRotated: '2025-10-26T00:00:10Z', now: '2025-10-26T00:59:00Z', due: false },
  { schedule: '0 * * * *', timeZone: 'Europe/Berlin', lastRotated: '2025-10-26T00:00:10Z', now: '2025-10-26T01:00:00Z', due: true },
  // weekly and monthly in Berlin (summer time: 03:00 CEST = 01:00Z)
  { schedule: '0 3 * * 0', timeZone: 'Europe/Berlin', lastRotated: '2025-06-01T01:00:30Z', now: '2025-06-08T00:59:00Z', due: false },
  { schedule: '0 3 * * 0', timeZone: 'Europe/Berlin', lastRotated: '2025-06-01T01:00:30Z', now: '2025-06-08T01:00:00Z', due: true },
  { schedule: '0 4 1 * *', timeZone: 'Europe/Berlin', lastRotated: '2025-03-01T03:00:30Z', now: '2025-04-01T01:59:00Z', due: false },
  { schedule: '0 4 1 * *', timeZone: 'Europe/Berlin', lastRotated: '2025-03-01T03:00:30Z', now: '2025-04-01T02:00:00Z', due: true },
  // maxAge
  { maxAge: '30d', lastRotated: '2025-01-01T00:00:00Z', now: '2025-01-30T23:59:00Z', due: false },
  { maxAge: '30d', lastRotated: '2025-01-01T00:00:00Z', now: '2025-01-31T00:00:00Z', due: true },
  { maxAge: '12h', lastRotated: '2025-01-01T00:00:00Z', now: '2025-01-01T11:00:00Z', due: false },
  { maxAge: '12h', lastRotated: '2025-01-01T00:00:00Z', now: '2025-01-01T12:00:00Z', due: true },
];

function policy(r: Row): string {
  const trigger =
    r.schedule !== undefined ? `schedule: "${r.schedule}"\n${r.timeZone ? `timeZone: ${r.timeZone}\n` : ''}` : `maxAge: ${r.maxAge}\n`;
  return `${trigger}keys: { token: token }\n`;
}

describe('jobs/rotate schedules', function () {
  this.timeout(60_000);
  let c: RotateCluster;
  beforeEach(async () => {
    c = await RotateCluster.start();
  });
  afterEach(async () => {
    await c.stop();
  });

  it("judges hourly, daily, weekly, monthly and maxAge policies in UTC and Europe/Berlin (dry runs at each row's time)", async () => {
    for (const [i, r] of ROWS.entries()) {
      await c.secret('sched', `row-${i}`, { token: 'x' }, policy(r), {
        annotations: r.lastRotated ? { 'secret-steward.io/last-rotated': r.lastRotated } : {},
      });
    }
    const mismatches: string[] = [];

    for (const [i, r] of ROWS.entries()) {
      const run = await c.run(['--dry-run', '--now', r.now, '--output', 'json', '--namespace', 'sched']);
      const rep = JSON.parse(run.stdout) as RotationReport;
      const e = rep.secrets.find((s) => s.name === `row-${i}`)!;
      const due = e.action === 'would-rotate';
      if (due !== r.due)
        mismatches.push(
          `${r.schedule ?? `maxAge ${r.maxAge}`} ${r.timeZone ?? 'UTC'}: last ${r.lastRotated}, now ${r.now}: expected ${r.due ? 'due' : 'not due'}, got ${e.action} (${e.detail})`,
        );
    }

    assert.deepEqual(mismatches, []);
  });

  it('makes a Secret due with rotate-now and clears the annotation after the rotation', async () => {
    await c.secret('sched', 'fresh', { token: 'original-token' }, 'maxAge: 30d\nkeys: { token: token }', {
      annotations: { 'secret-steward.io/last-rotated': new Date().toISOString(), 'secret-steward.io/rotate-now': 'true' },
    });

    const first = await c.run(['--output', 'json']);
    const second = await c.run(['--output', 'json']);

    assert.equal(first.code, 0, first.stdout);
    assert.equal((JSON.parse(first.stdout) as RotationReport).secrets[0].action, 'rotated');
    assert.notEqual(c.data('sched', 'fresh')!.token, 'original-token');
    assert.equal(c.annotations('sched', 'fresh')['secret-steward.io/rotate-now'], undefined);
    assert.equal((JSON.parse(second.stdout) as RotationReport).secrets[0].action, 'not-due');
  });

  it('rotates a slot once even when the job starts twice for it', async () => {
    await c.secret('sched', 'yearly', { token: 'original-token' }, 'schedule: "@yearly"\nkeys: { token: token }', {
      annotations: { 'secret-steward.io/last-rotated': '2020-06-01T00:00:00Z' },
    });

    const first = await c.run(['--output', 'json']);
    const afterFirst = c.data('sched', 'yearly')!.token;
    const second = await c.run(['--output', 'json']);

    assert.equal((JSON.parse(first.stdout) as RotationReport).secrets[0].action, 'rotated');
    const slot = `${new Date().getUTCFullYear()}-01-01T00:00:00.000Z`;
    assert.equal(c.annotations('sched', 'yearly')['secret-steward.io/last-slot'], slot);
    assert.equal((JSON.parse(second.stdout) as RotationReport).secrets[0].action, 'not-due');
    assert.equal(c.data('sched', 'yearly')!.token, afterFirst);
  });
});
