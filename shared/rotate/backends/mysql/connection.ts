import { isIP } from 'node:net';
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import type { Connection, ConnectionOptions } from 'mysql2/promise';
import { isHostName, readSetting } from '../database-config.js';
import { withoutQuotedValues } from '../server-message.js';
import { CERTIFICATE_ERRORS, type ConnectDeps, withConnection } from '../with-connection.js';
import { MYSQL_DATABASE_NAME, MYSQL_SSL_MODES, type MysqlBackendConfig, type MysqlSslMode } from './config.js';

/**
 * Connections to a MariaDB or MySQL server: where (from the policy or the Secret's keys), TLS as
 * sslmode says (verify-full unless the policy says otherwise; no mode falls back to plain), the
 * authentication plugins allowed (below), and retries. Only what is safe to repeat runs under
 * `withMysql`: every statement the backend sends is idempotent, so a connection lost midway is
 * retried whole.
 *
 * Authentication. MySQL has no SCRAM; what each plugin sends the server:
 * - mysql_native_password (MariaDB's and MySQL 5.7's default): a challenge response, never the
 *   password: allowed.
 * - mysql_clear_password: the password itself: always refused (the server asked for it, so it
 *   is either misconfigured for us or not the server we think).
 * - sha256_password and caching_sha2_password (MySQL 8): the password in clear over TLS, or
 *   encrypted with a public key the server itself hands over (so to whoever answers): allowed
 *   only on a verified TLS connection (verify-ca, verify-full), or when the policy sets
 *   `allowPasswordWithoutVerifiedTls: true`. caching_sha2_password's fast path would not need
 *   the password, but mysql2 picks the path after the plugin is chosen, so the plugin is
 *   refused as a whole.
 * - any other plugin (ed25519, gssapi, ...) is unknown to mysql2, which ends the connection.
 *
 * TLS: in the MySQL protocol the client asks for TLS (SSLRequest) before it sends the account
 * name, so a failed TLS handshake sent nothing.
 */

/** Where the server is, as resolved for one rotation. */
export interface MysqlTarget {
  host: string;
  port: number;
  database?: string;
  sslmode: MysqlSslMode;
  sslmodeDefaulted: boolean;
  /** PEM CA bundle from `sslRootCertKey`; absent: Node's bundled public CAs. */
  ca?: string;
}

/** The sslmode of a policy that sets none. */
export const DEFAULT_MYSQL_SSLMODE: MysqlSslMode = 'verify-full';

/** A credential to log in with. The password is never logged; the account name may be. */
export interface MysqlCredential {
  user: string;
  password: string;
}

/** True when the connection proves the server is the one meant: verify-ca, verify-full, or require with a CA. */
export const isVerified = (t: MysqlTarget): boolean =>
  t.sslmode === 'verify-ca' || t.sslmode === 'verify-full' || (t.sslmode === 'require' && t.ca !== undefined);

/** mysql2's `ssl` option for the target: undefined for plain. */
export function sslOptions(t: MysqlTarget): ConnectionOptions['ssl'] {
  const ca = t.ca !== undefined ? { ca: t.ca } : {};
  switch (t.sslmode) {
    case 'disable':
      return undefined;
    case 'require':
      // As libpq: a CA given makes require verify the chain (verify-ca).
      return t.ca !== undefined ? { ...ca, rejectUnauthorized: true, verifyIdentity: false } : { rejectUnauthorized: false };
    case 'verify-ca':
      return { ...ca, rejectUnauthorized: true, verifyIdentity: false };
    case 'verify-full':
      // The name is checked by guardedConnectionClass against t.host: mysql2's verifyIdentity
      // checks nothing useful for an address (Node then checks the name "localhost").
      return { ...ca, rejectUnauthorized: true, verifyIdentity: false };
  }
}

/** Network and server conditions worth another attempt. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR', // 1040 too many connections
  'ER_SERVER_SHUTDOWN', // 1053
  'ER_CONNECTION_KILLED', // 1927 (MariaDB: the server is shutting down)
  'ER_LOCK_WAIT_TIMEOUT', // 1205
  'ER_LOCK_DEADLOCK', // 1213
]);

/** A connection problem worth another attempt: unreachable, refused, reset, shutting down, full. */
export function isTransientMysqlError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (TRANSIENT_CODES.has(err?.code ?? '')) return true;
  return /connect ETIMEDOUT|Connection lost|read ECONNRESET|socket hang up/i.test(err?.message ?? '');
}

/** True for "the server refused this account/password" (ER_ACCESS_DENIED_ERROR, 1045). */
export function isAccessDenied(e: unknown): boolean {
  return (e as { code?: string })?.code === 'ER_ACCESS_DENIED_ERROR';
}

/**
 * `message (code errno, SQLSTATE s)`: what the server said, its quoted values cut
 * (withoutQuotedValues), so that neither a value we sent nor one of the database's comes back.
 */
export function mysqlErrorText(e: unknown): string {
  const err = e as { code?: string; errno?: number; sqlState?: string; message?: string };
  const msg = withoutQuotedValues(err?.message ?? String(e));
  const codes: string[] = [];
  if (err?.code && /^[A-Z0-9_]+$/.test(err.code)) codes.push(`${err.code}${err.errno ? ` ${err.errno}` : ''}`);
  if (err?.sqlState && /^[0-9A-Z]{5}$/.test(err.sqlState)) codes.push(`SQLSTATE ${err.sqlState}`);
  return codes.length > 0 ? `${msg} (${codes.join(', ')})` : msg;
}

/**
 * A mysql2 error reduced to what is safe to keep: its message with the quoted values cut
 * (withoutQuotedValues), and its code, errno, SQLSTATE, fatal and tlsCode. mysql2 keeps the
 * server's message on `message`, `sqlMessage` and the stack, and the statement it sent on `sql`;
 * the logger prints an error's cause chain, so a wrapper keeping the raw error as its cause would
 * log a value the server quoted back. Anything without a string `code` (our own errors) is
 * returned as it is.
 */
export function safeMysqlError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const err = e as Error & { code?: unknown; errno?: unknown; sqlState?: unknown; fatal?: unknown; tlsCode?: unknown };
  if (typeof err.code !== 'string') return e;
  return Object.assign(new Error(withoutQuotedValues(err.message)), {
    code: err.code,
    ...(typeof err.errno === 'number' ? { errno: err.errno } : {}),
    ...(typeof err.sqlState === 'string' && /^[0-9A-Z]{5}$/.test(err.sqlState) ? { sqlState: err.sqlState } : {}),
    ...(typeof err.fatal === 'boolean' ? { fatal: err.fatal } : {}),
    ...(typeof err.tlsCode === 'string' ? { tlsCode: err.tlsCode } : {}),
  });
}

/** An error the server sent (mysql2's ERR_Packet): it carries a SQLSTATE. */
function isServerError(e: unknown): boolean {
  const s = (e as { sqlState?: unknown })?.sqlState;
  return typeof s === 'string' && /^[0-9A-Z]{5}$/.test(s);
}

/** `conn` with every statement's error passed through safeMysqlError before it reaches us. */
function withSafeErrors(conn: Connection): Connection {
  for (const name of ['query', 'execute'] as const) {
    const original = conn[name].bind(conn) as (...args: unknown[]) => Promise<unknown>;
    (conn as unknown as Record<string, unknown>)[name] = (...args: unknown[]) =>
      original(...args).catch((e: unknown) => {
        throw safeMysqlError(e);
      });
  }
  return conn;
}

/** Resolves host, port, database and TLS from the policy and the Secret's keys. */
export function resolveMysqlTarget(config: MysqlBackendConfig, values: ReadonlyMap<string, Buffer>): MysqlTarget {
  const host = readSetting(config.host, values, 'host', (t) => (isIP(t) !== 0 || isHostName(t) ? t : undefined));
  if (host === undefined) throw new Error('no database host: set backend.host or backend.hostKey, or give the Secret a host key');
  const port =
    readSetting(config.port, values, 'port', (t) =>
      /^\d{1,5}$/.test(t) && Number(t) >= 1 && Number(t) <= 65535 ? Number(t) : undefined,
    ) ?? 3306;
  const database = readSetting(config.database, values, 'database', (t) => (MYSQL_DATABASE_NAME.test(t) ? t : undefined));
  const given = readSetting(config.sslmode, values, 'sslmode', (t) =>
    (MYSQL_SSL_MODES as readonly string[]).includes(t) ? (t as MysqlSslMode) : undefined,
  );
  let ca: string | undefined;
  if (config.sslRootCertKey !== undefined) {
    const raw = values.get(config.sslRootCertKey);
    if (raw === undefined) throw new Error(`backend.sslRootCertKey names key ${config.sslRootCertKey}, which the Secret does not have`);
    ca = raw.toString('utf8');
  }
  const sslmode = given ?? DEFAULT_MYSQL_SSLMODE;
  if (sslmode === 'verify-ca' && ca === undefined) {
    throw new Error(
      'sslmode verify-ca needs backend.sslRootCertKey (a key of the Secret holding the CA): against the public CAs any certificate would pass, whatever name it holds; use verify-full for a server with a publicly trusted certificate',
    );
  }
  return { host, port, database, sslmode, sslmodeDefaulted: given === undefined, ca };
}

export const describeMysqlTarget = (t: MysqlTarget): string => `${t.host}:${t.port}${t.database ? `/${t.database}` : ''}`;

/** Why an authentication plugin was refused on our side. */
export class RefusedAuthPlugin extends Error {
  constructor(
    readonly plugin: string,
    message: string,
  ) {
    super(message);
    this.name = 'RefusedAuthPlugin';
  }
}

type PluginFactory = (meta: { connection: unknown; command: unknown }) => (data: Buffer) => unknown;

/**
 * mysql2's `authPlugins`: replacing a plugin by name is mysql2's documented way to control
 * authentication (it then also stops answering the server's preferred plugin in the first
 * packet, and waits for the server's AuthSwitchRequest, which reaches these). `refused` records
 * which one was refused, since mysql2 wraps the error.
 */
export function guardedAuthPlugins(
  verified: boolean,
  allowUnverified: boolean,
  standard: Record<string, (opts: Record<string, never>) => PluginFactory>,
  refused: { plugin?: string },
): Record<string, PluginFactory> {
  const refuse =
    (plugin: string): PluginFactory =>
    () =>
    () => {
      refused.plugin = plugin;
      throw new RefusedAuthPlugin(plugin, `the server asked for authentication plugin ${plugin}`);
    };
  const sendsPassword = (plugin: 'sha256_password' | 'caching_sha2_password'): PluginFactory =>
    verified || allowUnverified ? standard[plugin]({}) : refuse(plugin);
  return {
    mysql_clear_password: refuse('mysql_clear_password'),
    sha256_password: sendsPassword('sha256_password'),
    caching_sha2_password: sendsPassword('caching_sha2_password'),
  };
}

/** What to tell an operator about a refused plugin. */
function pluginRefusal(t: MysqlTarget, cred: MysqlCredential, plugin: string, cause: unknown): Error {
  const where = `database ${describeMysqlTarget(t)}`;
  if (plugin === 'mysql_clear_password') {
    return new Error(
      `${where} asked account ${cred.user} for its password in cleartext (authentication plugin mysql_clear_password); refused before the password was sent: secret-steward never sends a password that way. Give the account mysql_native_password (MariaDB) or caching_sha2_password over verified TLS (MySQL 8)`,
      { cause },
    );
  }
  return new Error(
    `${where} asked account ${cred.user} to authenticate with ${plugin}, which sends the password (in clear over TLS, or encrypted to a key the server hands over) and the connection's server is not verified (sslmode ${t.sslmode}); refused before the password was sent. Use sslmode verify-full (or verify-ca with backend.sslRootCertKey), or set backend.allowPasswordWithoutVerifiedTls: true where the network path is trusted`,
    { cause },
  );
}

/** A TLS failure as an error that says what to change, or undefined for any other error. */
export function mysqlTlsFailure(t: MysqlTarget, e: unknown): Error | undefined {
  // mysql2 replaces a TLS error's code with HANDSHAKE_SSL_ERROR; the guarded class kept Node's in tlsCode.
  const err = {
    message: (e as Error)?.message,
    code: (e as { tlsCode?: string; code?: string })?.tlsCode ?? (e as { code?: string })?.code,
  };
  const where = describeMysqlTarget(t);
  const mode = t.sslmodeDefaulted ? `sslmode ${t.sslmode}, the default: the policy sets none` : `sslmode ${t.sslmode}`;
  if (err?.code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return new Error(
      `database ${where} does not offer TLS (${mode}); nothing was sent: turn TLS on in the server (ssl_cert, ssl_key), or, where the network path to it is trusted, set the policy's backend.sslmode to disable`,
      { cause: safeMysqlError(e) },
    );
  }
  if (err?.code === undefined || !CERTIFICATE_ERRORS.has(err.code)) return undefined;
  const fixes: string[] = [];
  if (t.ca === undefined)
    fixes.push('put the PEM of the CA that signed the server certificate in a key of the Secret and name it in backend.sslRootCertKey');
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || err.code === 'HOSTNAME_MISMATCH')
    fixes.push('connect by a name the certificate holds (backend.host), or set sslmode: verify-ca to check the CA only');
  const reason = (err.message ?? '').replace(/; if the root CA is installed locally.*$/s, '');
  return new Error(
    `the certificate of database ${where} did not verify (${mode}): ${reason}; nothing was sent${fixes.length > 0 ? `. To fix: ${fixes.join('; ')}` : ''}`,
    { cause: safeMysqlError(e) },
  );
}

interface CoreConnection {
  config: { ssl?: unknown };
  stream: TLSSocket;
  startTLS(onSecure: (err?: Error) => void): void;
  once(event: string, fn: (arg?: unknown) => void): void;
}

interface Mysql2Modules {
  Guarded: new (host: string | undefined, options: ConnectionOptions) => CoreConnection;
  wrap: (core: CoreConnection) => Connection;
  standardPlugins: Record<string, (opts: Record<string, never>) => PluginFactory>;
}
let cached: Mysql2Modules | undefined;

/**
 * mysql2's connection with the certificate's name checked against the host we were given, as
 * libpq's verify-full does, before the handshake goes on (the account name and the
 * authentication answer are sent right after TLS is up). mysql2 itself cannot: it passes the
 * IP host to no check (Node then compares "localhost"). How: mysql2 (3.x,
 * `lib/base/connection.js`) calls `startTLS(onSecure)` and sends the credentials from
 * `onSecure`, so a subclass wrapping it sees the certificate first. mysql2 is imported on first
 * use; a version without startTLS is refused rather than connecting unchecked.
 */
async function mysql2(): Promise<Mysql2Modules> {
  if (cached !== undefined) return cached;
  const core = (await import('mysql2')).default as unknown as {
    Connection: new (args: { config: unknown }) => CoreConnection;
    ConnectionConfig: new (options: ConnectionOptions) => unknown;
    authPlugins: Mysql2Modules['standardPlugins'];
  };
  const promise = (await import('mysql2/promise')).default as unknown as {
    PromiseConnection: new (core: CoreConnection, p: PromiseConstructor) => Connection;
  };
  if (typeof core.Connection?.prototype?.startTLS !== 'function' || typeof promise.PromiseConnection !== 'function') {
    throw new Error(
      'the installed mysql2 library has no Connection.startTLS or PromiseConnection: the certificate name check cannot be installed, so no database connection is opened (shared/rotate/backends/mysql/connection.ts must follow this mysql2 version)',
    );
  }
  class Guarded extends core.Connection {
    constructor(
      private readonly identityHost: string | undefined,
      options: ConnectionOptions,
    ) {
      super({ config: new core.ConnectionConfig(options) });
    }

    override startTLS(onSecure: (err?: Error) => void): void {
      super.startTLS((err?: Error) => {
        if (err) {
          (err as { tlsCode?: string }).tlsCode = (err as { code?: string }).code;
          onSecure(err);
          return;
        }
        if (this.identityHost !== undefined) {
          const mismatch = checkServerIdentity(this.identityHost, this.stream.getPeerCertificate());
          if (mismatch !== undefined) {
            (mismatch as { tlsCode?: string }).tlsCode = 'ERR_TLS_CERT_ALTNAME_INVALID';
            onSecure(mismatch);
            return;
          }
        }
        onSecure();
      });
    }
  }
  cached = {
    Guarded,
    wrap: (c) => withSafeErrors(new promise.PromiseConnection(c, Promise)),
    standardPlugins: core.authPlugins,
  };
  return cached;
}

/** Opens a connection with mysql2 (the Guarded class): the promise API's createConnection, with the name check. */
async function open(t: MysqlTarget, options: ConnectionOptions): Promise<Connection> {
  const { Guarded, wrap } = await mysql2();
  const core = new Guarded(t.sslmode === 'verify-full' ? t.host : undefined, options);
  await new Promise<void>((resolve, reject) => {
    core.once('connect', () => resolve());
    core.once('error', (e) => reject(e));
  });
  return wrap(core);
}

async function connect(
  t: MysqlTarget,
  cred: MysqlCredential,
  config: MysqlBackendConfig,
  what: string,
  deps: ConnectDeps,
): Promise<Connection> {
  const { standardPlugins } = await mysql2();
  const refused: { plugin?: string } = {};
  const plugins = guardedAuthPlugins(isVerified(t), config.allowPasswordWithoutVerifiedTls, standardPlugins, refused);
  let conn: Connection;
  try {
    conn = await open(t, {
      host: t.host,
      port: t.port,
      database: t.database,
      user: cred.user,
      password: cred.password,
      ssl: sslOptions(t),
      enableCleartextPlugin: false,
      authPlugins: plugins as unknown as ConnectionOptions['authPlugins'],
      connectTimeout: config.connectTimeoutMs,
      multipleStatements: false,
      connectAttributes: { program_name: 'secret-steward-rotate' },
    });
  } catch (e) {
    if (refused.plugin !== undefined || (e as { code?: string })?.code === 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED')
      throw pluginRefusal(t, cred, refused.plugin ?? 'mysql_clear_password', safeMysqlError(e));
    if (t.sslmode !== 'disable') {
      const tls = mysqlTlsFailure(t, e);
      if (tls !== undefined) throw tls;
    }
    throw safeMysqlError(e);
  }
  conn.on('error', () => {}); // a connection lost between statements surfaces through the next one
  deps.log.info({ database: describeMysqlTarget(t), account: cred.user, sslmode: t.sslmode }, `${what}: connected`);
  return conn;
}

/**
 * Runs `fn` on a fresh connection as `cred`, closing it afterwards; connection problems are
 * retried (connectAttempts in all, exponential backoff), then reported as a TransientError.
 * Anything else (a refused password, a failing statement) is thrown at once; an error of the
 * server's other than a refused login as a new Error naming the step, database and account.
 * No mysql2 error leaves as it was raised: every one passes through safeMysqlError (statements
 * by withSafeErrors, the login in connect).
 */
export async function withMysql<T>(
  t: MysqlTarget,
  cred: MysqlCredential,
  config: MysqlBackendConfig,
  deps: ConnectDeps,
  what: string,
  fn: (c: Connection) => Promise<T>,
): Promise<T> {
  return withConnection(
    {
      database: describeMysqlTarget(t),
      noun: 'account',
      user: cred.user,
      attempts: config.connectAttempts,
      open: () => connect(t, cred, config, what, deps),
      close: (conn) => conn.end().catch(() => conn.destroy()),
      isTransient: isTransientMysqlError,
      errorText: mysqlErrorText,
    },
    deps,
    what,
    fn,
  ).catch((e: unknown) => {
    // Refused logins are the caller's to explain; any other error the server sent is named here.
    if (!isServerError(e) || isAccessDenied(e)) throw e;
    throw new Error(`${what}: database ${describeMysqlTarget(t)}, account ${cred.user}: ${mysqlErrorText(e)}`, { cause: e });
  });
}
