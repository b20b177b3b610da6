import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createLogger, MemorySink } from '../../../../../shared/log/index.js';
import { type MysqlBackendConfig, parseMysqlConfig } from '../../../../../shared/rotate/backends/mysql/config.js';
import {
  isTransientMysqlError,
  isVerified,
  type MysqlTarget,
  resolveMysqlTarget,
  sslOptions,
  withMysql,
} from '../../../../../shared/rotate/backends/mysql/connection.js';
import { account, nativePasswordHash, passwordLiteral, regrant } from '../../../../../shared/rotate/backends/mysql/sql.js';
import { systemClock } from '../../../../../shared/runtime/clock.js';

const configOf = (raw: Record<string, unknown>): MysqlBackendConfig => {
  const parsed = parseMysqlConfig(raw);
  assert.ok('config' in parsed, JSON.stringify(parsed));
  return parsed.config;
};

describe('shared/rotate/backends/mysql: hashes, statements and settings', () => {
  it('computes the mysql_native_password hash as the server does', () => {
    // MySQL reference manual, "Password Hashing in MySQL": PASSWORD('password') (4.1 format);
    // the job tests check the hash against what MariaDB stores for a generated password.
    assert.equal(nativePasswordHash('password'), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
  });

  it('builds account names only from characters that need no escaping', () => {
    assert.equal(account('app_clone', '%'), "'app_clone'@'%'");
    for (const bad of ["a'b", 'a b', 'a\\b', '', 'x'.repeat(81)]) assert.throws(() => account(bad, '%'), /user name/);
    assert.throws(() => account('app', "%' OR '1"), /host part/);
    assert.equal(passwordLiteral('ab-c!'), "'ab-c!'");
    for (const bad of ["a'b", 'a\\b', 'ünï']) assert.throws(() => passwordLiteral(bad), /printable ASCII without/);
  });

  it("re-addresses the base account's grants, dropping its authentication and USAGE", () => {
    const from = '`app`@`%`';
    const to = "'app_clone'@'%'";
    const lines = [
      "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'",
      'GRANT SELECT, INSERT ON `shop`.* TO `app`@`%`',
      'GRANT SELECT ON `shop`.`orders` TO `app`@`%` WITH GRANT OPTION',
      'GRANT `readers` TO `app`@`%`',
      'SET DEFAULT ROLE `readers` FOR `app`@`%`',
      'GRANT PROXY ON `x`@`%` TO `someone`@`%`',
    ];

    const { statements, skipped } = regrant(lines, from, to);

    assert.deepEqual(statements, [
      `GRANT SELECT, INSERT ON \`shop\`.* TO ${to}`,
      `GRANT SELECT ON \`shop\`.\`orders\` TO ${to} WITH GRANT OPTION`,
      `GRANT \`readers\` TO ${to}`,
      `SET DEFAULT ROLE \`readers\` FOR ${to}`,
    ]);
    assert.equal(skipped, 1);
    assert.ok(!statements.join().includes('*2470'), 'no hash is copied');
  });

  it('parses the backend fields with defaults, and reports problems with their paths', () => {
    const c = configOf({});
    assert.equal(c.strategy, 'single-user');
    assert.equal(c.accountHost, '%');
    assert.equal(c.allowPasswordWithoutVerifiedTls, false);
    const bad = parseMysqlConfig({ sslmode: 'prefer', strategy: 'alternating-users', port: 0, host: 'db', hostKey: 'h', colour: 1 });
    assert.ok('problems' in bad);
    const text = bad.problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n');
    assert.match(text, /sslmode: expected one of/);
    assert.match(text, /port: /);
    assert.match(text, /colour: unknown field/);
  });

  it('resolves TLS: verify-full by default; verify-ca needs a CA; require with a CA verifies the chain', () => {
    const values = new Map([
      ['host', Buffer.from('db.shop.svc')],
      ['ca.crt', Buffer.from('PEM')],
    ]);
    const t = resolveMysqlTarget(configOf({}), values);
    assert.deepEqual([t.host, t.port, t.sslmode, t.sslmodeDefaulted, isVerified(t)], ['db.shop.svc', 3306, 'verify-full', true, true]);
    assert.throws(() => resolveMysqlTarget(configOf({ sslmode: 'verify-ca' }), values), /verify-ca needs backend\.sslRootCertKey/);
    const cases: Array<[Partial<MysqlTarget>, unknown, boolean]> = [
      [{ sslmode: 'disable' }, undefined, false],
      [{ sslmode: 'require' }, { rejectUnauthorized: false }, false],
      [{ sslmode: 'require', ca: 'PEM' }, { ca: 'PEM', rejectUnauthorized: true, verifyIdentity: false }, true],
      [{ sslmode: 'verify-ca', ca: 'PEM' }, { ca: 'PEM', rejectUnauthorized: true, verifyIdentity: false }, true],
      // The name is checked by the backend itself (the job tests: an address the certificate does not name is refused).
      [{ sslmode: 'verify-full' }, { rejectUnauthorized: true, verifyIdentity: false }, true],
    ];
    for (const [over, ssl, verified] of cases) {
      const target = { ...t, ca: undefined, ...over } as MysqlTarget;
      assert.deepEqual(sslOptions(target), ssl, JSON.stringify(over));
      assert.equal(isVerified(target), verified, JSON.stringify(over));
    }
    assert.throws(
      () => resolveMysqlTarget(configOf({}), new Map([['host', Buffer.from('mysql://root:CANARY@db')]])),
      (e: Error) => /does not hold a valid host/.test(e.message) && !e.message.includes('CANARY'),
    );
  });

  it('retries what may pass (unreachable, lost, too many connections, shutting down), not a refused login or a bad statement', () => {
    for (const code of ['ECONNREFUSED', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ETIMEDOUT'])
      assert.equal(isTransientMysqlError({ code }), true, code);
    for (const code of ['ER_ACCESS_DENIED_ERROR', 'ER_PARSE_ERROR', 'ER_TABLEACCESS_DENIED_ERROR', 'HANDSHAKE_SSL_ERROR'])
      assert.equal(isTransientMysqlError({ code }), false, code);
  });
});

/** A MySQL packet: 3-byte length, sequence id, payload. */
const packet = (seq: number, payload: Buffer): Buffer => {
  const head = Buffer.alloc(4);
  head.writeUIntLE(payload.length, 0, 3);
  head[3] = seq;
  return Buffer.concat([head, payload]);
};

/** Protocol::HandshakeV10 (MySQL client/server protocol docs, "Connection Phase"): `plugin` as the default. */
function greeting(plugin: string, tls: boolean): Buffer {
  const CLIENT_LONG_PASSWORD = 0x1;
  const CLIENT_CONNECT_WITH_DB = 0x8;
  const CLIENT_PROTOCOL_41 = 0x200;
  const CLIENT_SSL = 0x800;
  const CLIENT_TRANSACTIONS = 0x2000;
  const CLIENT_SECURE_CONNECTION = 0x8000;
  const CLIENT_PLUGIN_AUTH = 0x80000;
  const caps =
    CLIENT_LONG_PASSWORD |
    CLIENT_CONNECT_WITH_DB |
    CLIENT_PROTOCOL_41 |
    CLIENT_TRANSACTIONS |
    CLIENT_SECURE_CONNECTION |
    CLIENT_PLUGIN_AUTH |
    (tls ? CLIENT_SSL : 0);
  const flags = Buffer.alloc(2);
  const upper = Buffer.alloc(2);
  flags.writeUInt16LE(caps & 0xffff);
  upper.writeUInt16LE(caps >>> 16);
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('8.0.0-hostile\0', 'latin1'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from('abcdefgh', 'latin1'),
    Buffer.from([0]),
    flags,
    Buffer.from([33]),
    Buffer.from([2, 0]),
    upper,
    Buffer.from([21]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0', 'latin1'),
    Buffer.from(`${plugin}\0`, 'latin1'),
  ]);
}

/** Protocol::AuthSwitchRequest: 0xFE, the plugin's name, its data. */
const authSwitch = (plugin: string) =>
  Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`, 'latin1'), Buffer.from('uvwxyzABCDEFGHIJKLMN\0')]);

/**
 * A hostile server speaking just enough of the MySQL protocol to ask for what sends the password:
 * its greeting, then, after the client's answer, an AuthSwitchRequest to `plugin`. Records every
 * byte the client sends.
 */
async function hostileServer(opts: { plugin: string; tls: boolean }): Promise<{ port: number; received(): Buffer; close(): void }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    let answered = false;
    sock.on('data', (d) => {
      chunks.push(d);
      if (!answered) {
        answered = true;
        sock.write(packet(2, authSwitch(opts.plugin)));
      }
    });
    sock.write(packet(0, greeting('mysql_native_password', opts.tls)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    received: () => Buffer.concat(chunks),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('shared/rotate/backends/mysql: what a hostile server gets', () => {
  const PASSWORD = 'CANARY-mysql-password-1';
  const deps = () => ({ clock: systemClock, log: createLogger({ sink: new MemorySink() }), signal: new AbortController().signal });

  async function attempt(server: { port: number }, raw: Record<string, unknown>): Promise<Error> {
    const config = configOf({ host: '127.0.0.1', port: server.port, connectAttempts: 1, ...raw });
    const target = resolveMysqlTarget(config, new Map());
    let caught: Error | undefined;
    try {
      await withMysql(target, { user: 'app', password: PASSWORD }, config, deps(), 'step set', (c) => c.query('SELECT 1'));
    } catch (e) {
      caught = e as Error;
    }
    assert.ok(caught, 'the connection must fail');
    assert.ok(!caught.message.includes('CANARY'));
    return caught;
  }

  const cases: Array<{ name: string; plugin: string; raw: Record<string, unknown>; error: RegExp }> = [
    {
      name: 'mysql_clear_password, even where the policy allows passwords over unverified connections',
      plugin: 'mysql_clear_password',
      raw: { sslmode: 'disable', allowPasswordWithoutVerifiedTls: true },
      error:
        /asked account app for its password in cleartext \(authentication plugin mysql_clear_password\); refused before the password was sent/,
    },
    {
      name: 'caching_sha2_password over an unverified connection',
      plugin: 'caching_sha2_password',
      raw: { sslmode: 'disable' },
      error:
        /asked account app to authenticate with caching_sha2_password, .* the connection's server is not verified \(sslmode disable\); refused before the password was sent/,
    },
    {
      name: 'sha256_password over an unverified connection',
      plugin: 'sha256_password',
      raw: { sslmode: 'disable' },
      error: /authenticate with sha256_password/,
    },
  ];
  for (const tc of cases) {
    it(`${tc.name}: refused, and the password is never sent`, async () => {
      const server = await hostileServer({ plugin: tc.plugin, tls: false });
      try {
        const e = await attempt(server, tc.raw);

        assert.match(e.message, tc.error);
        const sent = server.received();
        assert.ok(sent.length > 0, 'the client answered the greeting (with a challenge response)');
        assert.ok(!sent.includes(Buffer.from(PASSWORD)), 'the password is not in any byte the client sent');
      } finally {
        server.close();
      }
    });
  }

  it('a server that offers no TLS, under the default verify-full: nothing is sent at all', async () => {
    const server = await hostileServer({ plugin: 'mysql_native_password', tls: false });
    try {
      const e = await attempt(server, { sslRootCertKey: undefined });

      assert.match(
        e.message,
        /database 127\.0\.0\.1:\d+ does not offer TLS \(sslmode verify-full, the default: the policy sets none\); nothing was sent/,
      );
      assert.equal(server.received().length, 0, 'not even the account name');
    } finally {
      server.close();
    }
  });
});
