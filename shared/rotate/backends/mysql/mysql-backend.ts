import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { BackendPrepareContext, BackendStepContext, RotationBackend } from '../../backend.js';
import {
  adminCredential,
  adminReferences,
  alternatingBase,
  credentialOf,
  prepareAlternateUser,
  setOwnPasswordOrRecognise,
} from '../credentials.js';
import { type MysqlBackendConfig, mysqlConfigSchema, parseMysqlConfig } from './config.js';
import {
  describeMysqlTarget,
  isAccessDenied,
  isVerified,
  type MysqlTarget,
  mysqlErrorText,
  resolveMysqlTarget,
  withMysql,
} from './connection.js';
import { account, accountUserProblem, grantee, nativePasswordHash, passwordLiteral, regrant } from './sql.js';

/**
 * The mysql rotation backend (MariaDB; MySQL as docs/rotation-mysql.md says): the server
 * learns the new password (step set) and a login with it proves it (step test) before the
 * Secret changes. The same shape as the postgresql backend:
 *
 * - single-user: the account changes its own password (`SET PASSWORD`), logged in with the
 *   Secret's current password, or, when an earlier run already set it, recognising the pending one.
 * - alternating-users: two accounts, `'<user>'@'<accountHost>'` and `'<user>_clone'@...`. Each
 *   rotation sets a new password on the account the Secret does not name (the clone is
 *   created if missing, and given the grants of `<user>` every time, so a run stopped between
 *   the two finishes it) and switches the Secret's username and password together. The admin
 *   credential comes from adminSecretRef and goes only to a host that Secret names in its
 *   `host` key (../admin-hosts.ts, read by ../credentials.ts).
 *
 * What crosses the connection: on MariaDB, never the password: statements carry the
 * mysql_native_password hash computed here (`IDENTIFIED BY PASSWORD '*...'`). MySQL 8 has no
 * form taking that hash for its default plugin (caching_sha2_password), so on MySQL the
 * password is sent in the statement, and only over verified TLS unless the policy sets
 * `allowPasswordWithoutVerifiedTls: true`. Every statement is idempotent, so `set` may run
 * again after a crash.
 */

type Flavour = 'mariadb' | 'mysql';

async function flavourOf(c: Connection): Promise<Flavour> {
  const [rows] = await c.query<RowDataPacket[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.v ?? '')) ? 'mariadb' : 'mysql';
}

/**
 * The password part of a statement: MariaDB the hash (`PASSWORD '*...'`), MySQL the password
 * itself, which only goes over a verified connection unless the policy allows otherwise.
 */
function identifiedBy(flavour: Flavour, password: string, t: MysqlTarget, ctx: BackendStepContext<MysqlBackendConfig>): string {
  const { config } = ctx;
  if (flavour === 'mariadb') return `IDENTIFIED BY PASSWORD '${nativePasswordHash(password, ctx.register)}'`;
  if (!isVerified(t) && !config.allowPasswordWithoutVerifiedTls) {
    throw new Error(
      `database ${describeMysqlTarget(t)} is MySQL, which takes a new password only in clear (no client-computed hash for caching_sha2_password), and the connection's server is not verified (sslmode ${t.sslmode}); nothing was changed. Use sslmode verify-full (or verify-ca with backend.sslRootCertKey), or set backend.allowPasswordWithoutVerifiedTls: true where the network path is trusted`,
    );
  }
  return `IDENTIFIED BY ${passwordLiteral(password)}`;
}

/** Own password: MariaDB `SET PASSWORD = '<hash>'` (no privilege needed); MySQL `ALTER USER CURRENT_USER()`. */
async function setOwnPassword(c: Connection, password: string, t: MysqlTarget, ctx: BackendStepContext<MysqlBackendConfig>): Promise<void> {
  const flavour = await flavourOf(c);
  if (flavour === 'mariadb') await c.query(`SET PASSWORD = '${nativePasswordHash(password, ctx.register)}'`);
  else await c.query(`ALTER USER CURRENT_USER() ${identifiedBy(flavour, password, t, ctx)}`);
}

function checkPasswordText(password: string, config: MysqlBackendConfig): void {
  if (password === '') throw new Error(`the new ${config.passwordKey} is empty`);
  if (password.includes('\0')) throw new Error(`the new ${config.passwordKey} contains a NUL byte`);
}

async function singleUserSet(ctx: BackendStepContext<MysqlBackendConfig>, target: MysqlTarget): Promise<void> {
  const { config } = ctx;
  const current = credentialOf(ctx.current, config, 'current', accountUserProblem);
  const pending = credentialOf(ctx.pending, config, 'pending', accountUserProblem);
  if (current.user !== pending.user)
    throw new Error(
      `strategy single-user cannot switch ${config.usernameKey} (from ${current.user} to ${pending.user}); use alternating-users`,
    );
  checkPasswordText(pending.password, config);
  if (current.password === pending.password)
    throw new Error(`the policy does not change ${config.passwordKey}: generate it (keys.${config.passwordKey})`);
  const deps = { clock: ctx.clock, log: ctx.log, signal: ctx.signal };
  const failures = {
    noun: 'account',
    database: describeMysqlTarget(target),
    isAuthFailure: isAccessDenied,
    errorText: mysqlErrorText,
  } as const;
  await setOwnPasswordOrRecognise(
    ctx,
    current,
    failures,
    () => withMysql(target, current, config, deps, 'step set', (c) => setOwnPassword(c, pending.password, target, ctx)),
    () =>
      withMysql(target, pending, config, deps, 'step set', async (c) => {
        await c.query('SELECT 1');
      }),
  );
}

async function accountExists(c: Connection, user: string, host: string): Promise<boolean> {
  const [rows] = await c.query<RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', [user, host]);
  return rows.length > 0;
}

async function alternatingSet(ctx: BackendStepContext<MysqlBackendConfig>, target: MysqlTarget): Promise<void> {
  const { config } = ctx;
  const current = credentialOf(ctx.current, config, 'current', accountUserProblem);
  const pending = credentialOf(ctx.pending, config, 'pending', accountUserProblem);
  if (ctx.reverting) {
    ctx.log.info(
      { database: describeMysqlTarget(target), account: pending.user },
      'set back: nothing to do (alternating-users never changes the account in use)',
    );
    return;
  }
  checkPasswordText(pending.password, config);
  const base = alternatingBase(current, pending, config);
  const admin = await adminCredential(ctx, target.host);
  const deps = { clock: ctx.clock, log: ctx.log, signal: ctx.signal };
  const host = config.accountHost;
  let created = false;
  let skipped = 0;
  try {
    await withMysql(target, admin, config, deps, 'step set', async (c) => {
      const flavour = await flavourOf(c);
      const auth = identifiedBy(flavour, pending.password, target, ctx);
      if (await accountExists(c, pending.user, host)) {
        await c.query(`ALTER USER ${account(pending.user, host)} ${auth}`);
      } else {
        if (pending.user === base) throw new Error(`account ${account(base, host)} does not exist at ${describeMysqlTarget(target)}`);
        if (!(await accountExists(c, base, host)))
          throw new Error(
            `account ${account(base, host)} does not exist at ${describeMysqlTarget(target)}, so ${pending.user} cannot be made from it`,
          );
        await c.query(`CREATE USER IF NOT EXISTS ${account(pending.user, host)} ${auth}`);
        created = true;
      }
      if (pending.user !== base) {
        // Every time, not only on creation: a run stopped after CREATE USER left the clone without them.
        const [grants] = await c.query<RowDataPacket[]>(`SHOW GRANTS FOR ${account(base, host)}`);
        const lines = grants.map((r) => String(Object.values(r)[0]));
        const re = regrant(lines, grantee(base, host), account(pending.user, host));
        skipped = re.skipped;
        for (const s of re.statements) await c.query(s);
      }
    });
  } catch (e) {
    if (isAccessDenied(e)) {
      throw new Error(
        `the admin credential of Secret ${ctx.namespace}/${config.admin!.secretName} (backend.adminSecretRef, account ${admin.user}) was refused by ${describeMysqlTarget(target)}: ${mysqlErrorText(e)}`,
        { cause: e },
      );
    }
    throw e;
  }
  if (skipped > 0)
    ctx.log.warn(
      { database: describeMysqlTarget(target), account: pending.user, skipped },
      `step set: ${skipped} line(s) of SHOW GRANTS for ${base} were not in a form that could be copied; check the grants of ${pending.user}`,
    );
  ctx.log.info(
    { database: describeMysqlTarget(target), account: pending.user, created },
    created ? `step set: account created with the grants of ${base}` : 'step set: password of the account not in use changed',
  );
}

async function testCredential(ctx: BackendStepContext<MysqlBackendConfig>): Promise<void> {
  const { config } = ctx;
  const pending = credentialOf(ctx.pending, config, 'pending', accountUserProblem);
  const target = resolveMysqlTarget(config, ctx.pending);
  const deps = { clock: ctx.clock, log: ctx.log, signal: ctx.signal };
  try {
    await withMysql(target, pending, config, deps, 'step test', async (c) => {
      const [who] = await c.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      const user = String(who[0]?.u ?? '').replace(/@[^@]*$/, '');
      if (user !== pending.user) throw new Error(`logged in as ${user}, not ${pending.user}`);
      try {
        await c.query(config.testQuery);
      } catch (e) {
        throw new Error(`backend.testQuery failed as account ${pending.user}: ${mysqlErrorText(e)}`, { cause: e });
      }
    });
  } catch (e) {
    if (isAccessDenied(e))
      throw new Error(
        `account ${pending.user} at ${describeMysqlTarget(target)} refused the pending ${config.passwordKey}: ${mysqlErrorText(e)}`,
        { cause: e },
      );
    throw e;
  }
  ctx.log.info(
    { database: describeMysqlTarget(target), account: pending.user },
    'step test: logged in with the pending credential and ran the test query',
  );
}

export const mysqlBackend: RotationBackend<MysqlBackendConfig> = {
  name: 'mysql',
  parseConfig: parseMysqlConfig,
  configSchema: mysqlConfigSchema,
  references: adminReferences,
  prepare: (ctx: BackendPrepareContext<MysqlBackendConfig>) => prepareAlternateUser(ctx, accountUserProblem, 'account'),
  async set(ctx) {
    const target = resolveMysqlTarget(ctx.config, ctx.pending);
    if (ctx.config.strategy === 'single-user') await singleUserSet(ctx, target);
    else await alternatingSet(ctx, target);
  },
  test: testCredential,
};
