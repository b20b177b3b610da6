/**
 * `rotate` with the mysql backend (single-user): `shop/db` holds the credential of account
 * `fault_app` on a real MariaDB server that the matrix starts once (test/support/mariadb-server.ts),
 * plus a DATABASE_URL template; a Deployment consumes it. Every case starts with the account's
 * password reset to the original. The same invariants as rotate-postgresql.ts.
 *
 * Invariants besides the in-place ones (unchanged or fully rotated, previous recoverable):
 * - the database accepts the Secret's password whenever no rotation is in flight (no pending
 *   companion): a Secret never ends pointing at a password the database does not accept;
 * - while one is in flight (a pending companion at set or tested), the database accepts either
 *   the Secret's password or the pending one: nothing but those two;
 * - after the clean rerun, the database accepts the Secret's password and not the original
 *   one (when rotated).
 */
import { isDeepStrictEqual } from 'node:util';
import { type MariaDbTestServer, startMariaDb } from '../../support/mariadb-server.js';
import type { CaseWorld } from '../lab.js';
import { danglingReferences, data, deployment, originalsOf, rotateArgs, rotationState, secret, secrets } from './rotate.js';
import { exitText, type Scenario } from './scenario.js';
import { valuesIn } from './shop.js';

const NS = 'shop';
const ROLE = 'fault_app';
const ORIGINAL_PASSWORD = 'original-mysql-password-CANARY-8b2e';
const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const urlencode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

let server: MariaDbTestServer | undefined;

/** The server `prepare` started (for the checks' own tests). */
export const mysqlServerOfMatrix = (): MariaDbTestServer | undefined => server;

function db(): MariaDbTestServer {
  if (server === undefined) throw new Error('the MariaDB server of the matrix is not running (prepare was not called)');
  return server;
}

function original(): Record<string, string> {
  const { host, port, caPem } = db();
  return {
    'ca.crt': caPem,
    username: ROLE,
    password: ORIGINAL_PASSWORD,
    host,
    port: String(port),
    database: 'shop',
    DATABASE_URL: `mysql://${ROLE}:${ORIGINAL_PASSWORD}@${host}:${port}/shop`,
  };
}

const POLICY = [
  'maxAge: 30d',
  'keys:',
  '  password: { generator: password, length: 24, symbols: "!#%+-.:=@^_~" }',
  '  DATABASE_URL: { generator: template, template: "mysql://{{ username }}:{{ password | urlencode }}@{{ host }}:{{ port }}/{{ database }}" }',
  'rollout: { waitReady: 20s }',
  'backend: { name: mysql, sslRootCertKey: ca.crt, connectAttempts: 2, connectTimeout: 2s }',
].join('\n');

const accepts = async (password: string | undefined): Promise<boolean> =>
  password !== undefined && (await db().login(ROLE, password, 'shop')) === undefined;

interface Seeded {
  originals: Map<string, string>;
}

export const rotateMysqlScenario: Scenario<Seeded> = {
  job: 'rotate-mysql',
  usesStore: false,
  description: 'in-place rotation of shop/db through the mysql backend (single-user, real MariaDB, verified TLS), a consuming Deployment',
  script: 'jobs/rotate.ts',
  command: async () => (await import('../../../jobs/rotate.js')).rotateCommand,
  args: rotateArgs,
  async prepare() {
    // Not under the lab's TMPDIR: that one is private to root (the mysql user could not enter
    // it) and is scanned for canaries, which the server's own files would trip.
    server ??= await startMariaDb({ parentDir: '/tmp' });
    await db().sql('CREATE DATABASE shop');
    await db().sql(`CREATE USER '${ROLE}'@'%' IDENTIFIED BY '${ORIGINAL_PASSWORD}'`);
    await db().sql(`GRANT SELECT ON shop.* TO '${ROLE}'@'%'`);
    return undefined;
  },
  async teardown() {
    await server?.stop();
    server = undefined;
  },
  async seed(world) {
    await db().sql(`ALTER USER '${ROLE}'@'%' IDENTIFIED BY '${ORIGINAL_PASSWORD}'`);
    world.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    secret(world.emulator, 'db', original(), { 'secret-steward.io/rotation': POLICY, ...LONG_AGO });
    deployment(world.emulator, 'api', { envFrom: ['db'] });
    await world.emulator.workloads.idle();
    return { originals: originalsOf(world, ['db']) };
  },
  secretValues: (world: CaseWorld, seeded: Seeded) => [...valuesIn(secrets(world)), ...seeded.originals.values()],
  async endState(world, seeded) {
    return { cluster: rotationState(world, seeded.originals), databaseAcceptsTheSecret: await accepts(data(world, 'db')?.password) };
  },
  async check(world, _seeded, phase, run) {
    const out = danglingReferences(world);
    const now = data(world, 'db');
    if (now === undefined) return [...out, 'Secret shop/db was deleted'];
    const base = original();
    const rotated = !isDeepStrictEqual(now, base);
    if (rotated) {
      const { password, ...rest } = now;
      const { password: _p, DATABASE_URL: _u, ...baseRest } = base;
      const { DATABASE_URL, ...restNoUrl } = rest;
      if (
        password === ORIGINAL_PASSWORD ||
        !isDeepStrictEqual(restNoUrl, baseRest) ||
        DATABASE_URL !== `mysql://${ROLE}:${urlencode(password)}@${base.host}:${base.port}/shop`
      ) {
        out.push(
          'Secret shop/db is neither unchanged nor fully rotated (a key kept its old value, or the URL does not embed the new password)',
        );
      }
      if (data(world, 'db-previous')?.password !== ORIGINAL_PASSWORD)
        out.push('Secret shop/db was rotated but its previous password is not recoverable from shop/db-previous');
    }
    const pending = data(world, 'db-pending');
    const step = (
      world.emulator.get('v1', 'Secret', NS, 'db-pending') as { metadata?: { annotations?: Record<string, string> } } | undefined
    )?.metadata?.annotations?.['secret-steward.io/rotation-step'];
    const secretWorks = await accepts(now.password);
    if (pending === undefined || phase === 'after-rerun') {
      if (!secretWorks) out.push(`${phase}: the database refuses the password shop/db holds (no rotation in flight; ${exitText(run)})`);
    } else if (!secretWorks && !(await accepts(pending.password))) {
      out.push(
        `${phase}: the database accepts neither the password of shop/db nor the pending one (companion at step ${step ?? '?'}; ${exitText(run)})`,
      );
    }
    if (phase === 'after-rerun' && rotated && (await accepts(ORIGINAL_PASSWORD)))
      out.push('after-rerun: the database still accepts the original password after the rotation finished');
    return out;
  },
};
