import assert from 'node:assert/strict';
import { assessFreshness } from '../../../shared/verify-restore/freshness.js';

const at = (s: string) => new Date(s);
const H = 3_600_000;

describe('shared/verify-restore/freshness', () => {
  const cases: Array<{
    what: string;
    schedule: string;
    timeZone: string;
    graceMs: number;
    now: string;
    newest?: string;
    fresh: boolean;
    expectedAfter?: string;
    pending?: string;
  }> = [
    {
      what: 'hourly, on time',
      schedule: '0 * * * *',
      timeZone: 'Europe/Berlin',
      graceMs: H / 2,
      now: '2027-01-15T09:45:00Z',
      newest: '2027-01-15T09:00:20Z',
      fresh: true,
      expectedAfter: '2027-01-15T09:00:00.000Z',
    },
    {
      what: 'hourly, late within grace',
      schedule: '0 * * * *',
      timeZone: 'Europe/Berlin',
      graceMs: H / 2,
      now: '2027-01-15T10:20:00Z',
      newest: '2027-01-15T09:00:20Z',
      fresh: true,
      expectedAfter: '2027-01-15T09:00:00.000Z',
      pending: '2027-01-15T10:00:00.000Z',
    },
    {
      what: 'hourly, stale',
      schedule: '0 * * * *',
      timeZone: 'Europe/Berlin',
      graceMs: H / 2,
      now: '2027-01-15T10:40:00Z',
      newest: '2027-01-15T09:00:20Z',
      fresh: false,
      expectedAfter: '2027-01-15T10:00:00.000Z',
    },
    {
      what: 'no backup at all',
      schedule: '@daily',
      timeZone: 'UTC',
      graceMs: H,
      now: '2027-01-15T10:40:00Z',
      fresh: false,
      expectedAfter: '2027-01-15T00:00:00.000Z',
    },
    {
      what: 'clock skew: a backup that started 30 s before the slot counts',
      schedule: '0 3 * * *',
      timeZone: 'UTC',
      graceMs: H,
      now: '2027-01-15T05:00:00Z',
      newest: '2027-01-15T02:59:30Z',
      fresh: true,
    },
    {
      what: 'but one that started 2 minutes before is the previous run',
      schedule: '0 3 * * *',
      timeZone: 'UTC',
      graceMs: H,
      now: '2027-01-15T05:00:00Z',
      newest: '2027-01-15T02:58:00Z',
      fresh: false,
    },
    // Europe/Berlin leaves summer time on 2027-10-31: 02:30 happens twice; the first instant is the slot.
    {
      what: 'DST fall-back: the first of two 02:30s is the slot',
      schedule: '30 2 * * *',
      timeZone: 'Europe/Berlin',
      graceMs: H / 2,
      now: '2027-10-31T02:30:00Z',
      newest: '2027-10-31T00:30:05Z',
      fresh: true,
      expectedAfter: '2027-10-31T00:30:00.000Z',
    },
    // ... and enters it on 2027-03-28: 02:30 does not happen that day, so the 27th's backup is current.
    {
      what: 'DST spring-forward: a skipped time is no slot',
      schedule: '30 2 * * *',
      timeZone: 'Europe/Berlin',
      graceMs: H / 2,
      now: '2027-03-28T10:00:00Z',
      newest: '2027-03-27T01:30:10Z',
      fresh: true,
      expectedAfter: '2027-03-27T01:30:00.000Z',
    },
    {
      what: 'weekdays, Monday morning before the run',
      schedule: '0 6 * * 1-5',
      timeZone: 'Asia/Tokyo',
      graceMs: H,
      now: '2027-01-17T20:30:00Z',
      newest: '2027-01-14T21:00:10Z',
      fresh: true,
      expectedAfter: '2027-01-14T21:00:00.000Z',
    },
  ];

  for (const c of cases) {
    it(c.what, () => {
      const r = assessFreshness({
        schedule: c.schedule,
        timeZone: c.timeZone,
        graceMs: c.graceMs,
        now: at(c.now),
        newest: c.newest ? { id: 'x', createdAt: at(c.newest) } : undefined,
      });

      assert.equal(r.fresh, c.fresh, r.message);
      if (c.expectedAfter) assert.equal(r.expectedAfter?.toISOString(), c.expectedAfter);
      assert.equal(r.pendingSlot?.toISOString(), c.pending);
      if (!c.fresh) assert.match(r.message, /^backup stale: expected one after \S+, newest is /);
    });
  }
});
