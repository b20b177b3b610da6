import assert from 'node:assert/strict';
import { AdaptiveLimit } from '../../../shared/runtime/adaptive-limit.js';
import type { Clock } from '../../../shared/runtime/clock.js';

/** A clock that moves only when told; sleeps end when it passes their time. */
function manualClock(): Clock & { advance(ms: number): Promise<void> } {
  let t = 0;
  const sleepers: Array<{ until: number; wake: () => void }> = [];
  return {
    now: () => new Date(t),
    sleep: (ms) => new Promise((wake) => sleepers.push({ until: t + ms, wake })),
    advance: async (ms) => {
      t += ms;
      for (const s of sleepers.splice(0))
        if (s.until <= t) s.wake();
        else sleepers.push(s);
      await new Promise((r) => setImmediate(r));
    },
  };
}

/** Acquires `n` slots; resolves with how many were admitted once the microtasks have run. */
async function tryAcquire(limit: AdaptiveLimit, n: number): Promise<{ admitted: () => number }> {
  let admitted = 0;
  for (let i = 0; i < n; i++) void limit.acquire().then(() => admitted++);
  await new Promise((r) => setImmediate(r));
  return { admitted: () => admitted };
}

describe('shared/runtime/adaptive-limit', () => {
  it('admits up to max at once and the next one when a call settles', async () => {
    const limit = new AdaptiveLimit({ max: 3, clock: manualClock() });

    const calls = await tryAcquire(limit, 5);
    const beforeRelease = calls.admitted();
    limit.release(true);
    await new Promise((r) => setImmediate(r));

    assert.equal(beforeRelease, 3);
    assert.equal(calls.admitted(), 4);
    assert.equal(limit.inFlight, 3);
  });

  it('halves on congestion, once per episode, and grows back by one per round of successes', async () => {
    const clock = manualClock();
    const limit = new AdaptiveLimit({ max: 8, clock, settleMs: 1000 });

    limit.congested({});
    limit.congested({}); // the same overload, seen by another call in flight
    const afterOneEpisode = limit.limit;
    await clock.advance(1000);
    limit.congested({});
    const afterTwo = limit.limit;
    for (let i = 0; i < 2; i++) {
      await limit.acquire();
      limit.release(true);
    }
    const afterOneRound = limit.limit;
    for (let i = 0; i < 100; i++) {
      await limit.acquire();
      limit.release(true);
    }

    assert.equal(afterOneEpisode, 4);
    assert.equal(afterTwo, 2);
    assert.equal(afterOneRound, 3);
    assert.equal(limit.limit, 8, 'never above max');
    assert.equal(limit.decreases, 2);
  });

  it('never goes below min, and calls that failed do not grow it', async () => {
    const clock = manualClock();
    const limit = new AdaptiveLimit({ max: 4, min: 2, clock, settleMs: 0 });

    for (let i = 0; i < 5; i++) limit.congested({});
    const floor = limit.limit;
    for (let i = 0; i < 10; i++) {
      await limit.acquire();
      limit.release(false);
    }

    assert.equal(floor, 2);
    assert.equal(limit.limit, 2);
  });

  it("starts nothing new before the server's Retry-After has passed", async () => {
    const clock = manualClock();
    const limit = new AdaptiveLimit({ max: 4, clock });

    limit.congested({ retryAfterMs: 2000 });
    const calls = await tryAcquire(limit, 2);
    const duringPause = calls.admitted();
    await clock.advance(1999);
    const justBefore = calls.admitted();
    await clock.advance(1);

    assert.equal(duringPause, 0);
    assert.equal(justBefore, 0);
    assert.equal(calls.admitted(), 2);
  });
});
