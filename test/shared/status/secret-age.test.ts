import assert from 'node:assert/strict';
import type { AuthenticatedBackup } from '../../../shared/backup/backup-catalog.js';
import type { SecretEntry } from '../../../shared/backup/backup-index.js';
import { type IndexReader, walkSecretAges } from '../../../shared/status/secret-age.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-01T03:00:00Z');
const day = (d: number) => new Date(T0 + d * DAY);

/** Backups b0..bN-1 one a day, newest first, as authenticatedBackups returns them. */
function backups(n: number): AuthenticatedBackup[] {
  return Array.from({ length: n }, (_, d) => ({ id: `b${d}`, createdAt: day(d) }) as AuthenticatedBackup).reverse();
}

/** Index entries from `name=digest` pairs (digests stand for dataSha256). */
const entries = (spec: string): SecretEntry[] =>
  spec
    .split(' ')
    .filter(Boolean)
    .map((p) => {
      const [name, digest] = p.split('=');
      return { namespace: 'ns', name, type: 'Opaque', dataSha256: digest, segment: 1 };
    });

/** A reader over `indexes` (by backup id; `null`: unreadable) that records what it opened. */
function reader(indexes: Record<string, string | null>): IndexReader & { opened: string[] } {
  const opened: string[] = [];
  const read = async (b: AuthenticatedBackup) => {
    opened.push(b.id);
    const spec = indexes[b.id];
    return spec === null ? { skipped: 'index unreadable: test' } : { secrets: entries(spec) };
  };
  return Object.assign(read, { opened });
}

/** Now is day 10; flagged beyond 7.5 days. */
const opts = { now: day(10), maxUnchangedMs: 7.5 * DAY, include: () => true };

describe('shared/status/secret-age: walkSecretAges', () => {
  it('settles each Secret at the first older backup with other data or without it; data that changes back is a change', async () => {
    const read = reader({ b3: 'a=1 b=2 c=3', b2: 'a=1 b=9 c=3', b1: 'a=1 b=2', b0: 'a=1 b=2 c=3' });

    const walk = await walkSecretAges(backups(4), read, opts);

    const row = (name: string) => walk.secrets.find((s) => s.name === name);
    assert.deepEqual(
      walk.secrets.map((s) => [s.name, s.sinceBackup, s.changedAfter?.backup, s.changedAfter?.was]),
      [
        ['a', 'b0', undefined, undefined],
        ['b', 'b3', 'b2', 'other data'],
        ['c', 'b2', 'b1', 'absent'],
      ],
    );
    assert.deepEqual(row('a')?.unchangedSince, day(0));
    assert.equal(row('a')?.unchangedForMs, 10 * DAY);
    assert.deepEqual(
      walk.secrets.map((s) => s.flagged),
      [true, false, true],
    );
    assert.deepEqual(walk.asOf, { backup: 'b3', createdAt: day(3) });
    assert.deepEqual(walk.oldestRead, { backup: 'b0', createdAt: day(0) });
  });

  it('stops reading once every Secret is settled', async () => {
    const read = reader({ b4: 'a=2 b=2', b3: 'a=1 b=2', b2: 'a=1 b=1', b1: 'a=1 b=1', b0: 'a=1 b=1' });

    const walk = await walkSecretAges(backups(5), read, opts);

    assert.deepEqual(read.opened, ['b4', 'b3', 'b2']);
    assert.deepEqual(walk.oldestRead, { backup: 'b2', createdAt: day(2) });
  });

  it('walks past an unreadable backup (reported) and takes the newest readable one as the present', async () => {
    const read = reader({ b3: null, b2: 'a=1', b1: null, b0: 'a=1' });

    const walk = await walkSecretAges(backups(4), read, opts);

    assert.deepEqual(walk.asOf, { backup: 'b2', createdAt: day(2) });
    assert.equal(walk.secrets[0].sinceBackup, 'b0');
    assert.deepEqual(
      walk.unreadable.map((u) => u.id),
      ['b3', 'b1'],
    );
  });

  it('reports only the namespaces asked for, and nothing without a readable backup', async () => {
    const read = reader({ b0: 'a=1' });

    const none = await walkSecretAges(backups(1), read, { ...opts, include: (ns) => ns === 'other' });
    const empty = await walkSecretAges([], read, opts);

    assert.deepEqual(none.secrets, []);
    assert.equal(empty.asOf, undefined);
    assert.deepEqual(empty.secrets, []);
  });
});
