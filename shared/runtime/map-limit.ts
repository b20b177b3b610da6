/**
 * How many calls may be in flight: a fixed number, or a limiter whose limit changes while the
 * calls run (see {@link AdaptiveLimit}).
 */
export type Concurrency = number | Limiter;

/** Admits calls one at a time; `max` is the most it will ever admit at once. */
export interface Limiter {
  readonly max: number;
  /** Resolves when one more call may start. */
  acquire(): Promise<void>;
  /** A call admitted by `acquire` has settled (`ok`: it succeeded). */
  release(ok: boolean): void;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in order of start. Rejects with
 * the first error once the calls already started have settled (no new ones start after it).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: Concurrency, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  await eachLimit(items, limit, async (item, i) => {
    results[i] = await fn(item, i);
  });
  return results;
}

/**
 * {@link mapLimit} over a source that may be produced while it is consumed (an async generator
 * reading a stream): items are pulled only when a call may start, so at most about `limit`
 * of them are held at once, and nothing is collected. On an error no new item is pulled, the
 * started calls settle, the source is closed (`return()`), and the error is thrown.
 */
export async function eachLimit<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: Concurrency,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const it: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
  const limiter = typeof limit === 'number' ? undefined : limit;
  const workers = Math.max(1, typeof limit === 'number' ? limit : limit.max);
  let index = 0;
  let done = false;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && !done) {
      await limiter?.acquire();
      let admitted = limiter !== undefined;
      try {
        if (failed !== undefined || done) break;
        const next = await it.next();
        if (next.done || failed !== undefined) {
          done = true;
          break;
        }
        const i = index++;
        await fn(next.value, i);
        limiter?.release(true);
        admitted = false;
      } catch (error) {
        failed ??= { error };
      } finally {
        if (admitted) limiter?.release(false);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  if (failed !== undefined) {
    await Promise.resolve(it.return?.()).catch(() => undefined);
    throw failed.error;
  }
}
