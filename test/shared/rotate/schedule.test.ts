import assert from 'node:assert/strict';
import { assessDue, type RotationRecord, rotationRecord } from '../../../shared/rotate/schedule.js';
import type { CronTrigger } from '../../../shared/runtime/cron-schedule.js';

const at = (iso: string) => new Date(iso);
const cron = (expr: string, timeZone = 'UTC'): CronTrigger => ({ kind: 'schedule', cron: expr, timeZone });
const record = (lastRotated: string | undefined, extra: Partial<RotationRecord> = {}): RotationRecord => ({
  created: at('2024-01-01T00:00:00Z'),
  lastRotated: lastRotated === undefined ? undefined : at(lastRotated),
  ...extra,
});

describe('shared/rotate/schedule', () => {
  describe('assessDue', () => {
    // [cron, zone, last rotated (undefined: never), now, due?]
    const rows: Array<[string, string, string | undefined, string, boolean]> = [
      ['0 * * * *', 'UTC', '2025-01-01T09:00:05Z', '2025-01-01T09:59:00Z', false],
      ['0 * * * *', 'UTC', '2025-01-01T09:00:05Z', '2025-01-01T10:00:00Z', true],
      ['0 * * * *', 'UTC', '2025-01-01T10:00:01Z', '2025-01-01T10:30:00Z', false], // slot already done
      ['0 * * * *', 'UTC', undefined, '2025-01-01T10:30:00Z', true], // never rotated: created long ago
      ['30 2 * * *', 'UTC', '2025-01-01T02:31:00Z', '2025-01-02T02:29:00Z', false],
      ['30 2 * * *', 'UTC', '2025-01-01T02:31:00Z', '2025-01-02T02:30:00Z', true],
      ['30 2 * * *', 'UTC', '2024-12-20T02:31:00Z', '2025-01-02T02:00:00Z', true], // missed runs: due once
      ['0 3 * * 0', 'UTC', '2024-12-29T03:00:10Z', '2025-01-04T23:00:00Z', false],
      ['0 3 * * 0', 'UTC', '2024-12-29T03:00:10Z', '2025-01-05T03:00:00Z', true],
      ['0 4 1 * *', 'UTC', '2025-02-01T04:01:00Z', '2025-02-28T23:59:00Z', false],
      ['0 4 1 * *', 'UTC', '2025-02-01T04:01:00Z', '2025-03-01T04:00:00Z', true],
      // Europe/Berlin daily 02:30 across the spring switch: no slot on 2025-03-30
      ['30 2 * * *', 'Europe/Berlin', '2025-03-29T01:31:00Z', '2025-03-30T23:00:00Z', false],
      ['30 2 * * *', 'Europe/Berlin', '2025-03-29T01:31:00Z', '2025-03-31T00:30:00Z', true],
      // ... and across the autumn switch: rotated at the first 02:30, not again at the second
      ['30 2 * * *', 'Europe/Berlin', '2025-10-26T00:31:00Z', '2025-10-26T01:31:00Z', false],
      ['30 2 * * *', 'Europe/Berlin', '2025-10-25T00:31:00Z', '2025-10-26T01:31:00Z', true],
      // Berlin weekly / monthly / hourly
      ['0 3 * * 0', 'Europe/Berlin', '2025-10-19T01:00:30Z', '2025-10-26T01:59:00Z', false], // 03:00 CET = 02:00Z
      ['0 3 * * 0', 'Europe/Berlin', '2025-10-19T01:00:30Z', '2025-10-26T02:00:00Z', true],
      ['0 4 1 * *', 'Europe/Berlin', '2025-03-01T03:00:30Z', '2025-04-01T01:59:00Z', false], // 04:00 CEST = 02:00Z
      ['0 4 1 * *', 'Europe/Berlin', '2025-03-01T03:00:30Z', '2025-04-01T02:00:00Z', true],
      ['0 * * * *', 'Europe/Berlin', '2025-10-26T00:00:10Z', '2025-10-26T01:00:00Z', true], // the repeated 02:00
    ];
    for (const [expr, tz, last, now, due] of rows) {
      it(`${expr} ${tz}: last ${last ?? 'never'}, now ${now} -> ${due ? 'due' : 'not due'}`, () => {
        const result = assessDue(cron(expr, tz), record(last), at(now));

        assert.equal(result.due, due, result.detail);
      });
    }

    it('records the slot a due rotation satisfies', () => {
      const result = assessDue(cron('0 * * * *'), record('2025-01-01T08:00:00Z'), at('2025-01-01T10:15:00Z'));

      assert.equal(result.due && result.slot, '2025-01-01T10:00:00.000Z');
    });

    it('treats a slot recorded as done as not due even if the clock disagrees', () => {
      const result = assessDue(
        cron('0 * * * *'),
        record('2025-01-01T09:59:00Z', { lastSlot: '2025-01-01T10:00:00.000Z' }),
        at('2025-01-01T10:15:00Z'),
      );

      assert.equal(result.due, false);
    });

    const maxAgeRows: Array<[string | undefined, string, boolean]> = [
      ['2025-01-01T00:00:00Z', '2025-01-30T23:59:59Z', false],
      ['2025-01-01T00:00:00Z', '2025-01-31T00:00:00Z', true],
      [undefined, '2024-01-30T00:00:00Z', false], // created 2024-01-01
      [undefined, '2024-01-31T00:00:00Z', true],
    ];
    for (const [last, now, due] of maxAgeRows) {
      it(`maxAge 30d: last ${last ?? 'never'}, now ${now} -> ${due ? 'due' : 'not due'}`, () => {
        assert.equal(assessDue({ kind: 'max-age', maxAgeMs: 30 * 86_400_000 }, record(last), at(now)).due, due);
      });
    }

    it('makes a Secret due at once with rotate-now, whatever the schedule', () => {
      const result = assessDue(cron('0 4 1 * *'), record('2025-03-01T04:00:10Z', { rotateNow: '' }), at('2025-03-01T05:00:00Z'));

      assert.equal(result.due && result.reason, 'rotate-now');
    });

    it('holds a Secret whose rotation for this slot was rolled back, until the next slot', () => {
      const rolledBack = { result: 'rolled-back' as const, rotation: 'r1', at: '2025-01-01T10:01:00Z', slot: '2025-01-01T10:00:00.000Z' };

      const held = assessDue(cron('0 * * * *'), record('2025-01-01T09:00:10Z', { lastOutcome: rolledBack }), at('2025-01-01T10:30:00Z'));
      const nextSlotDue = assessDue(
        cron('0 * * * *'),
        record('2025-01-01T09:00:10Z', { lastOutcome: rolledBack }),
        at('2025-01-01T11:00:00Z'),
      );
      const retried = assessDue(
        cron('0 * * * *'),
        record('2025-01-01T09:00:10Z', { lastOutcome: rolledBack, rotateNow: 'yes' }),
        at('2025-01-01T10:30:00Z'),
      );

      assert.equal(held.due, false);
      assert.equal(!held.due && held.held, true);
      assert.equal(nextSlotDue.due, true);
      assert.equal(retried.due, true);
    });

    it('holds a maxAge Secret after a rollback for another maxAge', () => {
      const rolledBack = { result: 'rolled-back' as const, rotation: 'r1', at: '2025-02-01T00:00:00Z' };
      const trigger = { kind: 'max-age' as const, maxAgeMs: 86_400_000 };

      assert.equal(assessDue(trigger, record('2025-01-01T00:00:00Z', { lastOutcome: rolledBack }), at('2025-02-01T12:00:00Z')).due, false);
      assert.equal(assessDue(trigger, record('2025-01-01T00:00:00Z', { lastOutcome: rolledBack }), at('2025-02-02T00:00:00Z')).due, true);
    });

    it('does not hold a Secret whose rollback the API server caused (transient)', () => {
      const slotRollback = {
        result: 'rolled-back' as const,
        rotation: 'r1',
        at: '2025-01-01T10:01:00Z',
        slot: '2025-01-01T10:00:00.000Z',
        transient: true,
      };
      const ageRollback = { result: 'rolled-back' as const, rotation: 'r1', at: '2025-02-01T00:00:00Z', transient: true };

      assert.equal(
        assessDue(cron('0 * * * *'), record('2025-01-01T09:00:10Z', { lastOutcome: slotRollback }), at('2025-01-01T10:30:00Z')).due,
        true,
      );
      assert.equal(
        assessDue(
          { kind: 'max-age', maxAgeMs: 86_400_000 },
          record('2025-01-01T00:00:00Z', { lastOutcome: ageRollback }),
          at('2025-02-01T12:00:00Z'),
        ).due,
        true,
      );
    });
  });

  describe('rotationRecord', () => {
    it('reads the annotations we record', () => {
      const r = rotationRecord({
        creationTimestamp: '2024-01-01T00:00:00Z',
        annotations: {
          'secret-steward.io/last-rotated': '2025-01-01T10:00:05Z',
          'secret-steward.io/last-slot': '2025-01-01T10:00:00.000Z',
          'secret-steward.io/last-outcome': JSON.stringify({ result: 'succeeded', rotation: 'r1', at: '2025-01-01T10:00:05Z' }),
          'secret-steward.io/rotate-now': 'please',
        },
      });

      assert.equal(r.lastRotated?.toISOString(), '2025-01-01T10:00:05.000Z');
      assert.equal(r.lastSlot, '2025-01-01T10:00:00.000Z');
      assert.equal(r.lastOutcome?.result, 'succeeded');
      assert.equal(r.rotateNow, 'please');
      assert.equal(r.created.toISOString(), '2024-01-01T00:00:00.000Z');
    });
  });
});
