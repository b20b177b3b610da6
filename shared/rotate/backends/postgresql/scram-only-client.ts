import type { Client, ClientConfig } from 'pg';
import { withoutQuotedValues } from '../server-message.js';

/**
 * A `pg.Client` that authenticates with SCRAM-SHA-256 only, as libpq's
 * `require_auth=scram-sha-256` (PostgreSQL 16) does:
 *
 * - a server that asks for a cleartext password (pg_hba.conf `password`) or an MD5 hash (`md5`,
 *   or a role whose stored password is MD5) gets nothing: the connection fails before the
 *   password or anything derived from it is written;
 * - a server that lets the role in without completing a SCRAM exchange (`trust`, or an
 *   `AuthenticationOk` before the server's final SCRAM message proved it knows the verifier) is
 *   refused after the fact, before any statement is sent;
 * - over TLS the client offers channel binding: `SCRAM-SHA-256-PLUS` (tls-server-end-point) is
 *   chosen whenever the server lists it, which ties the login to the TLS session.
 *
 * It also keeps what a server says in an error to its words: every ErrorResponse reaches the
 * caller as an Error with the server's severity, SQLSTATE and message, the message's quoted
 * values cut (withoutQuotedValues) and nothing else (no detail, hint, context or statement
 * text), so no error, cause or log line can carry a value a hostile server put in it.
 *
 * How: pg (8.x, `lib/client.js`) binds `this._handleAuthCleartextPassword`,
 * `_handleAuthMD5Password`, `_handleAuthSASLFinal` and `_handleErrorMessage` to the
 * connection's messages when it connects, so a subclass overriding them sees every request
 * and every error before pg answers or reports it. These are pg's private names: `scramOnlyClientClass` refuses to run when
 * the installed pg does not have them, rather than silently answering with the password.
 */

/** The authentication a connection ended up with. */
export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';

/** What the server asked for that was refused; `none`: it let the role in without SCRAM. */
export type RefusedAuth = 'cleartext' | 'md5' | 'none';

export interface ScramOnlyClient extends Client {
  /** Set once the server's final SCRAM message verified: the mechanism used. */
  readonly scramMechanism: ScramMechanism | undefined;
  /** Set when the server asked for an authentication this client refuses. */
  readonly refusedAuth: RefusedAuth | undefined;
}

/** pg's methods the subclass overrides; all must exist on `pg.Client.prototype`. */
const HOOKED = ['_handleAuthCleartextPassword', '_handleAuthMD5Password', '_handleAuthSASLFinal', '_handleErrorMessage'] as const;

/** Stands in for pg's private members the subclass uses. */
interface PgInternals {
  connection: { emit(event: 'error', e: Error): boolean };
  saslSession: { mechanism?: string } | null;
  _handleAuthSASLFinal(msg: unknown): void;
  _handleErrorMessage(msg: unknown): void;
}

type ScramOnlyClientClass = new (config: ClientConfig) => ScramOnlyClient;
let cached: ScramOnlyClientClass | undefined;

/** The SCRAM-only client class (pg is imported on first use: only rotations with a backend need it). */
export async function scramOnlyClientClass(): Promise<ScramOnlyClientClass> {
  if (cached !== undefined) return cached;
  const { default: pg } = await import('pg');
  const proto = pg.Client.prototype as unknown as Record<string, unknown>;
  const missing = HOOKED.filter((m) => typeof proto[m] !== 'function');
  if (missing.length > 0) {
    throw new Error(
      `the installed pg library has no ${missing.join(', ')}: the SCRAM-only guard cannot be installed, so no database connection is opened (shared/rotate/backends/postgresql/scram-only-client.ts must follow this pg version)`,
    );
  }
  const Base = pg.Client as unknown as new (config: ClientConfig) => Client & PgInternals;

  class Guarded extends Base {
    scramMechanism: ScramMechanism | undefined;
    refusedAuth: RefusedAuth | undefined;

    private refuse(kind: RefusedAuth): void {
      this.refusedAuth = kind;
      // While connecting, pg turns a connection 'error' into the rejection of connect(); the
      // caller then ends the socket. Nothing was written in answer to the request.
      this.connection.emit('error', new Error(`the server asked for ${kind} password authentication, which is refused`));
    }

    _handleAuthCleartextPassword(): void {
      this.refuse('cleartext');
    }

    _handleAuthMD5Password(): void {
      this.refuse('md5');
    }

    override _handleErrorMessage(msg: unknown): void {
      super._handleErrorMessage(serverError(msg));
    }

    override _handleAuthSASLFinal(msg: unknown): void {
      const mechanism = this.saslSession?.mechanism;
      super._handleAuthSASLFinal(msg);
      // pg clears the session only when the server's signature verified (else it emits an error).
      if (this.saslSession === null && (mechanism === 'SCRAM-SHA-256' || mechanism === 'SCRAM-SHA-256-PLUS'))
        this.scramMechanism = mechanism;
    }
  }
  cached = Guarded as unknown as ScramOnlyClientClass;
  return cached;
}

/** A server's ErrorResponse (pg's DatabaseError) as severity, SQLSTATE and its message without quoted values. */
function serverError(msg: unknown): Error {
  const m = msg as { message?: unknown; severity?: unknown; code?: unknown };
  const text = typeof m?.message === 'string' ? m.message : 'the server reported an error';
  return Object.assign(new Error(withoutQuotedValues(text, `"'`)), {
    ...(typeof m?.severity === 'string' ? { severity: m.severity } : {}),
    ...(typeof m?.code === 'string' ? { code: m.code } : {}),
  });
}
