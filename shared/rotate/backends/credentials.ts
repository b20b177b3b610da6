import type { SecretReference } from '../allow-references.js';
import type { BackendPrepareContext, BackendStepContext } from '../backend.js';
import { adminHostProblem } from './admin-hosts.js';
import type { AdminSecretRef } from './database-config.js';

/**
 * What the database rotation backends (postgresql, mysql) share about credentials: reading
 * them from a Secret's values, the admin credential of alternating-users, and the pair of
 * users that strategy switches between. The database-specific parts (which user names are
 * valid, what the user is called) are parameters.
 */

/** A login: user name and password, as the Secret holds them. */
export interface Credential {
  user: string;
  password: string;
}

/** The configuration fields every database backend has. */
export interface CredentialKeys {
  usernameKey: string;
  passwordKey: string;
  admin?: AdminSecretRef;
}

export const CLONE_SUFFIX = '_clone';

/** The user an alternating-users Secret switches to from `user`. */
export function alternateRole(user: string): { base: string; next: string } {
  const base = user.endsWith(CLONE_SUFFIX) && user.length > CLONE_SUFFIX.length ? user.slice(0, -CLONE_SUFFIX.length) : user;
  return { base, next: user === base ? `${base}${CLONE_SUFFIX}` : base };
}

function text(values: ReadonlyMap<string, Buffer>, key: string, which: string): string {
  const v = values.get(key);
  if (v === undefined) throw new Error(`the ${which} values have no ${key} key`);
  return v.toString('utf8');
}

/**
 * The credential in `values` (`which`: current or pending), its user name checked by
 * `nameProblem` (the database's rule for a user name; a reason, or undefined when valid).
 */
export function credentialOf(
  values: ReadonlyMap<string, Buffer>,
  config: CredentialKeys,
  which: string,
  nameProblem: (user: string) => string | undefined,
): Credential {
  const user = text(values, config.usernameKey, which);
  const problem = nameProblem(user);
  if (problem !== undefined) throw new Error(`the ${which} ${config.usernameKey} ${problem}`);
  return { user, password: text(values, config.passwordKey, which) };
}

/**
 * The admin credential (`backend.adminSecretRef`), read only when its Secret allows `host`
 * (admin-hosts.ts); its password is registered with the redactor.
 */
export async function adminCredential(ctx: BackendStepContext<CredentialKeys>, host: string): Promise<Credential> {
  const admin = ctx.config.admin!;
  const where = `Secret ${ctx.namespace}/${admin.secretName} (backend.adminSecretRef)`;
  const data = await ctx.readSecret(admin.secretName, 'admin');
  if (data === undefined) throw new Error(`${where} does not exist`);
  const hostProblem = adminHostProblem(data, host, where);
  if (hostProblem !== undefined) throw new Error(`${hostProblem}; nothing was sent`);
  const user = data.get(admin.usernameKey);
  const password = data.get(admin.passwordKey);
  if (user === undefined) throw new Error(`${where} has no ${admin.usernameKey} key (backend.adminSecretRef.usernameKey)`);
  if (password === undefined) throw new Error(`${where} has no ${admin.passwordKey} key (backend.adminSecretRef.passwordKey)`);
  ctx.register(password);
  return { user: user.toString('utf8'), password: password.toString('utf8') };
}

/**
 * The base user of the pair alternating-users switches between, once `pending.user` is
 * checked to be one of the pair that `current.user` belongs to.
 */
export function alternatingBase(current: Credential, pending: Credential, config: CredentialKeys): string {
  const { base } = alternateRole(current.user);
  if (pending.user !== base && pending.user !== `${base}${CLONE_SUFFIX}`) {
    throw new Error(
      `strategy alternating-users switches between ${base} and ${base}${CLONE_SUFFIX}; the pending ${config.usernameKey} is ${pending.user}`,
    );
  }
  return base;
}

/**
 * A backend's `prepare`: for alternating-users, the user name the pending values switch to.
 * `noun` names the database's user ("role", "account") in the message.
 */
export function prepareAlternateUser(
  ctx: BackendPrepareContext<CredentialKeys & { strategy: string }>,
  nameProblem: (user: string) => string | undefined,
  noun: string,
): Map<string, Buffer> {
  const { config } = ctx;
  const out = new Map<string, Buffer>();
  if (config.strategy !== 'alternating-users') return out;
  const user = ctx.current.get(config.usernameKey)?.toString('utf8');
  if (user === undefined) throw new Error(`strategy alternating-users needs the Secret's ${config.usernameKey} key (backend.usernameKey)`);
  const { next } = alternateRole(user);
  const problem = nameProblem(next);
  if (problem !== undefined) throw new Error(`the ${noun} to alternate with, ${next.slice(0, 80)}, ${problem}`);
  out.set(config.usernameKey, Buffer.from(next, 'utf8'));
  return out;
}

/** A backend's `references`: the admin Secret, when the policy names one. */
export function adminReferences(config: CredentialKeys): SecretReference[] {
  return config.admin === undefined ? [] : [{ secret: config.admin.secretName, use: 'admin', path: ['adminSecretRef', 'name'] }];
}

/** What a database backend tells the shared steps about its logins. */
export interface LoginFailures {
  /** What the database calls a user in messages and log fields: "role", "account". */
  noun: 'role' | 'account';
  /** The database, as messages name it (never a password). */
  database: string;
  /** True when the server refused the credential (not: unreachable, TLS, ...). */
  isAuthFailure(e: unknown): boolean;
  /** The server's error, safe to print. */
  errorText(e: unknown): string;
}

/**
 * single-user's step set: `change` logs in with the current credential and sets the pending
 * password; when the server refuses the current password, an earlier run may have set the
 * pending one already, which `probe` (a login with the pending credential) recognises.
 */
export async function setOwnPasswordOrRecognise(
  ctx: BackendStepContext<CredentialKeys>,
  current: Credential,
  failures: LoginFailures,
  change: () => Promise<void>,
  probe: () => Promise<void>,
): Promise<void> {
  const { noun, database } = failures;
  try {
    await change();
    ctx.log.info({ database, [noun]: current.user }, `step set: ${noun} password changed (logged in with the current password)`);
    return;
  } catch (e) {
    if (!failures.isAuthFailure(e)) throw e;
  }
  // The current password is refused: an earlier run may have set the pending one already.
  try {
    await probe();
  } catch (e) {
    if (!failures.isAuthFailure(e)) throw e;
    throw new Error(
      `${noun} ${current.user} at ${database} accepts neither the Secret's current ${ctx.config.passwordKey} nor the pending one: ${failures.errorText(e)}`,
      { cause: e },
    );
  }
  ctx.log.info({ database, [noun]: current.user }, `step set: the ${noun} already has the pending password (set by an earlier run)`);
}
