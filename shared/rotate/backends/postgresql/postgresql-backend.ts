import type { Client } from 'pg';
import type { BackendPrepareContext, BackendStepContext, RotationBackend } from '../../backend.js';
import {
  adminCredential,
  adminReferences,
  alternatingBase,
  credentialOf,
  prepareAlternateUser,
  setOwnPasswordOrRecognise,
} from '../credentials.js';
import { type PgBackendConfig, parsePgConfig, pgConfigSchema } from './config.js';
import { describeTarget, isAuthFailure, type PgCredential, type PgTarget, pgErrorText, resolveTarget, withDatabase } from './connection.js';
import { isScramSafe, scramSha256Verifier } from './scram.js';
import { quoteIdent, quoteLiteral, roleNameProblem } from './sql.js';

/**
 * The PostgreSQL rotation backend: the database learns the new password (step set) and the
 * new credential is proven by logging in with it (step test) before the Secret changes.
 *
 * - single-user: the role changes its own password, logged in with the Secret's current
 *   password, or, when an earlier run already set it, recognising the pending one.
 * - alternating-users: two roles, `<user>` and `<user>_clone`. Each rotation sets a new
 *   password on the role the Secret does not name (created if missing, with the same
 *   memberships as `<user>` and membership in `<user>` itself, so it has its privileges)
 *   and switches the Secret's username and password together: the credential running pods
 *   hold stays valid during the rollout. The admin credential comes from adminSecretRef
 *   and goes only to a host that Secret names in its `host` key (../admin-hosts.ts).
 *
 * Passwords are sent as SCRAM-SHA-256 verifiers computed here, never in clear; role names
 * are quoted. Every statement is idempotent, so `set` may run again after a crash. Logins
 * are SCRAM-SHA-256 only, over TLS verified as sslmode says (verify-full by default):
 * connection.ts.
 */

function newPassword(cred: PgCredential, config: PgBackendConfig): string {
  if (!isScramSafe(cred.password)) {
    throw new Error(
      `the new ${config.passwordKey} must be printable ASCII (what SASLprep leaves unchanged); restrict its generator's characters`,
    );
  }
  return cred.password;
}

/** `ALTER ROLE <role> PASSWORD '<verifier>'`: the role itself, or another when logged in as admin. */
async function setPassword(client: Client, role: string | 'CURRENT_USER', password: string): Promise<void> {
  const who = role === 'CURRENT_USER' ? 'CURRENT_USER' : quoteIdent(role);
  await client.query(`ALTER ROLE ${who} PASSWORD ${quoteLiteral(scramSha256Verifier(password))}`);
}

async function singleUserSet(ctx: BackendStepContext<PgBackendConfig>, target: PgTarget): Promise<void> {
  const { config } = ctx;
  const current = credentialOf(ctx.current, config, 'current', roleNameProblem);
  const pending = credentialOf(ctx.pending, config, 'pending', roleNameProblem);
  if (current.user !== pending.user)
    throw new Error(
      `strategy single-user cannot switch ${config.usernameKey} (from ${current.user} to ${pending.user}); use alternating-users`,
    );
  const password = newPassword(pending, config);
  if (current.password === password)
    throw new Error(`the policy does not change ${config.passwordKey}: generate it (keys.${config.passwordKey})`);
  if (!ctx.reverting && !isScramSafe(current.password)) {
    // Checked before anything changes: a failed test or rollout must be able to set it back.
    throw new Error(
      `the current ${config.passwordKey} is not printable ASCII, so a failed rotation could not set it back; set an ASCII password once by hand, or use alternating-users`,
    );
  }
  const deps = { clock: ctx.clock, log: ctx.log, signal: ctx.signal };
  const failures = { noun: 'role', database: describeTarget(target), isAuthFailure, errorText: pgErrorText } as const;
  await setOwnPasswordOrRecognise(
    ctx,
    current,
    failures,
    () => withDatabase(target, current, config, deps, 'step set', (c) => setPassword(c, 'CURRENT_USER', password)),
    () =>
      withDatabase(target, pending, config, deps, 'step set', async (c) => {
        await c.query('SELECT 1');
      }),
  );
}

async function alternatingSet(ctx: BackendStepContext<PgBackendConfig>, target: PgTarget): Promise<void> {
  const { config } = ctx;
  const current = credentialOf(ctx.current, config, 'current', roleNameProblem);
  const pending = credentialOf(ctx.pending, config, 'pending', roleNameProblem);
  if (ctx.reverting) {
    // Only the role not in use was changed: the one the Secret returns to still has its password.
    ctx.log.info(
      { database: describeTarget(target), role: pending.user },
      'set back: nothing to do (alternating-users never changes the role in use)',
    );
    return;
  }
  const password = newPassword(pending, config);
  const base = alternatingBase(current, pending, config);
  const admin = await adminCredential(ctx, target.host);
  const deps = { clock: ctx.clock, log: ctx.log, signal: ctx.signal };
  let created = false;
  try {
    await withDatabase(target, admin, config, deps, 'step set', async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [pending.user]);
      if (exists.rowCount === 0) {
        if (pending.user === base) throw new Error(`role ${base} does not exist at ${describeTarget(target)}`);
        const baseRow = await c.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [base]);
        if (baseRow.rowCount === 0)
          throw new Error(`role ${base} does not exist at ${describeTarget(target)}, so ${pending.user} cannot be made from it`);
        const memberships = await c.query<{ rolname: string }>(
          'SELECT r.rolname FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1',
          [base],
        );
        await c.query('BEGIN');
        await c.query(`CREATE ROLE ${quoteIdent(pending.user)} WITH LOGIN PASSWORD ${quoteLiteral(scramSha256Verifier(password))}`);
        for (const role of [base, ...memberships.rows.map((r) => r.rolname)])
          await c.query(`GRANT ${quoteIdent(role)} TO ${quoteIdent(pending.user)}`);
        await c.query('COMMIT');
        created = true;
      } else {
        await setPassword(c, pending.user, password);
      }
    });
  } catch (e) {
    if (isAuthFailure(e)) {
      throw new Error(
        `the admin credential of Secret ${ctx.namespace}/${config.admin!.secretName} (backend.adminSecretRef, role ${admin.user}) was refused by ${describeTarget(target)}: ${pgErrorText(e)}`,
        { cause: e },
      );
    }
    throw e;
  }
  ctx.log.info(
    { database: describeTarget(target), role: pending.user, created },
    created ? `step set: role created from ${base} with its memberships` : 'step set: password of the role not in use changed',
  );
}

async function testCredential(ctx: BackendStepContext<PgBackendConfig>): Promise<void> {
  const { config } = ctx;
  const pending = credentialOf(ctx.pending, config, 'pending', roleNameProblem);
  const target = resolveTarget(config, ctx.pending, pending.user);
  const deps = { clock: ctx.clock, log: ctx.log, signal: ctx.signal };
  try {
    await withDatabase(target, pending, config, deps, 'step test', async (c) => {
      const who = await c.query<{ current_user: string }>('SELECT current_user');
      if (who.rows[0]?.current_user !== pending.user) throw new Error(`logged in as ${who.rows[0]?.current_user}, not ${pending.user}`);
      try {
        await c.query(config.testQuery);
      } catch (e) {
        throw new Error(`backend.testQuery failed as role ${pending.user}: ${pgErrorText(e)}`, { cause: e });
      }
    });
  } catch (e) {
    if (isAuthFailure(e))
      throw new Error(`role ${pending.user} at ${describeTarget(target)} refused the pending ${config.passwordKey}: ${pgErrorText(e)}`, {
        cause: e,
      });
    throw e;
  }
  ctx.log.info(
    { database: describeTarget(target), role: pending.user },
    'step test: logged in with the pending credential and ran the test query',
  );
}

/**
 * A policy that names no sslmode (no `sslmode`, no `sslmodeKey`, no `sslmode` key in the Secret)
 * and no CA gets verify-full against the public CAs since 0.2.0 (0.1.0: prefer): said by
 * `status` before the next rotation meets a server without TLS or with a private CA.
 */
export function sslmodeAdvisories(config: PgBackendConfig, dataKeys: ReadonlySet<string>): string[] {
  const s = config.sslmode;
  if ('value' in s || !s.optional || dataKeys.has(s.key) || config.sslRootCertKey !== undefined) return [];
  return [
    'backend.sslmode is not set, so the connection needs a certificate that a public CA signed for the host (verify-full; before 0.2.0 the default was prefer): for a private CA add backend.sslRootCertKey, for a server without TLS backend.sslmode: disable',
  ];
}

export const postgresqlBackend: RotationBackend<PgBackendConfig> = {
  name: 'postgresql',
  parseConfig: parsePgConfig,
  configSchema: pgConfigSchema,
  references: adminReferences,
  advisories: sslmodeAdvisories,
  prepare: (ctx: BackendPrepareContext<PgBackendConfig>) => prepareAlternateUser(ctx, roleNameProblem, 'role'),
  async set(ctx) {
    const pending = credentialOf(ctx.pending, ctx.config, 'pending', roleNameProblem);
    const target = resolveTarget(ctx.config, ctx.pending, pending.user);
    if (ctx.config.strategy === 'single-user') await singleUserSet(ctx, target);
    else await alternatingSet(ctx, target);
  },
  test: testCredential,
};
