import assert from 'node:assert/strict';
import { mapLimit } from '../../../shared/runtime/map-limit.js';

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
});
