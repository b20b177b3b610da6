import type { Clock } from './clock.js';

/** What a retry policy decides about one failed attempt. */
export type RetryDecision =
  | { retry: false }
  /** Retry; `afterMs` overrides the backoff (e.g. a server's Retry-After). */
  | { retry: true; afterMs?: number; reason: string };

export interface RetryOptions {
  /** Attempts in all, including the first. @default 6 */
  maxAttempts?: number;
  /** First backoff before jitter. @default 200 */
  baseDelayMs?: number;
  /** Largest single backoff. @default 10000 */
  maxDelayMs?: number;
  /** Total time that may be spent waiting; past it, the last error is thrown. @default 60000 */
  budgetMs?: number;
  /** Decides per error whether another attempt is safe and useful. */
  classify: (error: unknown) => RetryDecision;
  clock: Clock;
  /** Uniform random in [0, 1); injected for tests. @default Math.random */
  random?: () => number;
  /** Called before each wait, for logging. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; error: unknown }) => void;
  signal?: AbortSignal;
}

/**
 * Runs `fn` until it succeeds, the policy says an error is not worth retrying, or the attempt
 * or time budget is spent; then throws the last error unchanged. Backoff is exponential with
 * full jitter; a server-provided delay (Retry-After) is honoured as a minimum.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const maxAttempts = o.maxAttempts ?? 6;
  const base = o.baseDelayMs ?? 200;
  const cap = o.maxDelayMs ?? 10_000;
  const budget = o.budgetMs ?? 60_000;
  const random = o.random ?? Math.random;
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const decision = o.classify(error);
      if (!decision.retry || attempt >= maxAttempts || o.signal?.aborted) throw error;
      const backoff = Math.floor(random() * Math.min(cap, base * 2 ** (attempt - 1)));
      const delayMs = Math.max(backoff, Math.min(decision.afterMs ?? 0, cap * 3));
      if (waited + delayMs > budget) throw error;
      o.onRetry?.({ attempt, delayMs, reason: decision.reason, error });
      await o.clock.sleep(delayMs, o.signal);
      waited += delayMs;
    }
  }
}

/** Parses a Retry-After header (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | undefined | null, now: Date): number | undefined {
  if (value == null || value === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}
