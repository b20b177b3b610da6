import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createLogger, MemorySink } from '../../../../../shared/log/index.js';
import { type MysqlBackendConfig, parseMysqlConfig } from '../../../../../shared/rotate/backends/mysql/config.js';
import {
  isTransientMysqlError,
  isVerified,
  type MysqlTarget,
  mysqlErrorText,
  resolveMysqlTarget,
  sslOptions,
  withMysql,
} from '../../../../../shared/rotate/backends/mysql/connection.js';
import { mysqlBackend } from '../../../../../shared/rotate/backends/mysql/mysql-backend.js';
import { account, nativePasswordHash, passwordLiteral, regrant } from '../../../../../shared/rotate/backends/mysql/sql.js';
import { withoutQuotedValues } from '../../../../../shared/rotate/backends/server-message.js';
import { systemClock } from '../../../../../shared/runtime/clock.js';
import { backendStepContext } from '../step-context.js';

const configOf = (raw: Record<string, unknown>): MysqlBackendConfig => {
  const parsed = parseMysqlConfig(raw);
  assert.ok('config' in parsed, JSON.stringify(parsed));
  return parsed.config;
};

describe('shared/rotate/backends/mysql: hashes, statements and settings', () => {
  it('computes the mysql_native_password hash as the server does', () => {
    // MySQL reference manual, "Password Hashing in MySQL": PASSWORD('password') (4.1 format);
    // the job tests check the hash against what MariaDB stores for a generated password.
    const registered: string[] = [];

    const hash = nativePasswordHash('password', (v) => registered.push(v));

    assert.equal(hash, '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
    assert.deepEqual(registered, [hash], 'handed to the redactor as it is computed');
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

/** A length-encoded string (MySQL protocol, "Basic Data Types"), for strings under 251 bytes. */
const lenenc = (text: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(text)]), Buffer.from(text, 'utf8')]);

/** Protocol::EOF_Packet. */
const eof = (): Buffer => Buffer.from([0xfe, 0, 0, 2, 0]);

/** Protocol::ERR_Packet: 0xFF, error code, `#` and the SQLSTATE, the message. */
const errPacket = (errno: number, sqlState: string, message: string): Buffer => {
  const code = Buffer.alloc(2);
  code.writeUInt16LE(errno);
  return Buffer.concat([Buffer.from([0xff]), code, Buffer.from(`#${sqlState}`, 'latin1'), Buffer.from(message, 'utf8')]);
};

/** A one-column text result set: column count, ColumnDefinition41, EOF, one row per value, EOF. */
function resultSet(column: string, values: string[]): Buffer[] {
  const definition = Buffer.concat([
    ...['def', '', '', '', column, ''].map(lenenc),
    Buffer.from([0x0c, 33, 0, 255, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0]),
  ]);
  return [Buffer.from([1]), definition, eof(), ...values.map(lenenc), eof()];
}

type Answer = { rows: { column: string; values: string[] } } | { error: { errno: number; sqlState: string; message: string } };

/**
 * A server that lets any login in (an OK packet after the client's handshake response, no TLS)
 * and answers each COM_QUERY with `answer(query)`: a result set or an error of its choosing.
 * With `login`, it refuses every login with that error instead. Records the queries it received.
 */
async function scriptedServer(
  answer: (query: string) => Answer,
  login?: { errno: number; sqlState: string; message: string },
): Promise<{ port: number; queries: string[]; close(): void }> {
  const queries: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let loggedIn = false;
    sock.on('data', (d) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUIntLE(0, 3)) {
        const payload = buffered.subarray(4, 4 + buffered.readUIntLE(0, 3));
        buffered = buffered.subarray(4 + payload.length);
        if (!loggedIn) {
          loggedIn = true;
          sock.write(packet(2, login ? errPacket(login.errno, login.sqlState, login.message) : Buffer.from([0, 0, 0, 2, 0, 0, 0])));
        } else if (payload[0] === 0x03) {
          const query = payload.subarray(1).toString('utf8');
          queries.push(query);
          const a = answer(query);
          const packets =
            'rows' in a ? resultSet(a.rows.column, a.rows.values) : [errPacket(a.error.errno, a.error.sqlState, a.error.message)];
          sock.write(Buffer.concat(packets.map((p, i) => packet(i + 1, p))));
        }
      }
    });
    sock.write(packet(0, greeting('mysql_native_password', false)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    queries,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('shared/rotate/backends/mysql: what a hostile server says back', () => {
  const CANARY = 'CANARY-value-7Qx';

  it('cuts quoted values from server messages, keeping the words outside them', () => {
    // Shapes of MariaDB's messages (sql/share/errmsg-utf8.txt): ER_DUP_ENTRY "Duplicate entry '%-.192T'
    // for key %d", ER_TRUNCATED_WRONG_VALUE_FOR_FIELD "Incorrect %-.32s value: '%-.128T' for column
    // %`s.%`s.%`s at row %lu", ER_PARSE_ERROR "%s near '%-.80T' at line %d". A value keeps its own
    // quotes, and %T truncates, so a fragment may be unbalanced.
    const cases: Array<[string, string]> = [
      [`Duplicate entry '${CANARY}' for key 'PRIMARY'`, "Duplicate entry '…'"],
      [
        `Incorrect integer value: '${CANARY}' for column \`shop\`.\`t\`.\`n\` at row 1`,
        "Incorrect integer value: '…' for column `shop`.`t`.`n` at row 1",
      ],
      [
        `You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'PASSWORD = '${CANARY}'' at line 1`,
        "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '…' at line 1",
      ],
      [`Duplicate entry 'a' for key '${CANARY}`, "Duplicate entry '…"],
      [`Incorrect value: '${CANARY}`, "Incorrect value: '…"],
      [`Duplicate entry '${CANARY.slice(0, 5)}' x '${CANARY.slice(5)}' for key 'PRIMARY'`, "Duplicate entry '…'"],
      ['Lock wait timeout exceeded; try restarting transaction', 'Lock wait timeout exceeded; try restarting transaction'],
    ];
    for (const [message, expected] of cases) {
      const text = withoutQuotedValues(message);

      assert.equal(text, expected, message);
      assert.ok(!text.includes(CANARY.slice(0, 6)) && !text.includes(CANARY.slice(5)), message);
    }
  });

  it('names the error code, errno and SQLSTATE after the cut message', () => {
    const e = Object.assign(new Error(`Duplicate entry '${CANARY}' for key 'PRIMARY'`), {
      code: 'ER_DUP_ENTRY',
      errno: 1062,
      sqlState: '23000',
    });

    assert.equal(mysqlErrorText(e), "Duplicate entry '…' (ER_DUP_ENTRY 1062, SQLSTATE 23000)");
  });

  const config = (port: number, raw: Record<string, unknown> = {}) =>
    configOf({ host: '127.0.0.1', port, sslmode: 'disable', connectAttempts: 1, ...raw });

  const stepContext = (port: number, raw: Record<string, unknown>, password: string) => backendStepContext(config(port, raw), password);

  it('a failing test query: the error names the account, the code and SQLSTATE, not the value the server quoted', async () => {
    const server = await scriptedServer((q) =>
      q.startsWith('SELECT CURRENT_USER()')
        ? { rows: { column: 'u', values: ['app@%'] } }
        : { error: { errno: 1062, sqlState: '23000', message: `Duplicate entry '${CANARY}' for key 'PRIMARY'` } },
    );
    try {
      const { ctx } = stepContext(server.port, { testQuery: 'SELECT secret FROM vault' }, 'pending-password-1');

      const e = await mysqlBackend.test!(ctx).then(
        () => assert.fail('the test step must fail'),
        (err: Error) => err,
      );

      assert.equal(e.message, "backend.testQuery failed as account app: Duplicate entry '…' (ER_DUP_ENTRY 1062, SQLSTATE 23000)");
      assert.deepEqual(server.queries, ['SELECT CURRENT_USER() AS u', 'SELECT secret FROM vault']);
    } finally {
      server.close();
    }
  });

  // mysql2 keeps the server's message, and the statement it sent, on its error (message, sqlMessage,
  // sql, stack), and the logger prints an error's cause chain: a wrapper keeping that error as its
  // cause would log the value the server quoted, whatever its own message says.
  const leaks = (text: string) => text.includes(CANARY.slice(0, 6)) || text.includes(CANARY.slice(5));
  /** Every error of the cause chain: its message, stack and own fields, as text. */
  const chainText = (e: unknown): string[] => {
    const texts: string[] = [];
    for (let c: unknown = e; c instanceof Error; c = c.cause) {
      texts.push(c.message, c.stack ?? '', JSON.stringify(Object.fromEntries(Object.entries(c))));
    }
    return texts;
  };
  const echoes: Array<{
    name: string;
    step: 'test' | 'set';
    login?: boolean;
    errno: number;
    sqlState: string;
    message: string;
    expected: RegExp;
  }> = [
    {
      name: 'ER_DUP_ENTRY on the test query',
      step: 'test',
      errno: 1062,
      sqlState: '23000',
      message: `Duplicate entry '${CANARY}' for key 'PRIMARY'`,
      expected: /^backend\.testQuery failed as account app: Duplicate entry '…' \(ER_DUP_ENTRY 1062, SQLSTATE 23000\)$/,
    },
    {
      name: 'ER_PARSE_ERROR quoting the statement on step set',
      step: 'set',
      errno: 1064,
      sqlState: '42000',
      message: `You have an error in your SQL syntax; check the manual for the right syntax to use near '${CANARY}' at line 1`,
      expected:
        /^step set: database 127\.0\.0\.1:\d+, account app: You have an error in your SQL syntax; check the manual for the right syntax to use near '…' at line 1 \(ER_PARSE_ERROR 1064, SQLSTATE 42000\)$/,
    },
    {
      name: 'ER_ACCESS_DENIED_ERROR on the login of step test',
      step: 'test',
      login: true,
      errno: 1045,
      sqlState: '28000',
      message: `Access denied for user '${CANARY}'@'localhost' (using password: YES)`,
      expected:
        /^account app at 127\.0\.0\.1:\d+ refused the pending password: Access denied for user '…' \(using password: YES\) \(ER_ACCESS_DENIED_ERROR 1045, SQLSTATE 28000\)$/,
    },
  ];
  for (const tc of echoes) {
    it(`${tc.name}: the value quoted is in no error, cause, stack or log line`, async () => {
      const error = { errno: tc.errno, sqlState: tc.sqlState, message: tc.message };
      const server = await scriptedServer(
        (q) =>
          q.startsWith('SELECT CURRENT_USER()')
            ? { rows: { column: 'u', values: ['app@%'] } }
            : q.startsWith('SELECT VERSION()')
              ? { rows: { column: 'v', values: ['10.11.6-MariaDB'] } }
              : { error },
        tc.login ? error : undefined,
      );
      try {
        const { ctx, sink } = stepContext(server.port, { testQuery: 'SELECT secret FROM vault' }, 'pending-password-1');

        const e = await (tc.step === 'test' ? mysqlBackend.test!(ctx) : mysqlBackend.set(ctx)).then(
          () => assert.fail(`the ${tc.step} step must fail`),
          (err: Error) => err,
        );
        ctx.log.error({ err: e }, `step ${tc.step} failed`);

        assert.match(e.message, tc.expected);
        for (const text of chainText(e)) assert.ok(!leaks(text), text);
        assert.ok(sink.lines.length > 0, 'the failure was logged');
        for (const line of sink.lines) assert.ok(!leaks(line), line);
      } finally {
        server.close();
      }
    });
  }

  it('MariaDB: the mysql_native_password hash sent in SET PASSWORD is registered, so an echo of it is redacted', async () => {
    const PASSWORD = 'pending-password-1';
    const hash = nativePasswordHash(PASSWORD, () => {});
    // A server that echoes the statement outside quotes (the quote cut cannot help): the redactor must.
    const server = await scriptedServer((q) =>
      q.startsWith('SELECT VERSION()')
        ? { rows: { column: 'v', values: ['10.11.6-MariaDB'] } }
        : { error: { errno: 1064, sqlState: '42000', message: `statement refused: ${q.replaceAll("'", '')}` } },
    );
    try {
      const { ctx, redactor, sink } = stepContext(server.port, {}, PASSWORD);

      const e = await mysqlBackend.set(ctx).then(
        () => assert.fail('the set step must fail'),
        (err: Error) => err,
      );
      ctx.log.error({ err: e }, 'step set failed');

      assert.ok(server.queries.includes(`SET PASSWORD = '${hash}'`), server.queries.join('\n'));
      assert.ok(e.message.includes(hash), 'the server echoed the hash: the redactor is what must hide it');
      assert.ok(!redactor.sanitize(e.message).includes(hash), 'an error report of it is redacted');
      assert.ok(sink.lines.length > 0 && sink.lines.every((l) => !l.includes(hash)), sink.lines.join(''));
    } finally {
      server.close();
    }
  });
});
