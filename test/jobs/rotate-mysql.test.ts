import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { RotationReport } from '../../shared/rotate/report.js';
import { RotateCluster, type RunResult } from '../shared/rotate/support/cluster.js';
import { is, runAndCrash } from '../shared/rotate/support/crash.js';
import { requireDependency } from '../support/dependencies.js';
import { type MariaDbTestServer, mariadbAvailable, startMariaDb } from '../support/mariadb-server.js';

/**
 * The mysql rotation backend end to end: the real rotate job (in-process, and as a child process
 * for the crash) against the Kubernetes API emulator and a real MariaDB server the suite starts
 * (test/support/mariadb-server.ts). Each test uses accounts of its own, so they share one server.
 * Nothing here ran against a real MySQL server (docs/rotation-mysql.md says what differs).
 */

const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const ROTATE_NOW = { 'secret-steward.io/rotate-now': 'again' };
const urlencode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
const nativeHash = (pw: string) => `*${createHash('sha1').update(createHash('sha1').update(pw).digest()).digest('hex').toUpperCase()}`;

function report(r: RunResult): RotationReport {
  return JSON.parse(r.stdout) as RotationReport;
}

function entry(r: RunResult, ns: string, name: string) {
  const e = report(r).secrets.find((s) => s.namespace === ns && s.name === name);
  assert.ok(e, `no report entry for ${ns}/${name}:\n${r.stdout}\n${r.stderr}`);
  return e;
}

/** A policy rotating `password` (and a DATABASE_URL built from the credential) through the backend. */
function policy(backend: string): string {
  return [
    'maxAge: 30d',
    'keys:',
    '  password: { generator: password, length: 28, symbols: "!#%+-.:=@^_~" }',
    '  DATABASE_URL: { generator: template, template: "mysql://{{ username }}:{{ password | urlencode }}@{{ host }}:{{ port }}/{{ database }}" }',
    'rollout: { waitReady: 20s }',
    `backend: { name: mysql, ${backend} }`,
  ].join('\n');
}

function secretData(db: MariaDbTestServer, user: string, password: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    username: user,
    password,
    host: db.host,
    port: String(db.port),
    database: 'shop',
    'ca.crt': db.caPem,
    DATABASE_URL: `mysql://${user}:${urlencode(password)}@${db.host}:${db.port}/shop`,
    ...extra,
  };
}

/** Every value the job printed or logged, for leak checks. */
const everything = (r: RunResult): string => `${r.stdout}\n${r.stderr}\n${r.logs.lines.join('\n')}`;

const VERIFIED = 'sslRootCertKey: ca.crt';

describe('jobs/rotate with the mysql backend (MariaDB)', function () {
  this.timeout(120_000);
  let db: MariaDbTestServer;
  let c: RotateCluster;

  before(async function () {
    requireDependency(this, 'MariaDB server (mariadbd, mariadb-install-db)', mariadbAvailable(), 'apt-get install mariadb-server');
    db = await startMariaDb();
    await db.sql('CREATE DATABASE shop');
    await db.sql('CREATE TABLE shop.orders (id int)');
    await db.sql('INSERT INTO shop.orders VALUES (1)');
    await db.sql('CREATE TABLE shop.payroll (id int)');
    // The admin of alternating-users needs CREATE USER, SELECT on mysql.user and the privileges it copies (with GRANT OPTION).
    await db.sql("CREATE USER 'rotator_admin'@'%' IDENTIFIED BY 'test-only-admin-password'");
    await db.sql("GRANT CREATE USER, SELECT ON *.* TO 'rotator_admin'@'%' WITH GRANT OPTION");
  });
  after(async () => {
    await db?.stop();
  });
  beforeEach(async () => {
    c = await RotateCluster.start();
    await c.secret('shop', 'db-admin', { username: 'rotator_admin', password: 'test-only-admin-password', host: db.host }, undefined, {
      annotations: { 'secret-steward.io/allow-references': 'db:admin' },
    });
  });
  afterEach(async () => {
    await c?.stop();
  });

  async function account(user: string, password: string, grants: string[] = ['SELECT ON shop.orders']): Promise<void> {
    await db.sql(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    for (const g of grants) await db.sql(`GRANT ${g} TO '${user}'@'%'`);
  }

  describe('single-user', () => {
    it('over verified TLS (the default, verify-full, with the CA from a key), sends only the hash, then switches the Secret', async () => {
      await account('app_single', 'old-single-password-1');
      await c.secret('shop', 'db', secretData(db, 'app_single', 'old-single-password-1'), policy(VERIFIED), { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, everything(r));
      assert.equal(entry(r, 'shop', 'db').action, 'rotated');
      const data = c.data('shop', 'db')!;
      assert.notEqual(data.password, 'old-single-password-1');
      assert.equal(await db.login('app_single', data.password, 'shop'), undefined, 'the new password logs in');
      assert.equal((await db.login('app_single', 'old-single-password-1', 'shop'))?.code, 'ER_ACCESS_DENIED_ERROR', 'the old one does not');
      assert.equal(data.DATABASE_URL, `mysql://app_single:${urlencode(data.password)}@${db.host}:${db.port}/shop`);
      assert.equal(c.data('shop', 'db-previous')!.password, 'old-single-password-1');
      const stored = await db.sql<{ p: string }>("SELECT authentication_string AS p FROM mysql.user WHERE User = 'app_single'");
      assert.equal(stored[0].p, nativeHash(data.password), 'stored as the mysql_native_password hash');
      const log = await db.log();
      assert.ok(!everything(r).includes(data.password), 'the new password is in no output or log line');
      assert.ok(!log.includes(data.password), 'nor in the general log, which records every statement');
      assert.ok(log.includes(`SET PASSWORD = '${nativeHash(data.password)}'`), 'only the hash crossed the wire');
      const sessions = await db.sql<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'app_single'");
      assert.equal(Number(sessions[0].n), 0, 'every connection was closed');
    });

    it('a failed test sets the database back: the old password works again, the Secret is unchanged; exit 1', async () => {
      await account('app_testfail', 'old-testfail-password-1');
      const before = secretData(db, 'app_testfail', 'old-testfail-password-1');
      await c.secret('shop', 'db', before, policy(`${VERIFIED}, testQuery: "SELECT COUNT(*) FROM shop.payroll"`), {
        annotations: LONG_AGO,
      });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /step test \(backend mysql\) failed: backend\.testQuery failed as account app_testfail: SELECT command denied to user '…'[^']* \(ER_TABLEACCESS_DENIED_ERROR 1142, SQLSTATE 42000\); the backend was set back to the current values/,
      );
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal(await db.login('app_testfail', 'old-testfail-password-1', 'shop'), undefined, 'the current password works again');
      const pending = c.data('shop', 'db-pending')!;
      assert.notEqual(await db.login('app_testfail', pending.password, 'shop'), undefined, 'the pending one does not');
    });

    it('a test query failing on a value of the database: the value is in no output, report or log line, cause chains included', async () => {
      // MariaDB quotes the value in ER_DUP_ENTRY (`Duplicate entry '<value>' for key 'PRIMARY'`, as
      // this server answers); mysql2 keeps it on the error's message, sqlMessage and stack.
      const CANARY = 'CANARY-row-value-7Qx';
      await db.sql('CREATE TABLE shop.tokens (v varchar(64) PRIMARY KEY)');
      await db.sql(`INSERT INTO shop.tokens VALUES ('${CANARY}')`);
      await account('app_echo', 'old-echo-password-1', ['SELECT, INSERT ON shop.tokens']);
      const before = secretData(db, 'app_echo', 'old-echo-password-1');
      await c.secret('shop', 'db', before, policy(`${VERIFIED}, testQuery: "INSERT INTO shop.tokens SELECT v FROM shop.tokens"`), {
        annotations: LONG_AGO,
      });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /step test \(backend mysql\) failed: backend\.testQuery failed as account app_echo: Duplicate entry '…' \(ER_DUP_ENTRY 1062, SQLSTATE 23000\)/,
      );
      assert.ok(r.logs.lines.length > 0, 'the run logged');
      assert.ok(!everything(r).includes('CANARY'), everything(r));
      assert.deepEqual(c.data('shop', 'db'), before);
    });

    it('a crash after set and before finish converges on the rerun: the password set before the crash is the one promoted', async () => {
      await account('app_crash', 'old-crash-password-1');
      await c.secret('shop', 'db', secretData(db, 'app_crash', 'old-crash-password-1'), policy(VERIFIED), { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.emulator.workloads.idle();

      const crash = await runAndCrash(c, (e) => is('patch', 'secrets', 'db-pending')(e), 'SIGKILL', 'crashing-pod');

      assert.ok(crash.hit, crash.stderr.slice(-2000));
      const pending = c.data('shop', 'db-pending')!;
      assert.equal(c.annotations('shop', 'db-pending')['secret-steward.io/rotation-step'], 'set');
      assert.equal(c.data('shop', 'db')!.password, 'old-crash-password-1', 'the Secret is not switched yet');
      assert.equal(await db.login('app_crash', pending.password, 'shop'), undefined, 'the database already has the pending password');

      const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

      assert.equal(rerun.code, 0, everything(rerun));
      assert.equal(c.data('shop', 'db')!.password, pending.password, 'no second password was generated');
      assert.equal(
        await db.login('app_crash', pending.password, 'shop'),
        undefined,
        'the Secret points at a password the database accepts',
      );
    });

    it('database unreachable: retried, then exit 4 with the Secret unchanged', async () => {
      const before = secretData(db, 'app_single', 'whatever-password-1', { port: '1' });
      await c.secret('shop', 'db', before, policy(`${VERIFIED}, connectAttempts: 2`), { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 4, everything(r));
      const e = entry(r, 'shop', 'db');
      assert.match(
        e.detail,
        /step set \(backend mysql\) failed: database 127\.0\.0\.1:1\/shop not reachable for step set after 2 attempt\(s\): connect ECONNREFUSED/,
      );
      assert.equal(e.transient, true);
      assert.deepEqual(c.data('shop', 'db'), before);
    });
  });

  describe('alternating-users', () => {
    it('sets the password of the account not in use, creating it with the grants of the base account; both credentials work during the switch', async () => {
      await account('app_alt', 'old-alt-password-1');
      const backend = `strategy: alternating-users, adminSecretRef: { name: db-admin }, ${VERIFIED}, testQuery: "SELECT COUNT(*) FROM shop.orders"`;
      await c.secret('shop', 'db', secretData(db, 'app_alt', 'old-alt-password-1'), policy(backend), { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });

      const first = await c.run(['--output', 'json']);

      assert.equal(first.code, 0, everything(first));
      const one = c.data('shop', 'db')!;
      assert.equal(one.username, 'app_alt_clone');
      assert.equal(one.DATABASE_URL, `mysql://app_alt_clone:${urlencode(one.password)}@${db.host}:${db.port}/shop`);
      assert.equal(await db.login('app_alt_clone', one.password, 'shop'), undefined, 'the new credential works');
      assert.equal(await db.login('app_alt', 'old-alt-password-1', 'shop'), undefined, 'and the one running pods hold still does');
      const grants = await db.sql<Record<string, string>>("SHOW GRANTS FOR 'app_alt_clone'@'%'");
      assert.ok(
        grants.some((g) => Object.values(g)[0] === 'GRANT SELECT ON `shop`.`orders` TO `app_alt_clone`@`%`'),
        JSON.stringify(grants),
      );

      c.editSecret('shop', 'db', (s) => Object.assign(s.metadata!.annotations!, ROTATE_NOW));
      const second = await c.run(['--output', 'json']);

      assert.equal(second.code, 0, everything(second));
      const two = c.data('shop', 'db')!;
      assert.equal(two.username, 'app_alt', 'back to the base account');
      assert.equal(await db.login('app_alt', two.password, 'shop'), undefined);
      assert.equal(await db.login('app_alt_clone', one.password, 'shop'), undefined, 'the clone keeps its password while pods roll over');
      const log = await db.log();
      assert.ok(!log.includes(one.password) && !log.includes(two.password), 'no password in the general log');
      assert.ok(!everything(first).includes(one.password) && !everything(second).includes(two.password));
    });

    it('a clone left without grants (a run stopped after CREATE USER) gets them on the next rotation', async () => {
      await account('app_half', 'old-half-password-1');
      await db.sql("CREATE USER 'app_half_clone'@'%' IDENTIFIED BY 'leftover-password-1'");
      const backend = `strategy: alternating-users, adminSecretRef: { name: db-admin }, ${VERIFIED}, testQuery: "SELECT COUNT(*) FROM shop.orders"`;
      await c.secret('shop', 'db', secretData(db, 'app_half', 'old-half-password-1'), policy(backend), { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, everything(r));
      assert.equal(c.data('shop', 'db')!.username, 'app_half_clone');
      assert.equal((await db.login('app_half_clone', 'leftover-password-1'))?.code, 'ER_ACCESS_DENIED_ERROR', 'its password was replaced');
      const grants = await db.sql<Record<string, string>>("SHOW GRANTS FOR 'app_half_clone'@'%'");
      assert.ok(
        grants.some((g) => /^GRANT SELECT ON `shop`\.`orders` TO/.test(String(Object.values(g)[0]))),
        JSON.stringify(grants),
      );
    });

    it('a failed test leaves the account in use untouched (nothing to set back) and the Secret as it was', async () => {
      await account('app_altfail', 'old-altfail-password-1');
      const before = secretData(db, 'app_altfail', 'old-altfail-password-1');
      const backend = `strategy: alternating-users, adminSecretRef: { name: db-admin }, ${VERIFIED}, testQuery: "SELECT COUNT(*) FROM shop.payroll"`;
      await c.secret('shop', 'db', before, policy(backend), { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(entry(r, 'shop', 'db').detail, /backend\.testQuery failed as account app_altfail_clone: SELECT command denied/);
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal(await db.login('app_altfail', 'old-altfail-password-1', 'shop'), undefined);
      assert.ok(r.records.some((l) => /set back: nothing to do/.test(String(l.msg))));
    });

    it('an account name that would need quoting is refused before anything is sent', async () => {
      const before = secretData(db, "app'; DROP USER root; --", 'old-hostile-password-1');
      await c.secret('shop', 'db', before, policy(VERIFIED), { annotations: LONG_AGO });
      const logBefore = (await db.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(entry(r, 'shop', 'db').detail, /the (current|pending) username may hold only letters, digits, _ \. \$ -/);
      assert.ok(!(await db.log()).slice(logBefore).includes('DROP USER'), 'no statement carried it');
      assert.deepEqual(c.data('shop', 'db'), before);
    });

    it('the admin credential goes only to a host its Secret names: never sent otherwise', async () => {
      await account('app_adminhost', 'old-adminhost-password-1');
      await c.secret('shop', 'admin-nohost', { username: 'rotator_admin', password: 'test-only-admin-password' }, undefined, {
        annotations: { 'secret-steward.io/allow-references': 'db:admin' },
      });
      const before = secretData(db, 'app_adminhost', 'old-adminhost-password-1');
      await c.secret('shop', 'db', before, policy(`strategy: alternating-users, adminSecretRef: { name: admin-nohost }, ${VERIFIED}`), {
        annotations: LONG_AGO,
      });
      const logBefore = (await db.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /Secret shop\/admin-nohost \(backend\.adminSecretRef\) does not name the database host its credential may be sent to: add a host key to it holding 127\.0\.0\.1.*; nothing was sent/,
      );
      assert.ok(!(await db.log()).slice(logBefore).includes('rotator_admin'), 'the admin account never connected');
      assert.deepEqual(c.data('shop', 'db'), before);
      assert.equal((await db.sql("SELECT 1 FROM mysql.user WHERE User = 'app_adminhost_clone'")).length, 0, 'no clone was created');
    });
  });

  describe('connection settings', () => {
    it('no sslRootCertKey means verify-full against the public CAs: a private CA fails, saying what to add, with nothing sent', async () => {
      await account('app_noca', 'old-noca-password-1');
      const before = secretData(db, 'app_noca', 'old-noca-password-1');
      await c.secret('shop', 'db', before, policy('connectAttempts: 1'), { annotations: LONG_AGO });
      const logBefore = (await db.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db').detail,
        /the certificate of database 127\.0\.0\.1:\d+\/shop did not verify \(sslmode verify-full, the default: the policy sets none\): .*; nothing was sent\. To fix: put the PEM of the CA .* in backend\.sslRootCertKey/,
      );
      assert.ok(!(await db.log()).slice(logBefore).includes('app_noca'), 'the account name was not sent either');
      assert.deepEqual(c.data('shop', 'db'), before);
    });

    it('verify-full refuses a certificate that does not name the host; verify-ca, which checks the CA only, accepts it', async () => {
      await account('app_altname', 'old-altname-password-1');
      await account('app_caonly', 'old-caonly-password-1');
      const wrongName = secretData(db, 'app_altname', 'old-altname-password-1', { host: db.otherHost });
      await c.secret('shop', 'db-full', wrongName, policy(`${VERIFIED}, connectAttempts: 1`), { annotations: LONG_AGO });
      await c.secret(
        'shop',
        'db-ca',
        secretData(db, 'app_caonly', 'old-caonly-password-1', { host: db.otherHost }),
        policy(`sslmode: verify-ca, ${VERIFIED}`),
        { annotations: LONG_AGO },
      );

      const logBefore = (await db.log()).length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, everything(r));
      assert.match(
        entry(r, 'shop', 'db-full').detail,
        /the certificate of database 127\.0\.0\.2:\d+\/shop did not verify \(sslmode verify-full, the default: the policy sets none\): .*IP: 127\.0\.0\.2 is not in the cert's list.*; nothing was sent\. To fix: connect by a name the certificate holds/,
      );
      assert.ok(
        !(await db.log()).slice(logBefore).includes('app_altname'),
        'the account name was not sent: the name is checked before the handshake goes on',
      );
      assert.deepEqual(c.data('shop', 'db-full'), wrongName);
      assert.equal(entry(r, 'shop', 'db-ca').action, 'rotated', entry(r, 'shop', 'db-ca').detail);
      assert.equal(await db.login('app_caonly', c.data('shop', 'db-ca')!.password, 'shop'), undefined);
    });

    it('sslmode disable rotates in plain (MariaDB only ever receives the hash)', async () => {
      await account('app_plain', 'old-plain-password-1');
      await c.secret('shop', 'db', secretData(db, 'app_plain', 'old-plain-password-1'), policy('sslmode: disable'), {
        annotations: LONG_AGO,
      });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, everything(r));
      assert.equal(await db.login('app_plain', c.data('shop', 'db')!.password, 'shop'), undefined);
    });

    it('reports policy problems of the backend fields with their paths', async () => {
      await c.secret('shop', 'shape', secretData(db, 'app_x', 'pw-000000000001'), policy('sslmode: prefer, colour: blue'), {
        annotations: LONG_AGO,
      });
      await c.secret(
        'shop',
        'meaning',
        secretData(db, 'app_x', 'pw-000000000001'),
        policy('strategy: alternating-users, host: a, hostKey: host, accountHost: "x\'y"'),
        { annotations: LONG_AGO },
      );

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1);
      const shape = entry(r, 'shop', 'shape');
      assert.equal(shape.action, 'invalid');
      assert.match(shape.detail, /backend\.sslmode: expected one of "disable"\|"require"\|"verify-ca"\|"verify-full"/);
      assert.match(shape.detail, /backend\.colour: unknown field/);
      const meaning = entry(r, 'shop', 'meaning').detail;
      assert.match(meaning, /backend\.accountHost: expected the host part of an account/);
    });
  });
});
