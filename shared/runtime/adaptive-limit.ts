import type { Clock } from './clock.js';
import type { Limiter } from './map-limit.js';

/** Told when a server says it is overloaded (429, 5xx), by whoever sees the answer. */
export interface CongestionSignal {
  congested(o: { retryAfterMs?: number }): void;
}

/**
 * A concurrency limit that backs off when the server is overloaded and recovers slowly (AIMD,
 * as TCP's congestion window): it starts at `max`; every {@link congested} halves it (not below
 * `min`) and holds back new calls for the server's Retry-After; it grows by one after each
 * round of successful calls (as many as the limit) started within it, up to `max`.
 * Congestion within `settleMs` of a halving is the same episode and does not halve it again:
 * one overload is one halving, however many calls in flight were refused by it.
 */
export class AdaptiveLimit implements Limiter, CongestionSignal {
  readonly max: number;
  private readonly min: number;
  private current: number;
  /** Successful calls since the limit last changed. */
  private successes = 0;
  private active = 0;
  private pausedUntil = 0;
  /** When the limit was last halved; later congestion within `settleMs` of it is the same episode. */
  private decreasedAt = Number.NEGATIVE_INFINITY;
  private readonly waiting: Array<() => void> = [];
  private timer: ReturnType<Clock['sleep']> | undefined;
  /** How many times the limit was halved. */
  decreases = 0;

  private readonly clock: Clock;
  private readonly settleMs: number;

  /** @param o.settleMs @default 1000 */
  constructor(o: { max: number; min?: number; clock: Clock; settleMs?: number }) {
    this.clock = o.clock;
    this.settleMs = o.settleMs ?? 1000;
    this.max = Math.max(1, Math.floor(o.max));
    this.min = Math.max(1, Math.min(this.max, Math.floor(o.min ?? 1)));
    this.current = this.max;
  }

  /** The calls that may be in flight now. */
  get limit(): number {
    return this.current;
  }

  /** The calls in flight now. */
  get inFlight(): number {
    return this.active;
  }

  acquire(): Promise<void> {
    if (this.waiting.length === 0 && this.admits()) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.active++;
        resolve();
      });
      this.wake();
    });
  }

  release(ok: boolean): void {
    // A call beyond the limit started before a halving: its success says nothing about the new limit.
    const withinLimit = this.active <= this.current;
    this.active--;
    if (ok && withinLimit && this.current < this.max && ++this.successes >= this.current) {
      this.current++;
      this.successes = 0;
    }
    this.wake();
  }

  congested(o: { retryAfterMs?: number }): void {
    const now = this.clock.now().getTime();
    if (now - this.decreasedAt >= this.settleMs) {
      this.current = Math.max(this.min, Math.floor(this.current / 2));
      this.successes = 0;
      this.decreasedAt = now;
      this.decreases++;
    }
    if (o.retryAfterMs !== undefined && o.retryAfterMs > 0) this.pausedUntil = Math.max(this.pausedUntil, now + o.retryAfterMs);
  }

  private admits(): boolean {
    return this.active < this.limit && this.clock.now().getTime() >= this.pausedUntil;
  }

  /** Starts waiting calls while the limit admits them; sleeps out a pause first. */
  private wake(): void {
    while (this.waiting.length > 0 && this.admits()) this.waiting.shift()?.();
    if (this.waiting.length === 0 || this.timer !== undefined) return;
    const pause = this.pausedUntil - this.clock.now().getTime();
    if (pause <= 0) return;
    this.timer = this.clock.sleep(pause).then(() => {
      this.timer = undefined;
      this.wake();
    });
  }
}
