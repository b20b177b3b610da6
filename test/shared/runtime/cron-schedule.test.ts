import assert from 'node:assert/strict';
import { type CronTrigger, cronProblem, latestSlot, nextSlot } from '../../../shared/runtime/cron-schedule.js';

const at = (iso: string) => new Date(iso);
const cron = (expr: string, timeZone = 'UTC'): CronTrigger => ({ kind: 'schedule', cron: expr, timeZone });

describe('shared/runtime/cron-schedule', () => {
  describe('latestSlot', () => {
    const rows: Array<[string, string, string, string]> = [
      // cron, zone, now, expected slot
      ['0 * * * *', 'UTC', '2025-01-01T10:00:00Z', '2025-01-01T10:00:00.000Z'], // a slot at exactly now counts
      ['0 * * * *', 'UTC', '2025-01-01T10:59:59Z', '2025-01-01T10:00:00.000Z'],
      ['30 2 * * *', 'UTC', '2025-01-01T02:29:00Z', '2024-12-31T02:30:00.000Z'],
      ['0 3 * * 0', 'UTC', '2025-01-01T00:00:00Z', '2024-12-29T03:00:00.000Z'], // weekly, Sunday
      ['0 4 1 * *', 'UTC', '2025-03-15T00:00:00Z', '2025-03-01T04:00:00.000Z'], // monthly
      ['@monthly', 'UTC', '2025-03-15T00:00:00Z', '2025-03-01T00:00:00.000Z'],
      // Europe/Berlin: 02:30 does not exist on 2025-03-30 (clocks go 02:00 -> 03:00)
      ['30 2 * * *', 'Europe/Berlin', '2025-03-30T12:00:00Z', '2025-03-29T01:30:00.000Z'],
      ['30 2 * * *', 'Europe/Berlin', '2025-03-31T12:00:00Z', '2025-03-31T00:30:00.000Z'],
      // 02:30 happens twice on 2025-10-26 (00:30Z CEST, 01:30Z CET): one slot, the first
      ['30 2 * * *', 'Europe/Berlin', '2025-10-26T00:45:00Z', '2025-10-26T00:30:00.000Z'],
      ['30 2 * * *', 'Europe/Berlin', '2025-10-26T01:45:00Z', '2025-10-26T00:30:00.000Z'],
      // hourly schedules keep both repeated hours
      ['0 * * * *', 'Europe/Berlin', '2025-10-26T01:30:00Z', '2025-10-26T01:00:00.000Z'],
      ['0 0 * * *', 'Europe/Berlin', '2025-07-01T12:00:00Z', '2025-06-30T22:00:00.000Z'], // midnight CEST
      ['0 0 * * *', 'Europe/Berlin', '2025-01-01T12:00:00Z', '2024-12-31T23:00:00.000Z'], // midnight CET
    ];
    for (const [expr, tz, now, expected] of rows) {
      it(`${expr} in ${tz} at ${now} -> ${expected}`, () => {
        assert.equal(latestSlot(cron(expr, tz), at(now))?.toISOString(), expected);
      });
    }
  });

  describe('nextSlot', () => {
    it('skips the repeat of a wall-clock time on the night clocks go back', () => {
      const next = nextSlot(cron('30 2 * * *', 'Europe/Berlin'), at('2025-10-26T00:31:00Z'));

      assert.equal(next?.toISOString(), '2025-10-27T01:30:00.000Z');
    });

    it('gives the next hour for hourly schedules', () => {
      assert.equal(nextSlot(cron('0 * * * *'), at('2025-01-01T10:00:00Z'))?.toISOString(), '2025-01-01T11:00:00.000Z');
    });
  });

  describe('cronProblem', () => {
    const rows: Array<[string, string, string | undefined]> = [
      ['0 3 * * *', 'UTC', undefined],
      ['@weekly', 'Europe/Berlin', undefined],
      ['0 3 * * MON-FRI', 'UTC', undefined],
      ['0 3 * *', 'UTC', 'expected 5 fields'],
      ['0 0 3 * * *', 'UTC', 'seconds are not supported'],
      ['61 3 * * *', 'UTC', 'invalid cron expression'],
      ['H 3 * * *', 'UTC', 'H (hash)'],
      ['CRON_TZ=UTC 0 3 * * *', 'UTC', 'timeZone field'],
      ['@often', 'UTC', 'unknown macro'],
      ['0 3 * * *', 'Mars/Olympus', 'unknown time zone'],
    ];
    for (const [expr, tz, expected] of rows) {
      it(`${expr} (${tz}) -> ${expected ?? 'valid'}`, () => {
        const problem = cronProblem(expr, tz);

        if (expected === undefined) assert.equal(problem, undefined);
        else assert.match(problem?.message ?? '', new RegExp(expected.replace(/[()]/g, '\\$&')));
      });
    }
  });
});
