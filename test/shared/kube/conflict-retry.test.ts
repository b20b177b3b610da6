import assert from 'node:assert/strict';
import { CONFLICT_ATTEMPTS, retryOnConflict } from '../../../shared/kube/conflict-retry.js';
import { KubeError } from '../../../shared/kube/kube-error.js';
import type { Clock } from '../../../shared/runtime/clock.js';

const op = { verb: 'update', kind: 'Secret', namespace: 'payments', name: 'db-creds' } as const;
const kubeError = (status: number, reason: string) => new KubeError(op, { status, reason });

/** A clock whose sleeps return at once and are recorded. */
function fakeClock(): Pick<Clock, 'sleep'> & { slept: number[] } {
  const slept: number[] = [];
  return { slept, sleep: async (ms) => void slept.push(ms) };
}

/** `fn` for retryOnConflict that fails with `errors` in turn, then returns the attempt number. */
function failing(errors: unknown[]) {
  const calls: Array<{ attempt: number; conflict: KubeError | undefined }> = [];
  const fn = async (attempt: number, conflict: KubeError | undefined) => {
    calls.push({ attempt, conflict });
    const e = errors[attempt - 1];
    if (e !== undefined) throw e;
    return attempt;
  };
  return { fn, calls };
}

describe('shared/kube/conflict-retry', () => {
  it('runs once when the first attempt succeeds, without sleeping', async () => {
    const clock = fakeClock();
    const { fn, calls } = failing([]);

    const result = await retryOnConflict(fn, { clock });

    assert.equal(result, 1);
    assert.deepEqual(calls, [{ attempt: 1, conflict: undefined }]);
    assert.deepEqual(clock.slept, []);
  });

  it('re-runs after a 409 Conflict, handing the conflict to the next attempt, with a doubling backoff', async () => {
    const clock = fakeClock();
    const first = kubeError(409, 'Conflict');
    const second = kubeError(409, 'Conflict');
    const { fn, calls } = failing([first, second]);
    const seen: number[] = [];

    const result = await retryOnConflict(fn, { clock, onConflict: ({ attempt }) => seen.push(attempt) });

    assert.equal(result, 3);
    assert.deepEqual(calls, [
      { attempt: 1, conflict: undefined },
      { attempt: 2, conflict: first },
      { attempt: 3, conflict: second },
    ]);
    assert.deepEqual(clock.slept, [10, 20]);
    assert.deepEqual(seen, [1, 2]);
  });

  it(`gives up after ${CONFLICT_ATTEMPTS} attempts by default and throws the last conflict unchanged`, async () => {
    const clock = fakeClock();
    const errors = Array.from({ length: 10 }, () => kubeError(409, 'Conflict'));
    const { fn, calls } = failing(errors);

    await assert.rejects(retryOnConflict(fn, { clock }), (e) => e === errors[CONFLICT_ATTEMPTS - 1]);

    assert.equal(calls.length, CONFLICT_ATTEMPTS);
    assert.deepEqual(clock.slept, [10, 20, 40, 80]);
  });

  it('takes the number of attempts and the first backoff from its options', async () => {
    const clock = fakeClock();
    const { fn, calls } = failing(Array.from({ length: 10 }, () => kubeError(409, 'Conflict')));

    await assert.rejects(retryOnConflict(fn, { clock, attempts: 2, backoffMs: 100 }), KubeError);

    assert.equal(calls.length, 2);
    assert.deepEqual(clock.slept, [100]);
  });

  // Everything but a 409 Conflict propagates at once: re-reading cannot help, or the write may have happened.
  const other: Array<[string, unknown]> = [
    ['409 AlreadyExists', kubeError(409, 'AlreadyExists')],
    ['404 NotFound', kubeError(404, 'NotFound')],
    ['422 Invalid', kubeError(422, 'Invalid')],
    ['403 Forbidden', kubeError(403, 'Forbidden')],
    ['500 (outcome unknown)', kubeError(500, 'InternalError')],
    ['a network error', kubeError(0, 'ECONNRESET')],
    ['an error that is not a KubeError', new Error('bug')],
  ];
  for (const [what, error] of other) {
    it(`does not retry ${what}`, async () => {
      const clock = fakeClock();
      const { fn, calls } = failing([error]);

      await assert.rejects(retryOnConflict(fn, { clock }), (e) => e === error);

      assert.equal(calls.length, 1);
      assert.deepEqual(clock.slept, []);
    });
  }

  it('retries what the call site names as meaning the same as a conflict, and nothing else', async () => {
    const clock = fakeClock();
    const invalid = kubeError(422, 'Invalid');
    const forbidden = kubeError(403, 'Forbidden');
    const { fn, calls } = failing([invalid, kubeError(409, 'Conflict'), forbidden]);

    await assert.rejects(retryOnConflict(fn, { clock, alsoConflict: (k) => k.invalid }), (e) => e === forbidden);

    assert.deepEqual(
      calls.map((c) => c.attempt),
      [1, 2, 3],
    );
    assert.equal(calls[1].conflict, invalid);
  });
});
