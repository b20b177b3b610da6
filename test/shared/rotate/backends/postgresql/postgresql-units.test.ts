import assert from 'node:assert/strict';
import { type PgBackendConfig, parsePgConfig } from '../../../../../shared/rotate/backends/postgresql/config.js';
import { isAuthFailure, isTransientPgError, resolveTarget } from '../../../../../shared/rotate/backends/postgresql/connection.js';
import { alternateRole } from '../../../../../shared/rotate/backends/postgresql/postgresql-backend.js';
import { isScramSafe, scramSha256Verifier } from '../../../../../shared/rotate/backends/postgresql/scram.js';
import { quoteIdent, quoteLiteral, roleNameProblem } from '../../../../../shared/rotate/backends/postgresql/sql.js';
import { type PgTestServer, startPostgres } from '../../../../support/postgres-server.js';

const NASTY = [`it's`, `back\\slash`, `"double"`, `both ' and \\ and "`, `semi; DROP TABLE x; --`, `$$dollar$$`, `ünïcødé`];

describe('postgresql backend: SCRAM verifiers and quoting against a real server', function () {
  this.timeout(60_000);
  let pg: PgTestServer;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  it('computes the very verifier PostgreSQL computes for the same password and salt', async () => {
    for (const [i, password] of ['pencil', `qu'ote\\back"dq`, 'x'.repeat(200), ' spaces at both ends '].entries()) {
      await pg.sql(`SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_${i} LOGIN PASSWORD ${quoteLiteral(password)}`);
      const [{ rolpassword }] = await pg.sql<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
        `scram_${i}`,
      ]);
      const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(rolpassword)!;
      assert.equal(
        scramSha256Verifier(password, { salt: Buffer.from(m[2], 'base64'), iterations: Number(m[1]) }),
        rolpassword,
        `password #${i}`,
      );
    }
  });

  it('a verifier set by ALTER ROLE lets the role log in with the password, and only with it', async () => {
    await pg.sql('CREATE ROLE verifier_login LOGIN');
    await pg.sql(`ALTER ROLE verifier_login PASSWORD ${quoteLiteral(scramSha256Verifier('Zx8!#%+-.:=@^_~'))}`);
    assert.equal(await pg.login('verifier_login', 'Zx8!#%+-.:=@^_~'), undefined);
    assert.equal((await pg.login('verifier_login', 'Zx8!#%+-.:=@^_'))?.code, '28P01');
  });

  it('quoteLiteral and quoteIdent round-trip hostile text through the server unchanged', async () => {
    for (const text of NASTY) {
      const [row] = await pg.sql<Record<string, string>>(`SELECT ${quoteLiteral(text)} AS ${quoteIdent(text)}`);
      assert.deepEqual(row, { [text]: text });
    }
  });

  it('refuses what cannot be quoted or would be truncated', () => {
    assert.throws(() => quoteIdent('a\0b'), /NUL/);
    assert.throws(() => quoteLiteral('a\0b'), /NUL/);
    assert.equal(roleNameProblem('r'.repeat(63)), undefined);
    assert.match(roleNameProblem('r'.repeat(64))!, /64 bytes long; PostgreSQL keeps at most 63/);
    assert.match(roleNameProblem('é'.repeat(32))!, /64 bytes/);
    assert.equal(roleNameProblem(''), 'is empty');
  });
});

describe('postgresql backend: units', () => {
  it('passwords SASLprep would change are refused for verifiers', () => {
    assert.equal(isScramSafe('Plain-ASCII ok ~'), true);
    for (const bad of ['naïve', 'tab\there', 'nbsp\u00a0', '']) assert.equal(isScramSafe(bad), false, JSON.stringify(bad));
    assert.throws(() => scramSha256Verifier('naïve'), /printable ASCII/);
  });

  it('alternates between a role and its clone', () => {
    assert.deepEqual(alternateRole('app'), { base: 'app', next: 'app_clone' });
    assert.deepEqual(alternateRole('app_clone'), { base: 'app', next: 'app' });
    assert.deepEqual(alternateRole('_clone'), { base: '_clone', next: '_clone_clone' });
  });

  it('parses the backend fields: defaults, outputs and every problem with its path', () => {
    const ok = parsePgConfig({ host: 'db' });
    assert.ok('config' in ok);
    assert.deepEqual(ok.outputs, []);
    assert.equal(ok.config.strategy, 'single-user');
    assert.deepEqual(ok.config.port, { key: 'port', optional: true });
    assert.equal(ok.config.connectTimeoutMs, 10_000);
    assert.equal(ok.config.testQuery, 'SELECT 1');

    const alt = parsePgConfig({ strategy: 'alternating-users', usernameKey: 'user', adminSecretRef: { name: 'db-admin' } });
    assert.ok('config' in alt);
    assert.deepEqual(alt.outputs, ['user'], 'alternating-users writes the username itself');
    assert.deepEqual(alt.config.admin, { secretName: 'db-admin', usernameKey: 'username', passwordKey: 'password' });

    const bad = parsePgConfig({
      strategy: 'alternating-users',
      host: 'a',
      hostKey: 'h',
      connectTimeout: '1ms',
      usernameKey: 'k',
      passwordKey: 'k',
    });
    assert.ok('problems' in bad);
    assert.deepEqual(bad.problems.map((p) => `${p.path.join('.')}: ${p.message}`).sort(), [
      'adminSecretRef: is required for strategy alternating-users (a Secret with a role that may create and alter roles)',
      'connectTimeout: expected a duration between 1s and 5m, such as 10s',
      'hostKey: give host or hostKey, not both',
      'passwordKey: must differ from usernameKey',
    ]);
    const shape = parsePgConfig({
      port: 70000,
      adminSecretRef: { name: 'Bad_Name' },
      sslmode: 'maybe',
      extra: 1,
      host: 'user:pw@db',
      database: 'shop;drop',
    });
    assert.ok('problems' in shape);
    const paths = shape.problems.map((p) => p.path.join('.'));
    for (const p of ['port', 'adminSecretRef.name', 'sslmode', 'extra', 'host', 'database'])
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    for (const host of ['db', 'db.shop.svc.cluster.local', '10.0.0.7', '::1']) assert.ok('config' in parsePgConfig({ host }), host);
    const single = parsePgConfig({ adminSecretRef: { name: 'db-admin' } });
    assert.ok('problems' in single && /only used by strategy alternating-users/.test(single.problems[0].message));
  });

  it('resolves the connection from fields, named keys and same-named keys, naming the key that is wrong', () => {
    const cfg = (raw: Record<string, unknown>) => (parsePgConfig(raw) as { config: PgBackendConfig }).config;
    const v = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, x]) => [k, Buffer.from(x)]));
    assert.deepEqual(resolveTarget(cfg({ host: 'db', port: 6432, database: 'shop', sslmode: 'require' }), v({}), 'app'), {
      host: 'db',
      port: 6432,
      database: 'shop',
      sslmode: 'require',
      ca: undefined,
    });
    assert.deepEqual(resolveTarget(cfg({}), v({ host: 'h', port: '5433', sslmode: 'disable' }), 'app'), {
      host: 'h',
      port: 5433,
      database: 'app',
      sslmode: 'disable',
      ca: undefined,
    });
    assert.deepEqual(resolveTarget(cfg({ hostKey: 'PGHOST' }), v({ PGHOST: 'pg' }), 'app').host, 'pg');
    assert.throws(
      () => resolveTarget(cfg({}), v({}), 'app'),
      /no database host: set backend\.host or backend\.hostKey, or give the Secret a host key/,
    );
    assert.throws(
      () => resolveTarget(cfg({ hostKey: 'PGHOST' }), v({}), 'app'),
      /backend\.hostKey names key PGHOST, which the Secret does not have/,
    );
    assert.throws(
      () => resolveTarget(cfg({ host: 'h' }), v({ port: 'fifty' }), 'app'),
      /the Secret's key port \(backend\.port\) does not hold a valid port/,
    );
    assert.throws(
      () => resolveTarget(cfg({ host: 'h', sslRootCertKey: 'ca.crt' }), v({}), 'app'),
      /backend\.sslRootCertKey names key ca\.crt/,
    );
  });

  it('tells transient connection problems from refusals', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN', '08006', '57P03', '53300'])
      assert.equal(isTransientPgError({ code }), true, code);
    assert.equal(isTransientPgError(new Error('Connection terminated due to connection timeout')), true);
    for (const code of ['28P01', '42501', '42601', undefined])
      assert.equal(isTransientPgError({ code, message: 'x' }), false, String(code));
    assert.equal(isAuthFailure({ code: '28P01' }), true);
    assert.equal(isAuthFailure({ code: '42501' }), false);
  });
});
