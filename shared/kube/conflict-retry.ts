import type { Clock } from '../runtime/clock.js';
import { isKubeError, type KubeError } from './kube-error.js';

/** Attempts {@link retryOnConflict} makes by default, the first included (client-go's `retry.DefaultRetry`). */
export const CONFLICT_ATTEMPTS = 5;

export interface ConflictRetryOptions {
  /** Sleeps between attempts; tests pass a fake clock. */
  clock: Pick<Clock, 'sleep'>;
  /** Attempts in all, the first included. @default 5 ({@link CONFLICT_ATTEMPTS}) */
  attempts?: number;
  /** Wait after the first conflict, doubled after each further one (10, 20, 40, 80 ms). @default 10 */
  backoffMs?: number;
  /**
   * Other answers that, at this call site, mean the same as a 409 Conflict: the object is not
   * as it was read (a JSON patch whose `test` failed: 422; an object deleted or created since
   * the read: 404 on a replace, AlreadyExists on a create; a write whose answer was lost).
   * Name them here, with the reason, rather than writing another loop. @default none
   */
  alsoConflict?: (error: KubeError) => boolean;
  /** Called before each retry, for a log line. */
  onConflict?: (info: { attempt: number; error: KubeError }) => void;
}

/**
 * client-go's `retry.RetryOnConflict` for our read-modify-write loops: runs `fn`, and when it
 * fails with 409 Conflict (the object changed since it was read) waits a little and runs it
 * again, at most `attempts` times in all; then the last conflict is thrown as it came. Any other
 * error propagates at once: only a conflict means that reading again and re-applying the change
 * can succeed.
 *
 * `fn(attempt, conflict)` re-reads the object when `attempt > 1` (the first attempt uses what the
 * caller holds); `conflict` is the error that caused the retry, for a caller that finds the object
 * gone and reports that instead.
 *
 * @example
 *   await retryOnConflict(async (attempt) => {
 *     if (attempt > 1) head = await secrets.get(namespace, name);
 *     head = await secrets.patchMetadata(namespace, name, { resourceVersion: head.metadata.resourceVersion, annotations });
 *   }, { clock });
 */
export async function retryOnConflict<T>(
  fn: (attempt: number, conflict: KubeError | undefined) => Promise<T>,
  o: ConflictRetryOptions,
): Promise<T> {
  const attempts = o.attempts ?? CONFLICT_ATTEMPTS;
  const backoffMs = o.backoffMs ?? 10;
  let conflict: KubeError | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt, conflict);
    } catch (e) {
      if (!isKubeError(e, (k) => k.conflict || (o.alsoConflict?.(k) ?? false)) || attempt >= attempts) throw e;
      conflict = e;
      o.onConflict?.({ attempt, error: e });
      await o.clock.sleep(backoffMs * 2 ** (attempt - 1));
    }
  }
}
