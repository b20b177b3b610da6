import assert from 'node:assert/strict';
import { parsePolicy, type RotationPolicy } from '../../../shared/rotate/policy.js';
import { decideGroup, type GroupMember } from '../../../shared/rotate/rotation-group-decision.js';

const policy = (members: string[]): RotationPolicy => {
  const r = parsePolicy(`maxAge: 30d\nkeys: { p: password }\ngroup: { name: creds, members: [${members.join(', ')}] }`);
  if ('problems' in r) assert.fail(JSON.stringify(r.problems));
  return r.policy;
};

function member(name: string, o: Partial<GroupMember> & { members?: string[]; outcome?: { result: string; rotation: string } } = {}) {
  const annotations: Record<string, string> = o.outcome
    ? { 'secret-steward.io/last-outcome': JSON.stringify({ ...o.outcome, at: '2026-01-01T00:00:00Z' }) }
    : {};
  return {
    member: name,
    head: { metadata: { namespace: 'shop', name, annotations } },
    policy: policy(o.members ?? ['a', 'b']),
    inFlight: o.inFlight,
    due: o.due,
  } satisfies GroupMember;
}

const DUE = { slot: 'max-age@2026-01-01T00:00:00.000Z', reason: 'max-age', detail: 'older than maxAge 30d' };

describe('shared/rotate/rotation-group-decision', () => {
  it('starts a group when any member is due, and leaves it idle when none is', () => {
    const started = decideGroup('shop', 'creds', [member('a', { due: DUE }), member('b')]);
    const idle = decideGroup('shop', 'creds', [member('a'), member('b')]);

    assert.deepEqual(started, {
      kind: 'run',
      mode: 'forward',
      due: { slot: DUE.slot, reason: 'group', detail: `rotation group creds: ${DUE.detail}` },
      acting: ['a', 'b'],
    });
    assert.deepEqual(idle, { kind: 'idle' });
  });

  it('decides from the members records: forward, abort, commit', () => {
    const inFlight = { id: 'r1', step: 'finished' as const };

    const forward = decideGroup('shop', 'creds', [member('a', { inFlight }), member('b')]);
    const failed = decideGroup('shop', 'creds', [
      member('a', { inFlight }),
      member('b', { outcome: { result: 'failed', rotation: 'r1' } }),
    ]);
    const rollingBack = decideGroup('shop', 'creds', [
      member('a', { inFlight }),
      member('b', { inFlight: { id: 'r1', step: 'rolling-back' } }),
    ]);
    const committed = decideGroup('shop', 'creds', [
      member('a', { inFlight }),
      member('b', { outcome: { result: 'succeeded', rotation: 'r1' } }),
    ]);
    const older = decideGroup('shop', 'creds', [member('a', { inFlight }), member('b', { outcome: { result: 'failed', rotation: 'r0' } })]);

    assert.deepEqual(forward.kind === 'run' && [forward.mode, forward.id, forward.acting], ['forward', 'r1', ['a', 'b']]);
    assert.deepEqual(failed.kind === 'run' && [failed.mode, failed.acting], ['abort', ['a']]);
    assert.deepEqual(rollingBack.kind === 'run' && [rollingBack.mode, rollingBack.acting], ['abort', ['a', 'b']]);
    assert.deepEqual(committed.kind === 'run' && [committed.mode, committed.acting], ['commit', ['a']]);
    assert.deepEqual(
      older.kind === 'run' && [older.mode, older.acting],
      ['forward', ['a', 'b']],
      'an outcome of an earlier rotation decides nothing',
    );
  });

  it('refuses a group that is not one, naming each member', () => {
    const cases: Array<[GroupMember[], RegExp]> = [
      [
        [member('a', { members: ['a', 'c'] }), member('c', { members: ['a', 'c'] }), member('b')],
        /the members disagree on group.members: shop\/a, shop\/c: \[a, c\]; shop\/b: \[a, b\]/,
      ],
      [[member('a'), member('b'), member('a')], /member a is claimed by several Secrets: shop\/a, shop\/a/],
      [
        [member('a'), member('b', { members: ['a', 'b'] }), member('x', { members: ['a', 'b'] })],
        /Secret shop\/x declares group creds but its group.members \(a, b\) does not name it \(x\)/,
      ],
      [[member('a')], /member b is not found in namespace shop/],
      [
        [member('a', { inFlight: { id: 'r1', step: 'created' } }), member('b', { inFlight: { id: 'r2', step: 'created' } })],
        /members are in flight with different rotations: shop\/a: r1; shop\/b: r2/,
      ],
    ];

    for (const [found, message] of cases) {
      const d = decideGroup('shop', 'creds', found);
      assert.equal(d.kind, 'refused');
      assert.match(d.kind === 'refused' ? d.message : '', message);
    }
  });
});
