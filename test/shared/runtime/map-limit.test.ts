import assert from 'node:assert/strict';
import { AdaptiveLimit } from '../../../shared/runtime/adaptive-limit.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { eachLimit, mapLimit } from '../../../shared/runtime/map-limit.js';

describe('shared/runtime/map-limit', () => {
  it('keeps at most `limit` calls in flight and returns results in input order', async () => {
    let inFlight = 0;
    let peak = 0;

    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, n * 3));
      inFlight--;
      return n * 10;
    });

    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
  });

  it('starts nothing new after an error and rejects with it once the started calls settle', async () => {
    const started: number[] = [];

    await assert.rejects(
      mapLimit([1, 2, 3, 4], 1, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('boom');
      }),
      /boom/,
    );

    assert.deepEqual(started, [1, 2]);
  });

  describe('eachLimit over a source read as it goes', () => {
    it('pulls an item only when a call may start, so at most `limit` are held', async () => {
      let pulled = 0;
      let settled = 0;
      let mostAhead = 0;
      async function* source() {
        for (let i = 0; i < 20; i++) {
          pulled++;
          mostAhead = Math.max(mostAhead, pulled - settled);
          yield i;
        }
      }

      await eachLimit(source(), 3, async () => {
        await new Promise((r) => setTimeout(r, 2));
        settled++;
      });

      assert.equal(pulled, 20);
      assert.equal(mostAhead, 3);
    });

    it('closes the source and rejects with the first error, starting nothing after it', async () => {
      let closed = false;
      const started: number[] = [];
      async function* source() {
        try {
          for (let i = 0; i < 10; i++) yield i;
        } finally {
          closed = true;
        }
      }

      await assert.rejects(
        eachLimit(source(), 2, async (n) => {
          started.push(n);
          if (n === 1) throw new Error('boom');
          await new Promise((r) => setTimeout(r, 5));
        }),
        /boom/,
      );

      assert.equal(closed, true);
      assert.deepEqual(started, [0, 1]);
    });

    it('follows an adaptive limit: a call starts only while the calls in flight are within it', async () => {
      const limit = new AdaptiveLimit({ max: 4, clock: systemClock });
      let inFlight = 0;
      const overLimit: string[] = [];
      const limits = new Set<number>();

      await eachLimit([...Array(24).keys()], limit, async (n) => {
        inFlight++;
        limits.add(limit.limit);
        if (inFlight > limit.limit) overLimit.push(`call ${n}: ${inFlight} in flight, limit ${limit.limit}`);
        await new Promise((r) => setTimeout(r, 2));
        if (n === 3) limit.congested({});
        inFlight--;
      });

      assert.deepEqual(overLimit, []);
      assert.equal(limit.decreases, 1);
      assert.ok(limits.has(2), 'calls ran while the limit was halved');
      assert.equal(limit.limit, 4, 'grown back to max');
    });
  });
});
