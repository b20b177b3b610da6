import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type { Client, ClientConfig } from 'pg';
import { TransientError } from '../../../errors/index.js';
import type { Logger } from '../../../log/index.js';
import type { Clock } from '../../../runtime/clock.js';
import { withRetry } from '../../../runtime/retry.js';
import { DATABASE_NAME, isHostName, type PgBackendConfig, type Setting, SSL_MODES, type SslMode } from './config.js';

/**
 * Connections to the database: where (from the policy or the Secret's keys), TLS by libpq's
 * sslmode rules, and retries. Only what is safe to repeat runs under `withDatabase`: every
 * statement the backend sends is idempotent, so a connection lost midway is retried whole.
 */

/** Where the database is, as resolved for one rotation. */
export interface PgTarget {
  host: string;
  port: number;
  database: string;
  sslmode: SslMode;
  ca?: string;
}

/** A credential to log in with. The password is never logged; the role name may be. */
export interface PgCredential {
  user: string;
  password: string;
}

/** A connection problem worth another attempt: unreachable, refused, reset, starting up, full. */
export function isTransientPgError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  const code = err?.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE'].includes(code))
    return true;
  // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutting down, cannot connect now), 53300 (too many connections).
  if (/^08/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  return /timeout expired|Connection terminated|Connection ended unexpectedly|connection timeout/i.test(err?.message ?? '');
}

/** True for "the server refused this user/password" (invalid_password, invalid_authorization_specification). */
export function isAuthFailure(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === '28P01' || code === '28000';
}

/** `message (SQLSTATE x)`: what a PostgreSQL error says, without anything we sent. */
export function pgErrorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = err?.message ?? String(e);
  return err?.code && /^[0-9A-Z]{5}$/.test(err.code) ? `${msg} (SQLSTATE ${err.code})` : msg;
}

function read<T>(s: Setting<T>, values: ReadonlyMap<string, Buffer>, field: string, parse: (text: string) => T | undefined): T | undefined {
  if ('value' in s) return s.value;
  const raw = values.get(s.key);
  if (raw === undefined) {
    if (s.optional) return undefined;
    throw new Error(`backend.${field}Key names key ${s.key}, which the Secret does not have`);
  }
  const v = parse(raw.toString('utf8').trim());
  if (v === undefined)
    throw new Error(`the Secret's key ${s.key} (backend.${field}${s.optional ? '' : 'Key'}) does not hold a valid ${field}`);
  return v;
}

/** Resolves host, port, database and TLS from the policy and the Secret's keys. */
export function resolveTarget(config: PgBackendConfig, values: ReadonlyMap<string, Buffer>, user: string): PgTarget {
  // Only a host name or an address, and only a plain database name: anything else (a URI with
  // a password, say) would be echoed into log lines and messages, and is refused without echo.
  const host = read(config.host, values, 'host', (t) => (isIP(t) !== 0 || isHostName(t) ? t : undefined));
  if (host === undefined) throw new Error('no database host: set backend.host or backend.hostKey, or give the Secret a host key');
  const port =
    read(config.port, values, 'port', (t) => (/^\d{1,5}$/.test(t) && Number(t) >= 1 && Number(t) <= 65535 ? Number(t) : undefined)) ?? 5432;
  const database = read(config.database, values, 'database', (t) => (DATABASE_NAME.test(t) ? t : undefined)) ?? user;
  const sslmode =
    read(config.sslmode, values, 'sslmode', (t) => ((SSL_MODES as readonly string[]).includes(t) ? (t as SslMode) : undefined)) ?? 'prefer';
  let ca: string | undefined;
  if (config.sslRootCertKey !== undefined) {
    const raw = values.get(config.sslRootCertKey);
    if (raw === undefined) throw new Error(`backend.sslRootCertKey names key ${config.sslRootCertKey}, which the Secret does not have`);
    ca = raw.toString('utf8');
  }
  return { host, port, database, sslmode, ca };
}

export const describeTarget = (t: PgTarget): string => `${t.host}:${t.port}/${t.database}`;

/** TLS options for one attempt; `prefer` and `allow` try both ways, in their order. */
function sslAttempts(t: PgTarget): Array<ClientConfig['ssl']> {
  const unverified = { rejectUnauthorized: false };
  switch (t.sslmode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, unverified];
    case 'prefer':
      return [unverified, false];
    case 'require':
      return [unverified];
    case 'verify-ca':
      return [{ ca: t.ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }];
    case 'verify-full':
      // The certificate must name the host we were given (pg would otherwise check 'localhost' for an IP); SNI carries names only (RFC 6066).
      return [
        {
          ca: t.ca,
          rejectUnauthorized: true,
          ...(isIP(t.host) === 0 ? { servername: t.host } : {}),
          checkServerIdentity: (_name, cert) => checkServerIdentity(t.host, cert),
        },
      ];
  }
}

/**
 * The server answered this way of connecting (TLS or plain) with an error: libpq then tries
 * the other way when sslmode is prefer or allow, whatever the error (a pg_hba.conf rule may
 * accept one and reject the other). Unreachable servers are not asked twice.
 */
function tryOtherWay(e: unknown): boolean {
  return !isTransientPgError(e);
}

export interface ConnectDeps {
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
}

/** Opens a connection (TLS per sslmode), trying the other way where prefer/allow permit. */
async function connect(t: PgTarget, cred: PgCredential, config: PgBackendConfig): Promise<Client> {
  const { default: pg } = await import('pg');
  let last: unknown;
  for (const ssl of sslAttempts(t)) {
    const client = new pg.Client({
      host: t.host,
      port: t.port,
      database: t.database,
      user: cred.user,
      password: cred.password,
      ssl,
      connectionTimeoutMillis: config.connectTimeoutMs,
      query_timeout: 60_000,
      application_name: 'secret-steward-rotate',
    });
    client.on('error', () => {}); // a connection lost between queries surfaces through the next query
    try {
      await client.connect();
      return client;
    } catch (e) {
      last = e;
      await client.end().catch(() => {});
      if (!tryOtherWay(e)) throw e;
    }
  }
  throw last;
}

/**
 * Runs `fn` on a fresh connection as `cred`, closing it afterwards; connection problems are
 * retried (connectAttempts in all, exponential backoff), then reported as a TransientError.
 * Anything else (a refused password, a failing statement) is thrown at once.
 */
export async function withDatabase<T>(
  t: PgTarget,
  cred: PgCredential,
  config: PgBackendConfig,
  deps: ConnectDeps,
  what: string,
  fn: (c: Client) => Promise<T>,
): Promise<T> {
  try {
    return await withRetry(
      async () => {
        const client = await connect(t, cred, config);
        try {
          return await fn(client);
        } finally {
          await client.end().catch(() => {});
        }
      },
      {
        maxAttempts: config.connectAttempts,
        baseDelayMs: 1000,
        maxDelayMs: 10_000,
        budgetMs: 120_000,
        clock: deps.clock,
        signal: deps.signal,
        random: () => 1,
        classify: (e) => (isTransientPgError(e) ? { retry: true, reason: pgErrorText(e) } : { retry: false }),
        onRetry: ({ attempt, delayMs, reason }) =>
          deps.log.warn(
            { database: describeTarget(t), role: cred.user, attempt, delayMs },
            `${what}: database not reachable (${reason}); retrying`,
          ),
      },
    );
  } catch (e) {
    if (isTransientPgError(e)) {
      throw new TransientError(
        `database ${describeTarget(t)} not reachable for ${what} after ${config.connectAttempts} attempt(s): ${pgErrorText(e)}`,
        { cause: e },
      );
    }
    throw e;
  }
}
