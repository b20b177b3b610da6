import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type { Client, ClientConfig } from 'pg';
import { isHostName, readSetting } from '../database-config.js';
import { withoutQuotedValues } from '../server-message.js';
import { CERTIFICATE_ERRORS, type ConnectDeps, withConnection } from '../with-connection.js';
import { DATABASE_NAME, type PgBackendConfig, SSL_MODES, type SslMode } from './config.js';
import { type RefusedAuth, scramOnlyClientClass } from './scram-only-client.js';

/**
 * Connections to the database: where (from the policy or the Secret's keys), TLS by libpq's
 * sslmode rules (verify-full unless the policy says otherwise), SCRAM-SHA-256 only (with
 * channel binding over TLS: scram-only-client.ts), and retries. Only what is safe to repeat runs under `withDatabase`: every
 * statement the backend sends is idempotent, so a connection lost midway is retried whole.
 */

/** Where the database is, as resolved for one rotation. */
export interface PgTarget {
  host: string;
  port: number;
  database: string;
  sslmode: SslMode;
  /** True when neither the policy nor the Secret set sslmode: DEFAULT_SSLMODE applies. */
  sslmodeDefaulted: boolean;
  /** PEM CA bundle from `sslRootCertKey`; absent: Node's bundled public CAs (libpq's `sslrootcert=system`). */
  ca?: string;
}

/**
 * The sslmode of a policy that sets none: the server's certificate must chain to the CA and
 * name the host. Before 0.2.0 it was `prefer` (unverified TLS, then plain), which let any host
 * on the path read the passwords.
 */
export const DEFAULT_SSLMODE: SslMode = 'verify-full';

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

/**
 * `message (SQLSTATE x)`: what a PostgreSQL error says, its quoted values cut
 * (withoutQuotedValues, `"` and `'`), so that neither a value we sent nor one of the database's
 * comes back: `password authentication failed for user "…" (SQLSTATE 28P01)`. The role and
 * database we connect as are named by the message around it, from our own settings.
 */
export function pgErrorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = withoutQuotedValues(err?.message ?? String(e), `"'`);
  return err?.code && /^[0-9A-Z]{5}$/.test(err.code) ? `${msg} (SQLSTATE ${err.code})` : msg;
}

/** An ErrorResponse of the server (pg's DatabaseError): a severity and a SQLSTATE. */
function isServerError(e: unknown): boolean {
  const err = e as { code?: unknown; severity?: unknown };
  return typeof err?.severity === 'string' && typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code);
}

/** Resolves host, port, database and TLS from the policy and the Secret's keys. */
export function resolveTarget(config: PgBackendConfig, values: ReadonlyMap<string, Buffer>, user: string): PgTarget {
  // Only a host name or an address, and only a plain database name: anything else (a URI with
  // a password, say) would be echoed into log lines and messages, and is refused without echo.
  const host = readSetting(config.host, values, 'host', (t) => (isIP(t) !== 0 || isHostName(t) ? t : undefined));
  if (host === undefined) throw new Error('no database host: set backend.host or backend.hostKey, or give the Secret a host key');
  const port =
    readSetting(config.port, values, 'port', (t) =>
      /^\d{1,5}$/.test(t) && Number(t) >= 1 && Number(t) <= 65535 ? Number(t) : undefined,
    ) ?? 5432;
  const database = readSetting(config.database, values, 'database', (t) => (DATABASE_NAME.test(t) ? t : undefined)) ?? user;
  const given = readSetting(config.sslmode, values, 'sslmode', (t) =>
    (SSL_MODES as readonly string[]).includes(t) ? (t as SslMode) : undefined,
  );
  const sslmode = given ?? DEFAULT_SSLMODE;
  let ca: string | undefined;
  if (config.sslRootCertKey !== undefined) {
    const raw = values.get(config.sslRootCertKey);
    if (raw === undefined) throw new Error(`backend.sslRootCertKey names key ${config.sslRootCertKey}, which the Secret does not have`);
    ca = raw.toString('utf8');
  }
  if (sslmode === 'verify-ca' && ca === undefined) {
    // libpq refuses weaker modes with sslrootcert=system for the same reason (PostgreSQL 16).
    throw new Error(
      'sslmode verify-ca needs backend.sslRootCertKey (a key of the Secret holding the CA): against the public CAs any certificate would pass, whatever name it holds; use verify-full for a server with a publicly trusted certificate',
    );
  }
  return { host, port, database, sslmode, sslmodeDefaulted: given === undefined, ca };
}

export const describeTarget = (t: PgTarget): string => `${t.host}:${t.port}/${t.database}`;

/**
 * The ways to connect, in order, as libpq's sslmode defines them (PostgreSQL 15 docs, "SSL
 * Support", table "SSL Mode Descriptions"): disable, plain only; allow, plain then TLS; prefer,
 * TLS then plain; require, TLS only, unverified unless a CA is given (libpq then verifies as
 * verify-ca); verify-ca, TLS whose certificate chains to the CA; verify-full, and names the
 * host. Only prefer and allow ever have a second way: no other mode falls back to plain.
 */
export function sslAttempts(t: PgTarget): Array<ClientConfig['ssl']> {
  const unverified = { rejectUnauthorized: false };
  const mode = t.sslmode === 'require' && t.ca !== undefined ? 'verify-ca' : t.sslmode;
  const ca = t.ca !== undefined ? { ca: t.ca } : {};
  switch (mode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, unverified];
    case 'prefer':
      return [unverified, false];
    case 'require':
      return [unverified];
    case 'verify-ca':
      return [{ ...ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }];
    case 'verify-full':
      // The certificate must name the host we were given (pg would otherwise check 'localhost' for an IP); SNI carries names only (RFC 6066).
      return [
        {
          ...ca,
          rejectUnauthorized: true,
          ...(isIP(t.host) === 0 ? { servername: t.host } : {}),
          checkServerIdentity: (_name, cert) => checkServerIdentity(t.host, cert),
        },
      ];
  }
}

const modeText = (t: PgTarget): string =>
  t.sslmodeDefaulted
    ? `sslmode ${t.sslmode}, the default since 0.2.0: the policy sets none (it was prefer, which did not verify and fell back to plain)`
    : `sslmode ${t.sslmode}`;

/**
 * A TLS failure (the server offers no TLS, or its certificate did not verify) as an error that
 * says what to change, or undefined for any other error. Nothing was sent to the server: pg
 * writes the startup message (the role's name) only after the TLS handshake.
 */
export function tlsFailure(t: PgTarget, e: unknown): Error | undefined {
  const err = e as { code?: string; message?: string };
  const where = describeTarget(t);
  if (/does not support SSL connections/.test(err?.message ?? '')) {
    const fix = t.sslmodeDefaulted
      ? "turn TLS on in the server (ssl = on), or, where the network path to it is trusted, add sslmode: disable to the policy's backend"
      : "turn TLS on in the server (ssl = on), or, where the network path to it is trusted, set the policy's backend.sslmode to disable";
    return new Error(`database ${where} does not offer TLS (${modeText(t)}); nothing was sent: ${fix}`, { cause: e });
  }
  if (err?.code === undefined || !CERTIFICATE_ERRORS.has(err.code)) return undefined;
  const fixes: string[] = [];
  if (t.ca === undefined)
    fixes.push('put the PEM of the CA that signed the server certificate in a key of the Secret and name it in backend.sslRootCertKey');
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || err.code === 'HOSTNAME_MISMATCH')
    fixes.push('connect by a name the certificate holds (backend.host), or set sslmode: verify-ca to check the CA only');
  if (t.sslmodeDefaulted)
    fixes.push('or, to encrypt without verifying the server (an on-path host could read the passwords), add sslmode: require');
  // Node's advice about its own trust store (--use-system-ca) is not how a policy adds a CA.
  const reason = (err.message ?? '').replace(/; if the root CA is installed locally.*$/s, '');
  return new Error(
    `the certificate of database ${where} did not verify (${modeText(t)}): ${reason}; nothing was sent${fixes.length > 0 ? `. To fix: ${fixes.join('; ')}` : ''}`,
    { cause: e },
  );
}

/** Why a login was refused on our side (the server asked for something other than SCRAM), with what to change. */
function authRefused(t: PgTarget, cred: PgCredential, kind: RefusedAuth): Error {
  const where = `database ${describeTarget(t)}`;
  switch (kind) {
    case 'cleartext':
      return new Error(
        `${where} asked role ${cred.user} for its password in cleartext (pg_hba.conf method password); refused before anything was sent: secret-steward logs in with SCRAM-SHA-256 only. Use method scram-sha-256 in the server's pg_hba.conf for this role`,
      );
    case 'md5':
      return new Error(
        `${where} asked role ${cred.user} for an MD5 password hash (pg_hba.conf method md5 with a password stored as MD5); refused before anything was sent: secret-steward logs in with SCRAM-SHA-256 only. Store the role's password as SCRAM-SHA-256 (password_encryption = scram-sha-256, then set it again) and use method scram-sha-256 in pg_hba.conf`,
      );
    case 'none':
      return new Error(
        `${where} let role ${cred.user} in without a SCRAM-SHA-256 exchange (pg_hba.conf method trust, or a server that did not prove it knows the password); disconnected before any statement: secret-steward only talks to a server that authenticates with SCRAM-SHA-256. Use method scram-sha-256 in pg_hba.conf for this role`,
      );
  }
}

/**
 * Opens a connection: TLS per sslmode (prefer and allow try the other way after an error
 * from the server, as libpq does; unreachable servers are not asked twice), then SCRAM only.
 * An authentication method refused on our side ends it at once, whatever the mode; a TLS
 * failure does too in every mode but prefer (allow's TLS is its second way already).
 */
async function connect(t: PgTarget, cred: PgCredential, config: PgBackendConfig, what: string, deps: ConnectDeps): Promise<Client> {
  const ScramOnlyClient = await scramOnlyClientClass();
  const attempts = sslAttempts(t);
  let last: unknown;
  for (const [i, ssl] of attempts.entries()) {
    const client = new ScramOnlyClient({
      host: t.host,
      port: t.port,
      database: t.database,
      user: cred.user,
      password: cred.password,
      ssl,
      // SCRAM-SHA-256-PLUS whenever the server offers it over TLS (pg otherwise never binds).
      enableChannelBinding: ssl !== false,
      connectionTimeoutMillis: config.connectTimeoutMs,
      query_timeout: 60_000,
      application_name: 'secret-steward-rotate',
    });
    client.on('error', () => {}); // a connection lost between queries surfaces through the next query
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => {});
      if (client.refusedAuth !== undefined) throw authRefused(t, cred, client.refusedAuth);
      last = e;
      if (i + 1 < attempts.length && !isTransientPgError(e)) continue;
      throw (ssl !== false && tlsFailure(t, e)) || e;
    }
    if (client.scramMechanism === undefined) {
      await client.end().catch(() => {});
      throw authRefused(t, cred, 'none');
    }
    deps.log.info(
      { database: describeTarget(t), role: cred.user, sslmode: t.sslmode, tls: ssl !== false, auth: client.scramMechanism },
      `${what}: connected`,
    );
    return client;
  }
  throw last;
}

/**
 * Runs `fn` on a fresh connection as `cred`, closing it afterwards; connection problems are
 * retried (connectAttempts in all, exponential backoff), then reported as a TransientError.
 * Anything else (a refused password, a failing statement) is thrown at once; an error of the
 * server's other than a refused login as a new Error naming the step, database and role.
 */
export async function withDatabase<T>(
  t: PgTarget,
  cred: PgCredential,
  config: PgBackendConfig,
  deps: ConnectDeps,
  what: string,
  fn: (c: Client) => Promise<T>,
): Promise<T> {
  return withConnection(
    {
      database: describeTarget(t),
      noun: 'role',
      user: cred.user,
      attempts: config.connectAttempts,
      open: () => connect(t, cred, config, what, deps),
      close: (client) => client.end().catch(() => {}),
      isTransient: isTransientPgError,
      errorText: pgErrorText,
    },
    deps,
    what,
    fn,
  ).catch((e: unknown) => {
    // Refused logins are the caller's to explain; any other error the server sent leaves only as
    // pgErrorText, so its own message (and whatever a hostile server put in it) goes no further.
    if (!isServerError(e) || isAuthFailure(e)) throw e;
    throw new Error(`${what}: database ${describeTarget(t)}, role ${cred.user}: ${pgErrorText(e)}`, { cause: e });
  });
}
