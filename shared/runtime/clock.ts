/** Time as the code sees it; injected so tests and `--now` dry-runs control it. */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects early with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A clock frozen at `at` whose `sleep` returns at once (advancing the frozen time). */
export function fixedClock(at: Date): Clock & { advance(ms: number): void } {
  let t = at.getTime();
  return {
    now: () => new Date(t),
    sleep: async (ms) => {
      t += ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/** System time shifted so that "now" starts at `at` (used by `--now` and tests with real waits). */
export function offsetClock(at: Date): Clock {
  const offset = at.getTime() - Date.now();
  return { now: () => new Date(Date.now() + offset), sleep: systemClock.sleep };
}
