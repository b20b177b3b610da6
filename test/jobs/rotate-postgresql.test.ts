import assert from 'node:assert/strict';
import { rootCertificates } from 'node:tls';
import type { RotationReport } from '../../shared/rotate/report.js';
import { RotateCluster, type RunResult } from '../shared/rotate/support/cluster.js';
import { is, runAndCrash } from '../shared/rotate/support/crash.js';
import { PG_CLEARTEXT_ROLE, PG_MD5_ROLE, PG_TRUST_ROLE, type PgTestServer, startPostgres } from '../support/postgres-server.js';

/**
 * The postgresql rotation backend end to end: the real rotate job (in-process, and as a child
 * process for the crash) against the Kubernetes API emulator and a real PostgreSQL server the
 * suite starts. Each test uses roles of its own, so they share one server.
 */

const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const ROTATE_NOW = { 'secret-steward.io/rotate-now': 'again' };
const urlencode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

function report(r: RunResult): RotationReport {
  return JSON.parse(r.stdout) as RotationReport;
}

function entry(r: RunResult, ns: string, name: string) {
  const e = report(r).secrets.find((s) => s.namespace === ns && s.name === name);
  assert.ok(e, `no report entry for ${ns}/${name}:\n${r.stdout}\n${r.stderr}`);
  return e;
}

/** A policy rotating `password` (and a DATABASE_URL built from the credential) through the backend. */
function policy(backend: string, extra = ''): string {
  return [
    'maxAge: 30d',
    'keys:',
    '  password: { generator: password, length: 28, symbols: "!#%+-.:=@^_~" }',
    '  DATABASE_URL: { generator: template, template: "postgresql://{{ username }}:{{ password | urlencode }}@{{ host }}:{{ port }}/{{ database }}" }',
    'rollout: { waitReady: 20s }',
    `backend: { name: postgresql, ${backend} }`,
    extra,
  ].join('\n');
}

function secretData(pg: PgTestServer, user: string, password: string, database = 'shop'): Record<string, string> {
  return {
    username: user,
    password,
    host: pg.host,
    port: String(pg.port),
    database,
    DATABASE_URL: `postgresql://${user}:${urlencode(password)}@${pg.host}:${pg.port}/${database}`,
  };
}

/** Every value the job printed or logged, for leak checks. */
const everything = (r: RunResult): string => `${r.stdout}\n${r.stderr}\n${r.logs.lines.join('\n')}`;

describe('jobs/rotate with the postgresql backend', function () {
  this.timeout(120_000);
  let pg: PgTestServer;
  let c: RotateCluster;

  before(async () => {
    pg = await startPostgres();
    await pg.sql('CREATE DATABASE shop');
    await pg.sql('CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)', [], 'shop');
    await pg.sql('CREATE TABLE payroll (id int)', [], 'shop');
    await pg.sql('CREATE ROLE order_readers NOLOGIN');
    await pg.sql('GRANT SELECT ON orders TO order_readers', [], 'shop');
    // The admin of alternating-users needs CREATEROLE, not superuser.
    await pg.sql("CREATE ROLE rotator_admin LOGIN CREATEROLE PASSWORD 'test-only-admin-password'");
  });
  after(async () => {
    await pg?.stop();
  });
  beforeEach(async () => {
    c = await RotateCluster.start();
    // The admin credential lets the Secret shop/db use it (secret-steward.io/allow-references).
    await c.secret('shop', 'db-admin', { username: 'rotator_admin', password: 'test-only-admin-password', host: pg.host }, undefined, {
      annotations: { 'secret-steward.io/allow-references': 'db:admin' },
    });
  });
  afterEach(async () => {
    await c.stop();
  });

  async function role(name: string, password: string, opts: { memberOf?: string[] } = {}): Promise<void> {
    await pg.sql(`CREATE ROLE "${name.replaceAll('"', '""')}" LOGIN PASSWORD '${password}'`);
    for (const g of opts.memberOf ?? []) await pg.sql(`GRANT ${g} TO "${name.replaceAll('"', '""')}"`);
  }

  describe('single-user', () => {
    it('changes the role password in the database, tests it, then switches the Secret and its DATABASE_URL in one write', async () => {
      await role('app_single', 'old-single-password-1');
      await c.secret('shop', 'db', secretData(pg, 'app_single', 'old-single-password-1'), policy('sslmode: disable'), {
        annotations: LONG_AGO,
      });
      await c.deployment('shop', 'api', { envFrom: ['db'] });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, everything(r));
      assert.equal(entry(r, 'shop', 'db').action, 'rotated');
      const data = c.data('shop', 'db')!;
      assert.notEqual(data.password, 'old-single-password-1');
      assert.equal(await pg.login('app_single', data.password, 'shop'), undefined, 'the new password logs in');
      assert.equal((await pg.login('app_single', 'old-single-password-1', 'shop'))?.code, '28P01', 'the old password no longer does');
      assert.equal(data.DATABASE_URL, `postgresql://app_single:${urlencode(data.password)}@${pg.host}:${pg.port}/shop`);
      assert.equal(c.data('shop', 'db-previous')!.password, 'old-single-password-1', 'the previous value is kept');
      const stored = await pg.sql<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_single'");
      assert.match(stored[0].rolpassword, /^SCRAM-SHA-256\$4096:/, 'stored as a SCRAM verifier');
      assert.ok(!everything(r).includes(data.password), 'the new password is in no output or log line');
      assert.ok(!(await pg.log()).includes(data.password), 'nor in the server log, which records every statement');
      assert.match(await pg.log(), /ALTER ROLE CURRENT_USER PASSWORD 'SCRAM-SHA-256\$/, 'only the verifier crossed the wire');
    });

    it('a failed test sets the database back: the Secret and the running workloads keep a working credential; exit 1', async () => {
      await role('app_testfail', 'old-testfail-password-1');
      const before = secretData(pg, 'app_testfail', 'old-testfail-password-1');
      await c.secret('shop', 'db', before, policy('sslmode: disable, testQuery: "SELECT count(*) FROM payroll"'), {
        annotations: LONG_AGO,
      });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      const deploymentBefore = JSON.stringify(c.workload('Deployment', 'shop', 'api').spec);

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      const e = entry(r, 'shop', 'db');
      assert.equal(e.action, 'failed');
      assert.match(
        e.detail,
        /step test \(backend postgresql\) failed: backend\.testQuery failed as role app_testfail: permission denied for table payroll \(SQLSTATE 42501\); the backend was set back to the current values/,
      );
      assert.deepEqual(c.data('shop', 'db'), before, 'the Secret is unchanged');
      assert.equal(JSON.stringify(c.workload('Deployment', 'shop', 'api').spec), deploymentBefore, 'no consumer was restarted');
      assert.equal(await pg.login('app_testfail', 'old-testfail-password-1', 'shop'), undefined, 'the current password works again');
      const pending = c.data('shop', 'db-pending')!;
      assert.notEqual((await pg.login('app_testfail', pending.password, 'shop'))?.code, undefined, 'the pending password does not');
      assert.equal(
        c.annotations('shop', 'db-pending')['secret-steward.io/rotation-step'],
        'created',
        'the next run sets and tests the same values again',
      );
      assert.equal(JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome']).result, 'failed');
    });

    it('a consumer that does not become ready rolls back the database too: the old password works again', async () => {
      await role('app_rollback', 'old-rollback-password-1');
      const before = secretData(pg, 'app_rollback', 'old-rollback-password-1');
      await c.secret('shop', 'db', before, policy('sslmode: disable'), { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      c.emulator.workloads.progressDeadlineMs = 300;
      await c.emulator.workloads.idle();
      c.emulator.workloads.setFailing('Deployment', 'shop', 'api', true);
      await c.emulator.workloads.idle();

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.equal(entry(r, 'shop', 'db').action, 'rolled-back', entry(r, 'shop', 'db').detail);
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal(
        await pg.login('app_rollback', 'old-rollback-password-1', 'shop'),
        undefined,
        'the database accepts the restored password',
      );
    });

    it('a crash after set and before finish converges on the rerun: the password set before the crash is the one promoted', async () => {
      await role('app_crash', 'old-crash-password-1');
      await c.secret('shop', 'db', secretData(pg, 'app_crash', 'old-crash-password-1'), policy('sslmode: disable'), {
        annotations: LONG_AGO,
      });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.emulator.workloads.idle();

      const crash = await runAndCrash(c, (e) => is('patch', 'secrets', 'db-pending')(e), 'SIGKILL', 'crashing-pod');

      assert.ok(crash.hit, crash.stderr.slice(-2000));
      assert.equal(crash.signal, 'SIGKILL');
      const pending = c.data('shop', 'db-pending')!;
      assert.equal(c.annotations('shop', 'db-pending')['secret-steward.io/rotation-step'], 'set');
      assert.equal(c.data('shop', 'db')!.password, 'old-crash-password-1', 'the Secret is not switched yet');
      assert.equal(await pg.login('app_crash', pending.password, 'shop'), undefined, 'the database already has the pending password');

      const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

      assert.equal(rerun.code, 0, everything(rerun));
      const data = c.data('shop', 'db')!;
      assert.equal(data.password, pending.password, 'no second password was generated');
      assert.equal(await pg.login('app_crash', data.password, 'shop'), undefined, 'the Secret points at a password the database accepts');
      assert.equal(c.getSecret('shop', 'db-pending'), undefined);
    });

    it('a crash after set but before it was recorded: the rerun recognises the pending password already set', async () => {
      await role('app_unrecorded', 'old-unrecorded-password-1');
      await c.secret('shop', 'db', secretData(pg, 'app_unrecorded', 'old-unrecorded-password-1'), policy('sslmode: disable'), {
        annotations: LONG_AGO,
      });
      // The recording of step set fails: the database has the new password, the companion still says created.
      c.emulator.faults.inject({ method: 'PATCH', path: '/api/v1/namespaces/shop/secrets/db-pending', status: 403 });

      const first = await c.run(['--output', 'json']);

      assert.equal(first.code, 1, everything(first));
      assert.equal(c.annotations('shop', 'db-pending')['secret-steward.io/rotation-step'], 'created');
      const pending = c.data('shop', 'db-pending')!;
      assert.equal(await pg.login('app_unrecorded', pending.password, 'shop'), undefined);

      const rerun = await c.run(['--output', 'json']);

      assert.equal(rerun.code, 0, everything(rerun));
      assert.equal(c.data('shop', 'db')!.password, pending.password);
      assert.ok(
        rerun.records.some((l) => /already has the pending password/.test(String(l.msg))),
        'set recognised the pending password',
      );
    });

    it('refuses, before changing anything, a current password it could not set back (not printable ASCII)', async () => {
      await pg.sql(`CREATE ROLE app_unicode LOGIN PASSWORD 'pässwörd-ünïcode-1'`);
      const before = secretData(pg, 'app_unicode', 'pässwörd-ünïcode-1');
      await c.secret('shop', 'db', before, policy('sslmode: disable'), { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /the current password is not printable ASCII, so a failed rotation could not set it back/,
      );
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal(await pg.login('app_unicode', 'pässwörd-ünïcode-1', 'shop'), undefined, 'the database still takes it');
    });

    it('a host key holding anything but a host name is refused without being echoed', async () => {
      const before = { ...secretData(pg, 'app_single', 'whatever-password-2'), host: 'postgres://admin:hunter2-CANARY@db' };
      await c.secret('shop', 'db', before, policy('sslmode: disable'), { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(entry(r, 'shop', 'db').detail, /the Secret's key host \(backend\.host\) does not hold a valid host/);
      assert.ok(!everything(r).includes('hunter2-CANARY'), 'the value is not echoed');
      assert.deepEqual(c.data('shop', 'db'), before);
    });

    it('database unreachable: retried, then exit 4 with the Secret unchanged', async () => {
      const before = { ...secretData(pg, 'app_single', 'whatever-password-1'), port: '1' };
      await c.secret('shop', 'db', before, policy('sslmode: disable, connectAttempts: 2'), { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 4, everything(r));
      const e = entry(r, 'shop', 'db');
      assert.match(
        e.detail,
        /step set \(backend postgresql\) failed: database 127\.0\.0\.1:1\/shop not reachable for step set after 2 attempt\(s\): connect ECONNREFUSED/,
      );
      assert.equal(e.transient, true);
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal(r.records.filter((l) => /database not reachable/.test(String(l.msg))).length, 1, 'one retry was logged');
    });
  });

  describe('alternating-users', () => {
    it('sets the password of the role not in use, switching username and password together; both credentials work during the switch', async () => {
      await role('app_alt', 'old-alt-password-1', { memberOf: ['order_readers'] });
      const backend =
        'strategy: alternating-users, adminSecretRef: { name: db-admin }, sslmode: disable, testQuery: "SELECT count(*) FROM orders"';
      await c.secret('shop', 'db', secretData(pg, 'app_alt', 'old-alt-password-1'), policy(backend), { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });

      const first = await c.run(['--output', 'json']);

      assert.equal(first.code, 0, everything(first));
      const one = c.data('shop', 'db')!;
      assert.equal(one.username, 'app_alt_clone');
      assert.equal(
        one.DATABASE_URL,
        `postgresql://app_alt_clone:${urlencode(one.password)}@${pg.host}:${pg.port}/shop`,
        'the template follows the new username too',
      );
      assert.equal(await pg.login('app_alt_clone', one.password, 'shop'), undefined, 'the new credential works');
      assert.equal(await pg.login('app_alt', 'old-alt-password-1', 'shop'), undefined, 'and the one the running pods hold still does');
      const members = await pg.sql<{ rolname: string }>(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'app_alt_clone' ORDER BY 1",
      );
      assert.deepEqual(
        members.map((m) => m.rolname),
        ['app_alt', 'order_readers'],
        'the clone has the same memberships, and the base role',
      );
      assert.deepEqual(c.data('shop', 'db-previous')!.username, 'app_alt');

      c.editSecret('shop', 'db', (s) => Object.assign(s.metadata!.annotations!, ROTATE_NOW));
      const second = await c.run(['--output', 'json']);

      assert.equal(second.code, 0, everything(second));
      const two = c.data('shop', 'db')!;
      assert.equal(two.username, 'app_alt', 'back to the base role');
      assert.notEqual(two.password, 'old-alt-password-1');
      assert.equal(await pg.login('app_alt', two.password, 'shop'), undefined);
      assert.equal(await pg.login('app_alt_clone', one.password, 'shop'), undefined, 'the clone keeps its password while pods roll over');
      assert.ok(!everything(first).includes(one.password) && !everything(second).includes(two.password));
      assert.ok(!(await pg.log()).includes(one.password) && !(await pg.log()).includes(two.password), 'no password in the server log');
    });

    it('a failed test leaves the role in use untouched (nothing to set back) and the Secret as it was', async () => {
      await role('app_altfail', 'old-altfail-password-1');
      const before = secretData(pg, 'app_altfail', 'old-altfail-password-1');
      await c.secret(
        'shop',
        'db',
        before,
        policy(
          'strategy: alternating-users, adminSecretRef: { name: db-admin }, sslmode: disable, testQuery: "SELECT count(*) FROM payroll"',
        ),
        { annotations: LONG_AGO },
      );

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /backend\.testQuery failed as role app_altfail_clone: permission denied for table payroll/,
      );
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal(await pg.login('app_altfail', 'old-altfail-password-1', 'shop'), undefined);
      assert.ok(r.records.some((l) => /set back: nothing to do/.test(String(l.msg))));
    });

    it('a wrong admin credential: a clear error naming the admin Secret, nothing changed', async () => {
      await role('app_badadmin', 'old-badadmin-password-1');
      await c.secret('shop', 'wrong-admin', { username: 'rotator_admin', password: 'not-the-admin-password', host: pg.host }, undefined, {
        annotations: { 'secret-steward.io/allow-references': 'db:admin' },
      });
      const before = secretData(pg, 'app_badadmin', 'old-badadmin-password-1');
      await c.secret('shop', 'db', before, policy('strategy: alternating-users, adminSecretRef: { name: wrong-admin }, sslmode: disable'), {
        annotations: LONG_AGO,
      });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /step set \(backend postgresql\) failed: the admin credential of Secret shop\/wrong-admin \(backend\.adminSecretRef, role rotator_admin\) was refused by 127\.0\.0\.1:\d+\/shop: password authentication failed for user "…" \(SQLSTATE 28P01\)/,
      );
      assert.ok(!everything(r).includes('not-the-admin-password'), 'the admin password is not echoed');
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal((await pg.sql("SELECT 1 FROM pg_roles WHERE rolname = 'app_badadmin_clone'")).length, 0, 'no clone was created');
      assert.equal(await pg.login('app_badadmin', 'old-badadmin-password-1', 'shop'), undefined);
    });

    it('the admin credential goes only to a host its Secret names: a Secret without a host key, or naming another, is never sent', async () => {
      await role('app_adminhost', 'old-adminhost-password-1');
      const allow = (db: string) => ({ annotations: { 'secret-steward.io/allow-references': `${db}:admin` } });
      await c.secret(
        'shop',
        'admin-nohost',
        { username: 'rotator_admin', password: 'test-only-admin-password' },
        undefined,
        allow('db-nohost'),
      );
      await c.secret(
        'shop',
        'admin-elsewhere',
        { username: 'rotator_admin', password: 'test-only-admin-password', host: 'db.elsewhere.svc, 10.9.9.9' },
        undefined,
        allow('db-elsewhere'),
      );
      const before = secretData(pg, 'app_adminhost', 'old-adminhost-password-1');
      const backend = (admin: string) => `strategy: alternating-users, adminSecretRef: { name: ${admin} }, sslmode: disable`;
      await c.secret('shop', 'db-nohost', before, policy(backend('admin-nohost')), { annotations: LONG_AGO });
      await c.secret('shop', 'db-elsewhere', before, policy(backend('admin-elsewhere')), { annotations: LONG_AGO });
      const logBefore = (await pg.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db-nohost').detail,
        /Secret shop\/db-nohost: step set \(backend postgresql\) failed: Secret shop\/admin-nohost \(backend\.adminSecretRef\) does not name the database host its credential may be sent to: add a host key to it holding 127\.0\.0\.1 \(several hosts: comma-separated\); nothing was sent/,
      );
      assert.match(
        entry(r, 'shop', 'db-elsewhere').detail,
        /Secret shop\/admin-elsewhere \(backend\.adminSecretRef\) allows its credential to be sent only to db\.elsewhere\.svc, 10\.9\.9\.9 \(its host key\), not to the policy's database host 127\.0\.0\.1; if that server should receive it, add 127\.0\.0\.1 to the admin Secret's host key; nothing was sent/,
      );
      const log = (await pg.log()).slice(logBefore);
      assert.ok(!log.includes('user=rotator_admin'), `the admin role never connected:\n${log}`);
      assert.deepEqual(c.data('shop', 'db-nohost'), before);
      assert.deepEqual(c.data('shop', 'db-elsewhere'), before);
      assert.equal((await pg.sql("SELECT 1 FROM pg_roles WHERE rolname = 'app_adminhost_clone'")).length, 0, 'no clone was created');
    });

    it('quotes role names: a hostile name is a role name, not SQL', async () => {
      const hostile = `evil"; DROP ROLE victim; --`;
      await pg.sql('CREATE ROLE victim NOLOGIN');
      await role(hostile, 'old-evil-password-1');
      await c.secret(
        'shop',
        'db',
        secretData(pg, hostile, 'old-evil-password-1'),
        policy('strategy: alternating-users, adminSecretRef: { name: db-admin }, sslmode: disable'),
        { annotations: LONG_AGO },
      );

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, everything(r));
      assert.equal(c.data('shop', 'db')!.username, `${hostile}_clone`);
      assert.equal(await pg.login(`${hostile}_clone`, c.data('shop', 'db')!.password, 'shop'), undefined);
      assert.equal((await pg.sql("SELECT 1 FROM pg_roles WHERE rolname = 'victim'")).length, 1, 'the victim role still exists');
    });
  });

  describe('connection settings', () => {
    /** The role pg_hba.conf refuses over TLS, made afresh (tests change its password). */
    async function tlsRefusedRole(password: string): Promise<void> {
      await pg.sql('DROP ROLE IF EXISTS tls_refused');
      await role('tls_refused', password);
    }

    /** The `step <x>: connected` log records: how each connection was made. */
    const connections = (r: RunResult) =>
      r.records.filter((l) => /: connected$/.test(String(l.msg))).map((l) => ({ msg: l.msg, role: l.role, tls: l.tls, auth: l.auth }));

    it('verify-full with the CA from a Secret key, SCRAM with channel binding (SCRAM-SHA-256-PLUS) over TLS; prefer falls back to plain where the server refuses TLS', async () => {
      await role('app_tls', 'old-tls-password-1');
      await tlsRefusedRole('old-refused-password-1');
      await c.secret(
        'shop',
        'db',
        { ...secretData(pg, 'app_tls', 'old-tls-password-1'), 'ca.crt': pg.caPem },
        policy('sslmode: verify-full, sslRootCertKey: ca.crt'),
        { annotations: LONG_AGO },
      );
      await c.secret('shop', 'refused-prefer', secretData(pg, 'tls_refused', 'old-refused-password-1'), policy('sslmode: prefer'), {
        annotations: LONG_AGO,
      });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, everything(r));
      assert.equal(entry(r, 'shop', 'db').action, 'rotated', entry(r, 'shop', 'db').detail);
      assert.equal(await pg.login('app_tls', c.data('shop', 'db')!.password, 'shop'), undefined);
      assert.deepEqual(
        connections(r).filter((l) => /app_tls/.test(String(l.role))),
        [
          { msg: 'step set: connected', role: 'app_tls', tls: true, auth: 'SCRAM-SHA-256-PLUS' },
          { msg: 'step test: connected', role: 'app_tls', tls: true, auth: 'SCRAM-SHA-256-PLUS' },
        ],
        'the server offers channel binding over TLS, and it is used',
      );
      assert.equal(entry(r, 'shop', 'refused-prefer').action, 'rotated', entry(r, 'shop', 'refused-prefer').detail);
      assert.equal(await pg.login('tls_refused', c.data('shop', 'refused-prefer')!.password, 'shop'), undefined);
      assert.deepEqual(
        connections(r).filter((l) => l.role === 'tls_refused'),
        [
          { msg: 'step set: connected', role: 'tls_refused', tls: false, auth: 'SCRAM-SHA-256' },
          { msg: 'step test: connected', role: 'tls_refused', tls: false, auth: 'SCRAM-SHA-256' },
        ],
        'prefer went on in plain, where there is nothing to bind to',
      );
    });

    it('after a TLS connection is refused, no mode but prefer and allow tries plain: require, verify-ca, verify-full and the default (no sslmode)', async () => {
      await tlsRefusedRole('old-refused-password-2');
      const data = { ...secretData(pg, 'tls_refused', 'old-refused-password-2'), 'ca.crt': pg.caPem };
      const modes = {
        'refused-require': 'sslmode: require',
        'refused-verify-ca': 'sslmode: verify-ca',
        'refused-verify-full': 'sslmode: verify-full',
        'refused-default': '',
      };
      for (const [name, mode] of Object.entries(modes))
        await c.secret('shop', name, data, policy(`${mode}${mode ? ', ' : ''}sslRootCertKey: ca.crt, connectAttempts: 1`), {
          annotations: LONG_AGO,
        });
      const logBefore = (await pg.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      for (const name of Object.keys(modes)) {
        assert.match(
          entry(r, 'shop', name).detail,
          /role tls_refused at 127\.0\.0\.1:\d+\/shop accepts neither .*: pg_hba\.conf rejects connection for host "…", SSL encryption \(SQLSTATE 28000\)/,
          name,
        );
        assert.deepEqual(c.data('shop', name), data, name);
      }
      const log = (await pg.log()).slice(logBefore);
      assert.ok(!/connection authorized: user=tls_refused/.test(log), `no plain connection followed:\n${log}`);
      assert.ok(!/user "tls_refused", database "shop", no encryption/.test(log));
      assert.equal(await pg.login('tls_refused', 'old-refused-password-2', 'shop'), undefined, 'the password is unchanged');
    });

    it('no sslmode means verify-full: a certificate from a private CA fails, saying what to add; with sslRootCertKey the same policy rotates', async () => {
      await role('app_default_noca', 'old-default-noca-password-1');
      await role('app_default_ca', 'old-default-ca-password-1');
      const noCa = secretData(pg, 'app_default_noca', 'old-default-noca-password-1');
      await c.secret('shop', 'db-noca', noCa, policy('connectAttempts: 1'), { annotations: LONG_AGO });
      await c.secret(
        'shop',
        'db-ca',
        { ...secretData(pg, 'app_default_ca', 'old-default-ca-password-1'), 'ca.crt': pg.caPem },
        policy('sslRootCertKey: ca.crt'),
        { annotations: LONG_AGO },
      );
      const logBefore = (await pg.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db-noca').detail,
        /^Secret shop\/db-noca: step set \(backend postgresql\) failed: the certificate of database 127\.0\.0\.1:\d+\/shop did not verify \(sslmode verify-full, the default since 0\.2\.0: the policy sets none \(it was prefer, which did not verify and fell back to plain\)\): unable to verify the first certificate; nothing was sent\. To fix: put the PEM of the CA that signed the server certificate in a key of the Secret and name it in backend\.sslRootCertKey; or, to encrypt without verifying the server \(an on-path host could read the passwords\), add sslmode: require/,
      );
      assert.deepEqual(c.data('shop', 'db-noca'), noCa);
      assert.ok(!(await pg.log()).slice(logBefore).includes('user=app_default_noca'), 'the role never reached the server');
      assert.equal(entry(r, 'shop', 'db-ca').action, 'rotated', entry(r, 'shop', 'db-ca').detail);
      assert.equal(await pg.login('app_default_ca', c.data('shop', 'db-ca')!.password, 'shop'), undefined);
    });

    it('verify-full refuses a certificate that does not name the host; verify-ca, which checks the CA only, accepts it', async () => {
      await role('app_altname', 'old-altname-password-1');
      await role('app_caonly', 'old-caonly-password-1');
      const wrongName = { ...secretData(pg, 'app_altname', 'old-altname-password-1'), host: pg.otherHost, 'ca.crt': pg.caPem };
      await c.secret('shop', 'db-full', wrongName, policy('sslmode: verify-full, sslRootCertKey: ca.crt, connectAttempts: 1'), {
        annotations: LONG_AGO,
      });
      await c.secret(
        'shop',
        'db-ca',
        { ...secretData(pg, 'app_caonly', 'old-caonly-password-1'), host: pg.otherHost, 'ca.crt': pg.caPem },
        policy('sslmode: verify-ca, sslRootCertKey: ca.crt'),
        { annotations: LONG_AGO },
      );

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db-full').detail,
        /the certificate of database 127\.0\.0\.2:\d+\/shop did not verify \(sslmode verify-full\): Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.2 is not in the cert's list: 127\.0\.0\.1.*; nothing was sent\. To fix: connect by a name the certificate holds \(backend\.host\), or set sslmode: verify-ca to check the CA only$/,
      );
      assert.deepEqual(c.data('shop', 'db-full'), wrongName);
      assert.equal(entry(r, 'shop', 'db-ca').action, 'rotated', entry(r, 'shop', 'db-ca').detail);
    });

    it('a server that asks for a cleartext password or an MD5 hash gets neither, even over verified TLS; one that skips SCRAM (trust) is left before any statement', async () => {
      await role(PG_CLEARTEXT_ROLE, 'old-cleartext-password-1');
      await pg.sql(`SET password_encryption = 'md5'; CREATE ROLE ${PG_MD5_ROLE} LOGIN PASSWORD 'old-md5-password-1'`);
      await role(PG_TRUST_ROLE, 'old-trust-password-1');
      const [{ rolpassword: trustVerifier }] = await pg.sql<{ rolpassword: string }>(
        'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
        [PG_TRUST_ROLE],
      );
      const withCa = (user: string, password: string) => ({ ...secretData(pg, user, password), 'ca.crt': pg.caPem });
      const cases = {
        'db-cleartext': withCa(PG_CLEARTEXT_ROLE, 'old-cleartext-password-1'),
        'db-md5': withCa(PG_MD5_ROLE, 'old-md5-password-1'),
        'db-trust': withCa(PG_TRUST_ROLE, 'old-trust-password-1'),
      };
      for (const [name, data] of Object.entries(cases))
        await c.secret('shop', name, data, policy('sslRootCertKey: ca.crt, connectAttempts: 1'), { annotations: LONG_AGO });
      const logBefore = (await pg.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db-cleartext').detail,
        /^Secret shop\/db-cleartext: step set \(backend postgresql\) failed: database 127\.0\.0\.1:\d+\/shop asked role auth_cleartext for its password in cleartext \(pg_hba\.conf method password\); refused before anything was sent: secret-steward logs in with SCRAM-SHA-256 only\. Use method scram-sha-256 in the server's pg_hba\.conf for this role$/,
      );
      assert.match(
        entry(r, 'shop', 'db-md5').detail,
        /failed: database 127\.0\.0\.1:\d+\/shop asked role auth_md5 for an MD5 password hash \(pg_hba\.conf method md5 with a password stored as MD5\); refused before anything was sent/,
      );
      assert.match(
        entry(r, 'shop', 'db-trust').detail,
        /failed: database 127\.0\.0\.1:\d+\/shop let role auth_trust in without a SCRAM-SHA-256 exchange \(pg_hba\.conf method trust, or a server that did not prove it knows the password\); disconnected before any statement/,
      );
      for (const [name, data] of Object.entries(cases)) assert.deepEqual(c.data('shop', name), data, name);
      const log = (await pg.log()).slice(logBefore);
      for (const user of [PG_CLEARTEXT_ROLE, PG_MD5_ROLE]) {
        assert.ok(!log.includes(`connection authorized: user=${user}`), `${user} never logged in:\n${log}`);
        assert.ok(!log.includes(`password authentication failed for user "${user}"`), `no password reached the server for ${user}`);
      }
      assert.ok(!/ALTER ROLE/.test(log), `no statement was sent:\n${log}`);
      const [{ rolpassword }] = await pg.sql<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
        PG_TRUST_ROLE,
      ]);
      assert.equal(rolpassword, trustVerifier, 'the trusting server was not told a new password');
    });

    describe('a server without TLS', () => {
      let plain: PgTestServer;
      before(async () => {
        plain = await startPostgres({ tls: false });
        await plain.sql('CREATE DATABASE shop');
        await plain.sql("CREATE ROLE app_plain_default LOGIN PASSWORD 'old-plain-default-password-1'");
        await plain.sql("CREATE ROLE app_plain_disable LOGIN PASSWORD 'old-plain-disable-password-1'");
      });
      after(async () => {
        await plain?.stop();
      });

      it('is refused by default (verify-full), saying what to add, with nothing sent; sslmode: disable rotates', async () => {
        const byDefault = secretData(plain, 'app_plain_default', 'old-plain-default-password-1');
        await c.secret('shop', 'db-default', byDefault, policy('connectAttempts: 1'), { annotations: LONG_AGO });
        await c.secret(
          'shop',
          'db-disable',
          secretData(plain, 'app_plain_disable', 'old-plain-disable-password-1'),
          policy('sslmode: disable'),
          {
            annotations: LONG_AGO,
          },
        );

        const r = await c.run(['--output', 'json']);

        assert.equal(r.code, 1, everything(r));
        assert.match(
          entry(r, 'shop', 'db-default').detail,
          /^Secret shop\/db-default: step set \(backend postgresql\) failed: database 127\.0\.0\.1:\d+\/shop does not offer TLS \(sslmode verify-full, the default since 0\.2\.0: the policy sets none \(it was prefer, which did not verify and fell back to plain\)\); nothing was sent: turn TLS on in the server \(ssl = on\), or, where the network path to it is trusted, add sslmode: disable to the policy's backend$/,
        );
        assert.deepEqual(c.data('shop', 'db-default'), byDefault);
        assert.ok(!(await plain.log()).includes('user=app_plain_default'), 'the role never reached the server');
        assert.equal(await plain.login('app_plain_default', 'old-plain-default-password-1', 'shop'), undefined);
        assert.equal(entry(r, 'shop', 'db-disable').action, 'rotated', entry(r, 'shop', 'db-disable').detail);
        assert.equal(await plain.login('app_plain_disable', c.data('shop', 'db-disable')!.password, 'shop'), undefined);
        assert.deepEqual(
          connections(r).map((l) => l.auth),
          ['SCRAM-SHA-256', 'SCRAM-SHA-256'],
          'set and test, SCRAM without channel binding',
        );
      });
    });

    it('verify-full with the wrong CA is refused before any password is sent', async () => {
      await role('app_wrongca', 'old-wrongca-password-1');
      // A real CA certificate, but not the one that signed the server's.
      const before = { ...secretData(pg, 'app_wrongca', 'old-wrongca-password-1'), 'ca.crt': rootCertificates[0] };
      await c.secret('shop', 'db', before, policy('sslmode: verify-full, sslRootCertKey: ca.crt, connectAttempts: 1'), {
        annotations: LONG_AGO,
      });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /step set \(backend postgresql\) failed: the certificate of database 127\.0\.0\.1:\d+\/shop did not verify \(sslmode verify-full\): (unable to verify the first certificate|self-signed certificate in certificate chain|unable to get local issuer certificate); nothing was sent$/,
      );
      assert.ok(!(await pg.log()).includes('connection authorized: user=app_wrongca'), 'the role never logged in');
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal(await pg.login('app_wrongca', 'old-wrongca-password-1', 'shop'), undefined);
    });

    it('reports policy problems of the backend fields with their paths', async () => {
      await c.secret('shop', 'shape', secretData(pg, 'app_x', 'pw-000000000001'), policy('sslmode: sometimes, colour: blue'), {
        annotations: LONG_AGO,
      });
      await c.secret(
        'shop',
        'meaning',
        secretData(pg, 'app_x', 'pw-000000000001'),
        policy('strategy: alternating-users, host: a, hostKey: host'),
        { annotations: LONG_AGO },
      );

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1);
      const shape = entry(r, 'shop', 'shape');
      assert.equal(shape.action, 'invalid');
      assert.match(shape.detail, /backend\.sslmode: expected one of "disable"\|"allow"\|"prefer"\|"require"\|"verify-ca"\|"verify-full"/);
      assert.match(shape.detail, /backend\.colour: unknown field/);
      const meaning = entry(r, 'shop', 'meaning').detail;
      assert.match(meaning, /backend\.adminSecretRef: is required for strategy alternating-users/);
      assert.match(meaning, /backend\.hostKey: give host or hostKey, not both/);
    });
  });
});
