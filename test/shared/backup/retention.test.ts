import assert from 'node:assert/strict';
import { applyRetention, isoWeek, type RetentionPolicy } from '../../../shared/backup/retention.js';

const NOW = new Date('2026-11-27T12:00:00Z');

function backups(times: string[], incomplete: string[] = []) {
  return times.map((t, i) => ({ id: `b${i}-${t}`, createdAt: new Date(t), complete: !incomplete.includes(t) }));
}

function kept(times: string[], policy: RetentionPolicy, incomplete: string[] = []): string[] {
  return applyRetention(backups(times, incomplete), policy, { now: NOW, incompleteGraceMs: 6 * 3_600_000 })
    .filter((d) => d.keep)
    .map((d) => d.createdAt.toISOString().slice(0, 16));
}

// Two backups a day for 40 days, at 03:00 and 15:00 UTC, newest 2026-11-27T03:00.
const TWICE_DAILY: string[] = [];
for (let day = 0; day < 40; day++) {
  const base = Date.parse('2026-11-27T03:00:00Z') - day * 86_400_000;
  TWICE_DAILY.push(new Date(base).toISOString(), new Date(base - 12 * 3_600_000).toISOString());
}

describe('shared/backup/retention', () => {
  const table: Array<{ name: string; policy: RetentionPolicy; expect: string[] }> = [
    { name: 'last 3', policy: { last: 3 }, expect: ['2026-11-27T03:00', '2026-11-26T15:00', '2026-11-26T03:00'] },
    {
      name: 'daily 3 keeps the newest of each of the 3 newest days',
      policy: { daily: 3 },
      expect: ['2026-11-27T03:00', '2026-11-26T15:00', '2026-11-25T15:00'],
    },
    { name: 'hourly 2', policy: { hourly: 2 }, expect: ['2026-11-27T03:00', '2026-11-26T15:00'] },
    {
      name: 'weekly 3 uses ISO weeks (Monday start)',
      policy: { weekly: 3 },
      // 2026-11-27 is a Friday (W48); W47 ends Sun 11-22; W46 ends Sun 11-15.
      expect: ['2026-11-27T03:00', '2026-11-22T15:00', '2026-11-15T15:00'],
    },
    { name: 'monthly 2', policy: { monthly: 2 }, expect: ['2026-11-27T03:00', '2026-10-31T15:00'] },
    { name: 'yearly 5 when only one year exists', policy: { yearly: 5 }, expect: ['2026-11-27T03:00'] },
    {
      name: 'within 1d of the newest backup (not of now)',
      policy: { within: 86_400_000 },
      expect: ['2026-11-27T03:00', '2026-11-26T15:00', '2026-11-26T03:00'],
    },
    {
      name: 'rules are ORed',
      policy: { last: 1, monthly: 2 },
      expect: ['2026-11-27T03:00', '2026-10-31T15:00'],
    },
  ];
  for (const { name, policy, expect } of table) {
    it(name, () => assert.deepEqual(kept(TWICE_DAILY, policy), expect));
  }

  it('keeps the newest complete backup under every single-rule policy', () => {
    const times = ['2026-01-01T00:00:00Z', '2025-01-01T00:00:00Z', '2020-06-01T00:00:00Z'];
    const policies: RetentionPolicy[] = [
      { last: 1 },
      { hourly: 1 },
      { daily: 1 },
      { weekly: 1 },
      { monthly: 1 },
      { yearly: 1 },
      { within: 1 },
    ];

    for (const policy of policies) {
      const d = applyRetention(backups(times), policy, { now: NOW, incompleteGraceMs: 0 });
      assert.deepEqual(
        d.map((x) => x.keep),
        [true, false, false],
        JSON.stringify(policy),
      );
    }
  });

  it('keeps the newest complete backup when incomplete ones are newer, and ages out stale incomplete ones', () => {
    const times = ['2026-11-27T11:00:00Z', '2026-11-27T01:00:00Z', '2026-11-26T03:00:00Z', '2026-11-25T03:00:00Z'];
    const d = applyRetention(
      backups(times, ['2026-11-27T11:00:00Z', '2026-11-27T01:00:00Z']),
      { last: 1 },
      { now: NOW, incompleteGraceMs: 6 * 3_600_000 },
    );

    assert.deepEqual(
      d.map((x) => `${x.createdAt.toISOString().slice(0, 13)} ${x.keep ? 'keep' : 'delete'} ${x.reasons.join('; ')}`),
      [
        '2026-11-27T11 keep incomplete, may still be in progress',
        '2026-11-27T01 delete incomplete and older than the grace period',
        '2026-11-26T03 keep last 1/1',
        '2026-11-25T03 delete matched no keep rule',
      ],
    );
  });

  it('refuses an empty policy', () => {
    assert.throws(
      () => applyRetention(backups(['2026-01-01T00:00:00Z']), { last: 0 }, { now: NOW, incompleteGraceMs: 0 }),
      /empty retention policy/,
    );
  });

  it('computes ISO weeks across year boundaries', () => {
    assert.equal(isoWeek(new Date('2026-01-01T00:00:00Z')), '2026-W01');
    assert.equal(isoWeek(new Date('2027-01-01T00:00:00Z')), '2026-W53');
    assert.equal(isoWeek(new Date('2024-12-30T00:00:00Z')), '2025-W01');
  });
});
