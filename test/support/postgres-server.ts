/**
 * A real PostgreSQL server for tests: a fresh cluster (initdb) in a temporary directory, on a
 * free loopback port, TLS on (a throw-away CA and server certificate for 127.0.0.1; `tls: false`
 * for a server without it), SCRAM authentication, every statement logged (log_statement = all)
 * so tests can read the server log. It also listens on 127.0.0.2, an address its certificate
 * does not name (verify-full must refuse it), and asks three roles for weaker authentication
 * than SCRAM (the client must refuse to answer): `auth_cleartext` (pg_hba.conf `password`),
 * `auth_md5` (`md5`; create the role with password_encryption = md5) and `auth_trust` (`trust`).
 * Run as root (CI), the server runs as the `postgres` user, which PostgreSQL requires. The
 * binaries come from Debian's postgresql-15 (`.ci/run` installs it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** The superuser the suite administers the cluster with (an obvious test credential). */
export const PG_SUPERUSER = 'steward_test_superuser';
export const PG_SUPERUSER_PASSWORD = 'test-only-superuser-password';

export interface PgTestServer {
  host: string;
  port: number;
  /** Another address of the same server, which the certificate does not name. */
  otherHost: string;
  /** PEM of the CA that signed the server certificate (for verify-ca / verify-full). */
  caPem: string;
  /** Runs SQL as the superuser (database `postgres` unless given). */
  sql<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: unknown[], database?: string): Promise<R[]>;
  /** Tries to log in; resolves to undefined on success, else the server's error (code + message). */
  login(user: string, password: string, database?: string): Promise<{ code?: string; message: string } | undefined>;
  /** The server's log so far (every statement, connection and authentication failure). */
  log(): Promise<string>;
  /** Makes the server unreachable for a while (stop) and brings it back (start). */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const fromEnv = process.env.SECRET_STEWARD_TEST_PG_BINDIR;
  for (const dir of [fromEnv, '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin']) {
    if (dir && existsSync(join(dir, 'initdb'))) return dir;
  }
  throw new Error('PostgreSQL server binaries not found (apt-get install postgresql-15, or set SECRET_STEWARD_TEST_PG_BINDIR)');
}

const asRoot = process.getuid?.() === 0;

/** argv for running `cmd` as the postgres user when we are root (setpriv execs it: signals reach the server itself). */
const asPostgres = (cmd: string, args: string[]): [string, string[]] =>
  asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]] : [cmd, args];

/** A throw-away CA and a server certificate for 127.0.0.1 and localhost in `dir` (ca.crt, server.crt, server.key). */
export async function makeTestCertificates(dir: string): Promise<{ caPem: string }> {
  const o = (...args: string[]) => run('openssl', args, { cwd: dir });
  await o(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=secret-steward test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  await o(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await o(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'server.crt',
  );
  return { caPem: await readFile(join(dir, 'ca.crt'), 'utf8') };
}

/** Roles pg_hba.conf asks for a cleartext password, for an MD5 hash, and for nothing (trust), instead of SCRAM. */
export const PG_CLEARTEXT_ROLE = 'auth_cleartext';
export const PG_MD5_ROLE = 'auth_md5';
export const PG_TRUST_ROLE = 'auth_trust';

/**
 * `parentDir`: where the cluster's directory is made (it must be reachable by the postgres user). @default os.tmpdir()
 * `tls`: ssl = on. @default true
 */
export async function startPostgres(opts: { parentDir?: string; tls?: boolean } = {}): Promise<PgTestServer> {
  const bin = binDir();
  const root = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'ss-pg-'));
  const data = join(root, 'data');
  const tls = join(root, 'tls');
  await mkdir(tls);
  const { caPem } = await makeTestCertificates(tls);
  await writeFile(join(root, 'pwfile'), `${PG_SUPERUSER_PASSWORD}\n`);
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    for (const p of [root, tls, join(root, 'pwfile'), ...['ca.crt', 'server.crt', 'server.key'].map((f) => join(tls, f))])
      await chown(p, Number(stdout), Number(gid));
  }
  const [initCmd, initArgs] = asPostgres(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    PG_SUPERUSER,
    `--pwfile=${join(root, 'pwfile')}`,
    '--auth-local=scram-sha-256',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  await run(initCmd, initArgs);
  // A role that TLS connections refuse (to test sslmode prefer's fall-back to plain, and that no
  // other mode falls back), three roles asked for weaker authentication than SCRAM, then everyone else either way.
  await writeFile(
    join(data, 'pg_hba.conf'),
    [
      'local all all scram-sha-256',
      'hostssl all tls_refused 127.0.0.1/32 reject',
      `host all ${PG_CLEARTEXT_ROLE} 127.0.0.1/32 password`,
      `host all ${PG_MD5_ROLE} 127.0.0.1/32 md5`,
      `host all ${PG_TRUST_ROLE} 127.0.0.1/32 trust`,
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  let child: ChildProcess | undefined;
  const settings = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    root,
    '-c',
    'listen_addresses=127.0.0.1,127.0.0.2',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    `ssl=${opts.tls === false ? 'off' : 'on'}`,
    '-c',
    `ssl_cert_file=${join(tls, 'server.crt')}`,
    '-c',
    `ssl_key_file=${join(tls, 'server.key')}`,
    '-c',
    'log_statement=all',
    '-c',
    'log_connections=on',
    '-c',
    'max_connections=50',
    '-c',
    'shared_buffers=16MB',
  ];
  const log: Buffer[] = [];
  const startServer = async () => {
    const [cmd, args] = asPostgres(join(bin, 'postgres'), settings);
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => log.push(d));
    c.stderr!.on('data', (d: Buffer) => log.push(d));
    let exited = false;
    c.once('exit', () => (exited = true));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`postgres exited at startup:\n${Buffer.concat(log).toString().slice(-2000)}`);
      const err = await tryLogin(PG_SUPERUSER, PG_SUPERUSER_PASSWORD, 'postgres');
      if (err === undefined) return;
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections on port ${port}: ${err.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stopServer = async () => {
    const c = child;
    if (c === undefined || c.exitCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGINT'); // fast shutdown
    await done;
    child = undefined;
  };
  async function tryLogin(user: string, password: string, database = 'postgres'): Promise<{ code?: string; message: string } | undefined> {
    const client = new pg.Client({ host: '127.0.0.1', port, user, password, database, ssl: false, connectionTimeoutMillis: 5000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (e) {
      return { code: (e as { code?: string }).code, message: (e as Error).message };
    } finally {
      await client.end().catch(() => {});
    }
  }
  await startServer();
  return {
    host: '127.0.0.1',
    otherHost: '127.0.0.2',
    port,
    caPem,
    async sql(text, params, database = 'postgres') {
      const client = new pg.Client({ host: '127.0.0.1', port, user: PG_SUPERUSER, password: PG_SUPERUSER_PASSWORD, database, ssl: false });
      await client.connect();
      try {
        return (await client.query(text, params)).rows;
      } finally {
        await client.end();
      }
    },
    login: (user, password, database) => tryLogin(user, password, database),
    log: async () => Buffer.concat(log).toString('utf8'),
    stopServer,
    startServer,
    async stop() {
      await stopServer();
      await rm(root, { recursive: true, force: true });
    },
  };
}
