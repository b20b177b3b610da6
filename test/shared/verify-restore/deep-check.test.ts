import assert from 'node:assert/strict';
import type { BackupSeal } from '../../../shared/backup/backup-seal.js';
import { type DeepCheckCandidate, selectForDeepCheck } from '../../../shared/verify-restore/deep-check.js';
import { outsideCycle } from '../../../shared/verify-restore/verification-history.js';

const DAY = 86_400_000;
const now = new Date('2026-12-20T03:00:00Z');
const ago = (days: number) => new Date(now.getTime() - days * DAY);

function candidate(id: string, createdDaysAgo: number, verifiedDaysAgo?: number): DeepCheckCandidate {
  return {
    id,
    createdAt: ago(createdDaysAgo),
    seal: {} as BackupSeal,
    signer: 'F'.repeat(40),
    ...(verifiedDaysAgo !== undefined ? { lastVerified: ago(verifiedDaysAgo).toISOString() } : {}),
  };
}

describe('verify-restore/deep-check', () => {
  const backups = [candidate('a', 30, 2), candidate('b', 20), candidate('c', 10, 9), candidate('d', 25), candidate('e', 3)];

  const cases: Array<{ name: string; budget: number; expected: string[] }> = [
    { name: 'never verified first (older backup first), then verified longest ago', budget: 3, expected: ['d', 'b', 'e'] },
    { name: 'a budget larger than the backups takes them all, in that order', budget: 10, expected: ['d', 'b', 'e', 'c', 'a'] },
    { name: 'budget 0: every backup neither verified nor created within the cycle', budget: 0, expected: ['d', 'b', 'c'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const chosen = selectForDeepCheck(backups, { budget: c.budget, cycleMs: 7 * DAY, now });

      assert.deepEqual(
        chosen.map((x) => x.id),
        c.expected,
      );
    });
  }

  it('is deterministic: the order of the input does not matter', () => {
    const shuffled = [backups[3], backups[0], backups[4], backups[2], backups[1]];

    assert.deepEqual(
      selectForDeepCheck(shuffled, { budget: 2, cycleMs: 7 * DAY, now }).map((x) => x.id),
      selectForDeepCheck(backups, { budget: 2, cycleMs: 7 * DAY, now }).map((x) => x.id),
    );
  });

  it('a run that verified the chosen ones makes the next run take the next ones (catch-up)', () => {
    const first = selectForDeepCheck(backups, { budget: 2, cycleMs: 7 * DAY, now });
    const after = backups.map((b) => (first.includes(b) ? { ...b, lastVerified: now.toISOString() } : b));

    const second = selectForDeepCheck(after, { budget: 2, cycleMs: 7 * DAY, now: new Date(now.getTime() + DAY) });

    assert.deepEqual(
      [first.map((x) => x.id), second.map((x) => x.id)],
      [
        ['d', 'b'],
        ['e', 'c'],
      ],
    );
  });

  it('outsideCycle: the last verification, or the creation of a backup never verified, against the cycle', () => {
    const rows = [
      { createdAt: ago(10), lastVerified: ago(3).toISOString(), expected: false },
      { createdAt: ago(10), lastVerified: ago(8).toISOString(), expected: true },
      { createdAt: ago(10), lastVerified: null, expected: true },
      { createdAt: ago(5), lastVerified: null, expected: false },
    ];

    assert.deepEqual(
      rows.map((r) => outsideCycle(r, now, 7 * DAY)),
      rows.map((r) => r.expected),
    );
  });
});
