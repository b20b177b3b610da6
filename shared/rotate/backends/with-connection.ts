import { TransientError } from '../../errors/index.js';
import type { Logger } from '../../log/index.js';
import type { Clock } from '../../runtime/clock.js';
import { withRetry } from '../../runtime/retry.js';

/** Node's codes for a certificate that did not verify (OpenSSL's X509_V_ERR_* names, and the name check). */
export const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** What a database connection needs from the step that opens it. */
export interface ConnectDeps {
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
}

/** How one database backend opens, closes and judges its connections. */
export interface ConnectionDriver<C> {
  /** The database, as messages name it (never a password). */
  database: string;
  /** The log field naming the user ("role", "account") and its value. */
  noun: 'role' | 'account';
  user: string;
  /** Total connection attempts (`backend.connectAttempts`). */
  attempts: number;
  open(): Promise<C>;
  close(c: C): Promise<void>;
  /** True for a problem worth another attempt (unreachable, reset, timeout). */
  isTransient(e: unknown): boolean;
  /** The error, safe to print. */
  errorText(e: unknown): string;
}

/**
 * Runs `fn` on a fresh connection (`driver.open`), closing it afterwards; connection problems
 * are retried (`driver.attempts` in all, exponential backoff), then reported as a
 * TransientError. Anything else (a refused password, a failing statement) is thrown at once.
 */
export async function withConnection<C, T>(
  driver: ConnectionDriver<C>,
  deps: ConnectDeps,
  what: string,
  fn: (c: C) => Promise<T>,
): Promise<T> {
  try {
    return await withRetry(
      async () => {
        const conn = await driver.open();
        try {
          return await fn(conn);
        } finally {
          await driver.close(conn);
        }
      },
      {
        maxAttempts: driver.attempts,
        baseDelayMs: 1000,
        maxDelayMs: 10_000,
        budgetMs: 120_000,
        clock: deps.clock,
        signal: deps.signal,
        random: () => 1,
        classify: (e) => (driver.isTransient(e) ? { retry: true, reason: driver.errorText(e) } : { retry: false }),
        onRetry: ({ attempt, delayMs, reason }) =>
          deps.log.warn(
            { database: driver.database, [driver.noun]: driver.user, attempt, delayMs },
            `${what}: database not reachable (${reason}); retrying`,
          ),
      },
    );
  } catch (e) {
    if (driver.isTransient(e)) {
      throw new TransientError(
        `database ${driver.database} not reachable for ${what} after ${driver.attempts} attempt(s): ${driver.errorText(e)}`,
        { cause: e },
      );
    }
    throw e;
  }
}
