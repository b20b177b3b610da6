import assert from 'node:assert/strict';
import {
  applyRetention,
  deletionShareProblem,
  isoWeek,
  type RetentionCandidate,
  type RetentionOptions,
  type RetentionPolicy,
} from '../../../shared/backup/retention.js';
import { formatDuration } from '../../../shared/config/options.js';

const NOW = new Date('2026-11-27T12:00:00Z');

const DAY = 86_400_000;
const OPTIONS: RetentionOptions = { now: NOW, preRestore: { within: 30 * DAY }, formatDuration };

function backups(times: string[], kind: RetentionCandidate['kind'] = 'scheduled'): RetentionCandidate[] {
  return times.map((t, i) => ({ id: `b${i}-${t}`, createdAt: new Date(t), kind }));
}

function kept(times: string[], policy: RetentionPolicy): string[] {
  return applyRetention(backups(times), policy, OPTIONS)
    .filter((d) => d.keep)
    .map((d) => d.createdAt.toISOString().slice(0, 16));
}

/** `time kind keep|delete reasons` per decision, newest first. */
function decide(list: RetentionCandidate[], policy: RetentionPolicy, o: Partial<RetentionOptions> = {}): string[] {
  return applyRetention(list, policy, { ...OPTIONS, ...o }).map(
    (d) => `${d.createdAt.toISOString().slice(0, 13)} ${d.kind} ${d.keep ? 'keep' : 'delete'} ${d.reasons.join('; ')}`,
  );
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

  it('keeps the newest scheduled backup under every single-rule policy', () => {
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
      const d = applyRetention(backups(times), policy, OPTIONS);
      assert.deepEqual(
        d.map((x) => x.keep),
        [true, false, false],
        JSON.stringify(policy),
      );
    }
  });

  it('keeps pre-restore backups by their own rule: they never take or displace a scheduled slot', () => {
    const list = [
      ...backups(['2026-11-27T03:00:00Z', '2026-11-26T03:00:00Z', '2026-11-25T03:00:00Z']),
      // A restore later on 11-26 took a pre-restore backup: it must not become that day's "daily".
      { id: 'p1', createdAt: new Date('2026-11-26T18:00:00Z'), kind: 'pre-restore' as const },
      { id: 'p2', createdAt: new Date('2026-09-01T00:00:00Z'), kind: 'pre-restore' as const },
      { id: 'p3', createdAt: new Date('2026-08-01T00:00:00Z'), kind: 'pre-restore' as const },
    ];

    assert.deepEqual(decide(list, { daily: 2 }), [
      '2026-11-27T03 scheduled keep daily 2026-11-27',
      '2026-11-26T18 pre-restore keep pre-restore within 30d',
      '2026-11-26T03 scheduled keep daily 2026-11-26',
      '2026-11-25T03 scheduled delete matched no keep rule',
      '2026-09-01T00 pre-restore delete matched no keep rule',
      '2026-08-01T00 pre-restore delete matched no keep rule',
    ]);
  });

  it('keeps the newest pre-restore backup however old, and the last N when asked', () => {
    const list = backups(['2026-06-01T00:00:00Z', '2026-05-01T00:00:00Z', '2026-04-01T00:00:00Z'], 'pre-restore');

    assert.deepEqual(
      decide(list, { last: 1 }, { preRestore: { within: DAY, last: 2 } }).map((l) => l.split(' ').slice(0, 3).join(' ')),
      ['2026-06-01T00 pre-restore keep', '2026-05-01T00 pre-restore keep', '2026-04-01T00 pre-restore delete'],
    );
    assert.deepEqual(
      decide(list, { last: 1 }, { preRestore: { within: DAY } })[0],
      '2026-06-01T00 pre-restore keep newest pre-restore backup',
    );
  });

  it('keeps what the caller protects, with the reason it gives', () => {
    const list = backups(['2026-11-27T03:00:00Z', '2026-01-01T00:00:00Z']);

    assert.deepEqual(decide(list, { last: 1 }, { protect: new Map([['b1-2026-01-01T00:00:00Z', 'being read by restore job r1']]) }), [
      '2026-11-27T03 scheduled keep last 1/1',
      '2026-01-01T00 scheduled keep being read by restore job r1',
    ]);
  });

  it('deletionShareProblem refuses a run that would delete more than the share of authenticated backups', () => {
    const d = applyRetention(backups(TWICE_DAILY), { last: 3 }, OPTIONS);

    assert.match(
      deletionShareProblem(d, 0.5) ?? '',
      /^retention would delete 77 of 80 authenticated backups, more than 50%: nothing was deleted/,
    );
    assert.equal(deletionShareProblem(d, 1), undefined);
    assert.equal(
      deletionShareProblem(applyRetention(backups(TWICE_DAILY), { daily: 40 }, OPTIONS), 0.5),
      undefined,
      'exactly half is not more than half',
    );
  });

  it('refuses an empty policy', () => {
    assert.throws(() => applyRetention(backups(['2026-01-01T00:00:00Z']), { last: 0 }, OPTIONS), /empty retention policy/);
  });

  it('computes ISO weeks across year boundaries', () => {
    assert.equal(isoWeek(new Date('2026-01-01T00:00:00Z')), '2026-W01');
    assert.equal(isoWeek(new Date('2027-01-01T00:00:00Z')), '2026-W53');
    assert.equal(isoWeek(new Date('2024-12-30T00:00:00Z')), '2025-W01');
  });
});
