import assert from 'node:assert/strict';
import { fixedClock } from '../../../shared/runtime/clock.js';
import { parseRetryAfter, type RetryDecision, withRetry } from '../../../shared/runtime/retry.js';

const retryable = (): RetryDecision => ({ retry: true, reason: 'flaky' });

function failing(times: number, error: unknown = new Error('flaky')) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    fn: async () => {
      calls++;
      if (calls <= times) throw error;
      return 'ok';
    },
  };
}

describe('shared/runtime/retry', () => {
  it('retries until success with capped exponential backoff and full jitter', async () => {
    const clock = fixedClock(new Date(0));
    const op = failing(3);
    const delays: number[] = [];

    const result = await withRetry(op.fn, {
      classify: retryable,
      clock,
      random: () => 0.999,
      baseDelayMs: 100,
      maxDelayMs: 300,
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });

    assert.equal(result, 'ok');
    assert.equal(op.calls, 4);
    assert.deepEqual(delays, [99, 199, 299]);
  });

  it('stops at once on an error the policy does not retry', async () => {
    const op = failing(5, new Error('permanent'));

    await assert.rejects(withRetry(op.fn, { classify: () => ({ retry: false }), clock: fixedClock(new Date(0)) }), /permanent/);
    assert.equal(op.calls, 1);
  });

  it('gives up after maxAttempts and rethrows the last error unchanged', async () => {
    const error = new Error('still down');
    const op = failing(10, error);

    await assert.rejects(withRetry(op.fn, { classify: retryable, clock: fixedClock(new Date(0)), maxAttempts: 3 }), (e) => e === error);
    assert.equal(op.calls, 3);
  });

  it('honours a server delay (Retry-After) as a minimum and respects the time budget', async () => {
    const clock = fixedClock(new Date(0));
    const op = failing(10);
    const delays: number[] = [];

    await assert.rejects(
      withRetry(op.fn, {
        classify: () => ({ retry: true, afterMs: 2000, reason: '429' }),
        clock,
        random: () => 0,
        budgetMs: 5000,
        onRetry: ({ delayMs }) => delays.push(delayMs),
      }),
    );

    assert.deepEqual(delays, [2000, 2000]);
    assert.equal(op.calls, 3);
    assert.equal(clock.now().getTime(), 4000);
  });

  it('parses Retry-After in seconds and as an HTTP date', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
