/**
 * A real MariaDB server for tests: a fresh datadir (mariadb-install-db) in a temporary
 * directory, on a free loopback port with its socket in the same directory, TLS on (a
 * throw-away CA and server certificate for 127.0.0.1; `tls: false` for a server without it),
 * every statement logged (general log) so tests can read what reached the server. It also
 * listens on 127.0.0.2, an address its certificate does not name (verify-full must refuse it).
 * The suite administers it as `root` over the socket (unix_socket authentication, as root).
 * Run as root (CI), the server runs as the `mysql` user through setpriv. The binaries come from
 * Debian's mariadb-server (`.ci/run` installs it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './free-port.js';
import { makeTestCertificates } from './postgres-server.js';

const run = promisify(execFile);

export interface MariaDbTestServer {
  host: string;
  port: number;
  /** Another address of the same server, which the certificate does not name. */
  otherHost: string;
  /** PEM of the CA that signed the server certificate. */
  caPem: string;
  /** Runs SQL as root (over the socket). */
  sql<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Tries to log in over TCP without TLS; undefined on success, else the server's error. */
  login(user: string, password: string, database?: string): Promise<{ code?: string; message: string } | undefined>;
  /** The general log so far: every connection and statement the server received. */
  log(): Promise<string>;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

const BINARIES = ['mariadbd', 'mariadb-install-db'] as const;

function bin(name: (typeof BINARIES)[number]): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin']) if (existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`${name} not found (apt-get install mariadb-server)`);
}

/** True when the MariaDB server binaries are installed. */
export function mariadbAvailable(): boolean {
  try {
    for (const b of BINARIES) bin(b);
    return true;
  } catch {
    return false;
  }
}

const asRoot = process.getuid?.() === 0;
const asMysql = (cmd: string, args: string[]): [string, string[]] =>
  asRoot ? ['setpriv', ['--reuid=mysql', '--regid=mysql', '--init-groups', '--', cmd, ...args]] : [cmd, args];

/**
 * `parentDir`: where the server's directory is made (the mysql user must reach it). @default os.tmpdir()
 * `tls`: TLS on. @default true
 */
export async function startMariaDb(opts: { parentDir?: string; tls?: boolean } = {}): Promise<MariaDbTestServer> {
  const root = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'ss-mariadb-'));
  const data = join(root, 'data');
  const tls = join(root, 'tls');
  const socket = join(root, 'mariadb.sock');
  const generalLog = join(root, 'general.log');
  await mkdir(tls);
  const { caPem } = await makeTestCertificates(tls);
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'mysql'])).stdout);
    const gid = Number((await run('id', ['-g', 'mysql'])).stdout);
    for (const p of [root, tls, ...['ca.crt', 'server.crt', 'server.key'].map((f) => join(tls, f))]) await chown(p, uid, gid);
  }
  const [initCmd, initArgs] = asMysql(bin('mariadb-install-db'), [
    '--no-defaults',
    `--datadir=${data}`,
    '--auth-root-authentication-method=socket',
    '--skip-test-db',
    '--skip-name-resolve',
  ]);
  // Its own temp dir: the caller's TMPDIR may be one the mysql user cannot enter (the fault lab's is private to root).
  const env = { ...process.env, TMPDIR: root };
  await run(initCmd, initArgs, { env });
  const port = await freePort();
  const settings = [
    '--no-defaults',
    `--datadir=${data}`,
    `--port=${port}`,
    `--socket=${socket}`,
    `--pid-file=${join(root, 'mariadbd.pid')}`,
    `--tmpdir=${root}`,
    '--bind-address=127.0.0.1,127.0.0.2',
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=16M',
    '--innodb-log-file-size=8M',
    '--innodb-flush-log-at-trx-commit=0',
    '--max-connections=50',
    '--general-log=1',
    `--general-log-file=${generalLog}`,
    ...(opts.tls === false
      ? []
      : [`--ssl-ca=${join(tls, 'ca.crt')}`, `--ssl-cert=${join(tls, 'server.crt')}`, `--ssl-key=${join(tls, 'server.key')}`]),
  ];
  let child: ChildProcess | undefined;
  const out: Buffer[] = [];
  const admin = () => mysql.createConnection({ socketPath: socket, user: 'root', multipleStatements: true });
  const startServer = async () => {
    const [cmd, args] = asMysql(bin('mariadbd'), settings);
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child = c;
    c.stdout!.on('data', (d: Buffer) => out.push(d));
    c.stderr!.on('data', (d: Buffer) => out.push(d));
    let exited = false;
    c.once('exit', () => (exited = true));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`mariadbd exited at startup:\n${Buffer.concat(out).toString().slice(-3000)}`);
      try {
        const conn = await admin();
        await conn.end();
        return;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`mariadbd did not accept connections on ${socket}: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stopServer = async () => {
    const c = child;
    if (c === undefined || c.exitCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await done;
    child = undefined;
  };
  await startServer();
  return {
    host: '127.0.0.1',
    otherHost: '127.0.0.2',
    port,
    caPem,
    async sql<R>(text: string, params?: unknown[]) {
      const conn = await admin();
      try {
        const [rows] = await conn.query(text, params);
        return (Array.isArray(rows) ? rows : []) as R[];
      } finally {
        await conn.end();
      }
    },
    async login(user, password, database) {
      let conn: mysql.Connection | undefined;
      try {
        conn = await mysql.createConnection({ host: '127.0.0.1', port, user, password, database, connectTimeout: 5000 });
        await conn.query('SELECT 1');
        return undefined;
      } catch (e) {
        return { code: (e as { code?: string }).code, message: (e as Error).message };
      } finally {
        await conn?.end().catch(() => {});
      }
    },
    log: async () => (existsSync(generalLog) ? readFile(generalLog, 'utf8') : ''),
    stopServer,
    startServer,
    async stop() {
      await stopServer();
      await rm(root, { recursive: true, force: true });
    },
  };
}
