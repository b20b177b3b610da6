import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createLogger, MemorySink } from '../../../../../shared/log/index.js';
import { alternateRole } from '../../../../../shared/rotate/backends/credentials.js';
import { type PgBackendConfig, parsePgConfig } from '../../../../../shared/rotate/backends/postgresql/config.js';
import {
  DEFAULT_SSLMODE,
  isAuthFailure,
  isTransientPgError,
  type PgTarget,
  pgErrorText,
  resolveTarget,
  sslAttempts,
  tlsFailure,
  withDatabase,
} from '../../../../../shared/rotate/backends/postgresql/connection.js';
import { postgresqlBackend } from '../../../../../shared/rotate/backends/postgresql/postgresql-backend.js';
import { isScramSafe, scramSha256Verifier } from '../../../../../shared/rotate/backends/postgresql/scram.js';
import { quoteIdent, quoteLiteral, roleNameProblem } from '../../../../../shared/rotate/backends/postgresql/sql.js';
import { systemClock } from '../../../../../shared/runtime/clock.js';
import { type PgTestServer, startPostgres } from '../../../../support/postgres-server.js';
import { backendStepContext } from '../step-context.js';

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

  it('a failing test query: the error names the role and SQLSTATE, not the value PostgreSQL quoted back', async () => {
    const CANARY = 'CANARY-value-7Qx';
    await pg.sql(`CREATE ROLE app LOGIN PASSWORD ${quoteLiteral(scramSha256Verifier('pending-password-1'))}`);
    await pg.sql('CREATE DATABASE shop');
    const { ctx, sink } = stepContext(
      pg.port,
      { host: pg.host, sslmode: 'require', testQuery: `SELECT '${CANARY}'::int` },
      'pending-password-1',
    );

    const e = await postgresqlBackend.test!(ctx).then(
      () => assert.fail('the test step must fail'),
      (err: Error) => err,
    );
    ctx.log.error({ err: e }, 'step test failed');

    assert.equal(e.message, 'backend.testQuery failed as role app: invalid input syntax for type integer: "…" (SQLSTATE 22P02)');
    assert.ok(sink.lines.length > 0 && sink.lines.every((l) => !l.includes('CANARY')), sink.lines.join(''));
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
      sslmodeDefaulted: false,
      ca: undefined,
    });
    assert.deepEqual(resolveTarget(cfg({}), v({ host: 'h', port: '5433', sslmode: 'disable' }), 'app'), {
      host: 'h',
      port: 5433,
      database: 'app',
      sslmode: 'disable',
      sslmodeDefaulted: false,
      ca: undefined,
    });
    assert.deepEqual(resolveTarget(cfg({ host: 'h' }), v({ 'ca.crt': 'PEM' }), 'app'), {
      host: 'h',
      port: 5432,
      database: 'app',
      sslmode: 'verify-full',
      sslmodeDefaulted: true,
      ca: undefined,
    });
    assert.equal(DEFAULT_SSLMODE, 'verify-full');
    assert.throws(
      () => resolveTarget(cfg({ host: 'h', sslmode: 'verify-ca' }), v({}), 'app'),
      /sslmode verify-ca needs backend\.sslRootCertKey/,
    );
    assert.equal(
      resolveTarget(cfg({ host: 'h', sslmode: 'verify-ca', sslRootCertKey: 'ca.crt' }), v({ 'ca.crt': 'PEM' }), 'app').ca,
      'PEM',
    );
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

describe('postgresql backend: transport', () => {
  const target = (sslmode: PgTarget['sslmode'], extra: Partial<PgTarget> = {}): PgTarget => ({
    host: 'db.shop.svc',
    port: 5432,
    database: 'shop',
    sslmode,
    sslmodeDefaulted: false,
    ...extra,
  });
  /** Each attempt as plain, unverified TLS, TLS verified against the CA, or also by name. */
  const shape = (t: PgTarget) =>
    sslAttempts(t).map((ssl) => {
      if (ssl === false) return 'plain';
      const o = ssl as { rejectUnauthorized?: boolean; ca?: string; checkServerIdentity?: (h: string, c: never) => Error | undefined };
      if (o.rejectUnauthorized !== true) return 'tls-unverified';
      const ca = o.ca === undefined ? 'public CAs' : 'the CA';
      const names = o.checkServerIdentity?.('db.shop.svc', { subject: { CN: 'elsewhere' }, subjectaltname: 'DNS:elsewhere' } as never);
      return names === undefined ? `tls-verified by ${ca}, any name` : `tls-verified by ${ca} and name`;
    });

  it("connects as libpq's sslmode says; only prefer and allow ever fall back, and require with a CA verifies it", () => {
    const table: Array<[PgTarget, string[]]> = [
      [target('disable'), ['plain']],
      [target('allow'), ['plain', 'tls-unverified']],
      [target('prefer'), ['tls-unverified', 'plain']],
      [target('require'), ['tls-unverified']],
      [target('require', { ca: 'PEM' }), ['tls-verified by the CA, any name']],
      [target('verify-ca', { ca: 'PEM' }), ['tls-verified by the CA, any name']],
      [target('verify-full', { ca: 'PEM' }), ['tls-verified by the CA and name']],
      [target('verify-full'), ['tls-verified by public CAs and name']],
    ];
    for (const [t, expected] of table) assert.deepEqual(shape(t), expected, `${t.sslmode}${t.ca ? ' with a CA' : ''}`);
  });

  it('TLS failures say what to change; the default is named as such; other errors are left alone', () => {
    const noTls = tlsFailure(target('verify-full', { sslmodeDefaulted: true }), new Error('The server does not support SSL connections'));
    assert.match(noTls!.message, /^database db\.shop\.svc:5432\/shop does not offer TLS \(sslmode verify-full, the default since 0\.2\.0/);
    assert.match(noTls!.message, /add sslmode: disable to the policy's backend$/);
    const explicit = tlsFailure(target('require'), new Error('The server does not support SSL connections'));
    assert.match(explicit!.message, /\(sslmode require\); nothing was sent: .*set the policy's backend\.sslmode to disable$/);
    const name = Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    const nameFailure = tlsFailure(target('verify-full', { ca: 'PEM' }), name)!.message;
    assert.match(
      nameFailure,
      /To fix: connect by a name the certificate holds \(backend\.host\), or set sslmode: verify-ca to check the CA only$/,
    );
    const untrusted = Object.assign(
      new Error('unable to verify the first certificate; if the root CA is installed locally, try running Node.js with --use-system-ca'),
      {
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      },
    );
    const defaulted = tlsFailure(target('verify-full', { sslmodeDefaulted: true }), untrusted)!.message;
    assert.match(
      defaulted,
      /: unable to verify the first certificate; nothing was sent\. To fix: put the PEM .* backend\.sslRootCertKey; or, to encrypt without verifying the server .*add sslmode: require$/,
    );
    assert.ok(!defaulted.includes('--use-system-ca'));
    for (const other of [Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), Object.assign(new Error('x'), { code: '28P01' })])
      assert.equal(tlsFailure(target('verify-full'), other), undefined);
  });
});

/**
 * A hostile server speaking just enough of the PostgreSQL protocol to ask for what a real
 * server would not combine (SCRAM, then cleartext; AuthenticationOk without SCRAM's final
 * message), recording the type of every message the real pg client sends back.
 */
async function hostileServer(script: (sent: string[]) => Buffer[] | undefined): Promise<{ port: number; sent: string[]; close(): void }> {
  const sent: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    let buf = Buffer.alloc(0);
    let started = false;
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (!started) {
          if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
          buf = buf.subarray(buf.readInt32BE(0));
          started = true;
        } else {
          if (buf.length < 5 || buf.length < 1 + buf.readInt32BE(1)) return;
          sent.push(buf.toString('latin1', 0, 1));
          buf = buf.subarray(1 + buf.readInt32BE(1));
        }
        for (const out of script(sent) ?? []) sock.write(out);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    sent,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const R = (code: number, extra: Buffer = Buffer.alloc(0)) => {
  const body = Buffer.alloc(4);
  body.writeInt32BE(code);
  return { type: 'R', body: Buffer.concat([body, extra]) };
};

describe('postgresql backend: what a hostile server gets', () => {
  const wire = ({ type, body }: { type: string; body: Buffer }) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const ok = wire(R(0));
  const ready = wire({ type: 'Z', body: Buffer.from('I') });
  const cleartext = wire(R(3));
  const md5 = wire(R(5, Buffer.from([1, 2, 3, 4])));
  const sasl = wire(R(10, Buffer.from('SCRAM-SHA-256\0\0', 'latin1')));

  const cases: Array<{ name: string; script: (sent: string[]) => Buffer[] | undefined; error: RegExp; sent: string[] }> = [
    { name: 'cleartext', script: (sent) => (sent.length === 0 ? [cleartext] : undefined), error: /in cleartext/, sent: [] },
    { name: 'MD5', script: (sent) => (sent.length === 0 ? [md5] : undefined), error: /an MD5 password hash/, sent: [] },
    { name: 'trust', script: (sent) => (sent.length === 0 ? [ok, ready] : undefined), error: /without a SCRAM-SHA-256 exchange/, sent: [] },
    {
      name: 'SCRAM started, then AuthenticationOk without the final message',
      script: (sent) => (sent.length === 0 ? [sasl] : sent.length === 1 ? [ok, ready] : undefined),
      error: /without a SCRAM-SHA-256 exchange/,
      sent: ['p'],
    },
    {
      name: 'SCRAM started, then cleartext',
      script: (sent) => (sent.length === 0 ? [sasl] : sent.length === 1 ? [cleartext] : undefined),
      error: /in cleartext/,
      sent: ['p'],
    },
  ];
  for (const tc of cases) {
    it(`${tc.name}: refused, and neither a password nor a statement is sent`, async () => {
      const server = await hostileServer(tc.script);
      const config = (
        parsePgConfig({ host: '127.0.0.1', port: server.port, sslmode: 'disable', connectAttempts: 1 }) as { config: PgBackendConfig }
      ).config;
      const target = resolveTarget(config, new Map(), 'app');
      const deps = { clock: systemClock, log: createLogger({ sink: new MemorySink() }), signal: new AbortController().signal };
      try {
        await assert.rejects(
          withDatabase(target, { user: 'app', password: 'CANARY-password-1' }, config, deps, 'step set', (c) => c.query('SELECT 1')),
          (e: Error) => tc.error.test(e.message) && !e.message.includes('CANARY'),
        );
      } finally {
        server.close();
      }

      assert.deepEqual(
        server.sent.filter((t) => t !== 'X'),
        tc.sent,
        'only a SASLInitialResponse (a nonce), if anything, before the client left',
      );
    });
  }
});

/** A step's context for role `app` at 127.0.0.1:`port`, database shop, without TLS (step-context.ts). */
function stepContext(port: number, raw: Record<string, unknown>, password: string) {
  const parsed = parsePgConfig({ host: '127.0.0.1', port, database: 'shop', sslmode: 'disable', connectAttempts: 1, ...raw });
  assert.ok('config' in parsed, JSON.stringify(parsed));
  return backendStepContext(parsed.config, password);
}

describe('postgresql backend: what a hostile server says back', () => {
  const CANARY = 'CANARY-value-7Qx';
  const leaks = (text: string) => text.includes(CANARY.slice(0, 6)) || text.includes(CANARY.slice(5));

  it('cuts quoted values from server messages, keeping the words outside them', () => {
    // Shapes of PostgreSQL 15's messages (src/backend/libpq/auth.c auth_failed, utils/init/miscinit.c
    // InitializeSessionUserId, utils/adt/numutils.c pg_strtoint32, parser/scan.l scanner_yyerror,
    // utils/misc/guc.c): values in double quotes, per the error message style guide; a value keeps
    // its own quotes, and a syntax error quotes statement text that holds single quotes.
    const cases: Array<[string, string]> = [
      [`password authentication failed for user "${CANARY}"`, 'password authentication failed for user "…"'],
      [`role "${CANARY}" does not exist`, 'role "…" does not exist'],
      [`database "${CANARY}" does not exist`, 'database "…" does not exist'],
      [`invalid input syntax for type integer: "${CANARY}"`, 'invalid input syntax for type integer: "…"'],
      [`syntax error at or near "'${CANARY}'"`, 'syntax error at or near "…"'],
      [`unterminated quoted string at or near "'${CANARY}"`, 'unterminated quoted string at or near "…'],
      [`invalid value for parameter "search_path": "${CANARY}"`, 'invalid value for parameter "…"'],
      [`role "a" x "${CANARY}" y "b`, 'role "…'],
      [`value ${CANARY.slice(0, 5)}'${CANARY.slice(5)}`, `value ${CANARY.slice(0, 5)}'…`],
      ['canceling statement due to statement timeout', 'canceling statement due to statement timeout'],
    ];
    for (const [message, expected] of cases) {
      const text = pgErrorText(Object.assign(new Error(message), { code: '42000' }));

      assert.equal(text, `${expected} (SQLSTATE 42000)`, message);
      if (message !== cases[8][0]) assert.ok(!leaks(text), message);
    }
  });

  /** An ErrorResponse (PostgreSQL protocol, "Message Formats"): severity, SQLSTATE, message. */
  const errorResponse = (code: string, message: string) => {
    const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
    const head = Buffer.alloc(5);
    head.write('E', 0, 'latin1');
    head.writeInt32BE(fields.length + 4, 1);
    return Buffer.concat([head, fields]);
  };

  const cases: Array<{ code: string; message: string; error: string }> = [
    {
      code: '28P01',
      message: `password authentication failed for user "${CANARY}"`,
      error: 'role app at 127.0.0.1:PORT/shop refused the pending password: password authentication failed for user "…" (SQLSTATE 28P01)',
    },
    {
      code: '3D000',
      message: `database "${CANARY}" does not exist`,
      error: 'step test: database 127.0.0.1:PORT/shop, role app: database "…" does not exist (SQLSTATE 3D000)',
    },
    {
      code: '28000',
      message: `role "${CANARY}" does not exist`,
      error: 'role app at 127.0.0.1:PORT/shop refused the pending password: role "…" does not exist (SQLSTATE 28000)',
    },
  ];
  for (const tc of cases) {
    it(`step test, the server answers the login with ${tc.code}: the error names our role and database, not the value it quoted`, async () => {
      const server = await hostileServer((sent) => (sent.length === 0 ? [errorResponse(tc.code, tc.message)] : undefined));
      const { ctx, sink } = stepContext(server.port, {}, 'pending-password-1');
      let e: Error;
      try {
        e = await postgresqlBackend.test!(ctx).then(
          () => assert.fail('the test step must fail'),
          (err: Error) => err,
        );
      } finally {
        server.close();
      }
      ctx.log.error({ err: e }, 'step test failed');

      assert.equal(e.message, tc.error.replace('PORT', String(server.port)));
      assert.ok(!leaks(e.message) && !leaks(e.stack ?? ''), e.stack);
      assert.ok(sink.lines.length > 0 && sink.lines.every((l) => !leaks(l)), sink.lines.join(''));
    });
  }
});
