import { isIP } from 'node:net';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../../config/options.js';
import { isDnsSubdomain } from '../../kube/object-names.js';
import { isValidDataKey, type SpecProblem } from '../generators/generator.js';

/**
 * The `backend` fields every database rotation backend (postgresql, mysql) has, checked the
 * same way; each backend's schema adds its own fields and names its user ("role", "account").
 */

/** A DNS host name (RFC 1123 labels; service names such as db.shop.svc included). */
export function isHostName(t: string): boolean {
  return (
    t.length <= 253 &&
    /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/.test(t) &&
    t.split('.').every((l) => l.length <= 63)
  );
}

/** A connection setting: a fixed value, or the Secret key that holds it. */
export type Setting<T> = { value: T } | { key: string; optional: boolean };

/** A data key of a Secret, in a backend's schema. */
export const dataKey = z.string().refine(isValidDataKey, 'is not a valid data key (letters, digits, "-", "_", ".")');

/** A connection setting from the policy's `<field>` or `<field>Key`, else the Secret's `defaultKey` when it has one. */
export function setting<T>(raw: Record<string, unknown>, field: string, defaultKey: string, problems: SpecProblem[]): Setting<T> {
  const value = raw[field] as T | undefined;
  const key = raw[`${field}Key`] as string | undefined;
  if (value !== undefined && key !== undefined) problems.push({ path: [`${field}Key`], message: `give ${field} or ${field}Key, not both` });
  if (value !== undefined) return { value };
  return key !== undefined ? { key, optional: false } : { key: defaultKey, optional: true };
}

/** The value of a connection setting for one rotation: the policy's, or the Secret key's parsed; `field` names it in errors. */
export function readSetting<T>(
  s: Setting<T>,
  values: ReadonlyMap<string, Buffer>,
  field: string,
  parse: (text: string) => T | undefined,
): T | undefined {
  if ('value' in s) return s.value;
  const raw = values.get(s.key);
  if (raw === undefined) {
    if (s.optional) return undefined;
    throw new Error(`backend.${field}Key names key ${s.key}, which the Secret does not have`);
  }
  const v = parse(raw.toString('utf8').trim());
  if (v === undefined)
    throw new Error(`the Secret's key ${s.key} (backend.${field}${s.optional ? '' : 'Key'}) does not hold a valid ${field}`);
  return v;
}

/** A backend schema's issues as policy problems (paths relative to `backend`). */
export function zodProblems(error: z.ZodError): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys')
      for (const k of issue.keys) problems.push({ path: [...issue.path.map(String), k], message: 'unknown field' });
    else
      problems.push({
        path: issue.path.map((p) => (typeof p === 'number' ? p : String(p))),
        message: issue.message.replace(/^Invalid (input|option): /, ''),
      });
  }
  return problems;
}

/** Where the admin credential of alternating-users lives (`backend.adminSecretRef`). */
export interface AdminSecretRef {
  secretName: string;
  usernameKey: string;
  passwordKey: string;
}

/** `backend.host`: a host name or an IP address. */
export const hostField = z
  .string()
  .refine((t) => isIP(t) !== 0 || isHostName(t), 'expected a host name or an IP address')
  .optional();

/** `backend.adminSecretRef`: the Secret (same namespace) holding the admin credential of alternating-users. */
export const adminSecretRefField = z
  .strictObject({
    name: z.string().refine(isDnsSubdomain, 'is not a valid Secret name'),
    usernameKey: dataKey.default('username'),
    passwordKey: dataKey.default('password'),
  })
  .optional();

/** The schema output of the shared fields. */
interface SharedParsed {
  strategy: 'single-user' | 'alternating-users';
  sslRootCertKey?: string;
  usernameKey: string;
  passwordKey: string;
  adminSecretRef?: { name: string; usernameKey: string; passwordKey: string };
  testQuery: string;
  connectTimeout: string;
  connectAttempts: number;
}

/** The shared fields of a database backend's configuration, as `databaseConfigFields` returns them. */
export interface DatabaseConfigFields<S> {
  strategy: 'single-user' | 'alternating-users';
  host: Setting<string>;
  port: Setting<number>;
  database: Setting<string>;
  sslmode: Setting<S>;
  sslRootCertKey?: string;
  usernameKey: string;
  passwordKey: string;
  admin?: AdminSecretRef;
  testQuery: string;
  connectTimeoutMs: number;
  connectAttempts: number;
}

/**
 * Checks the shared fields of a parsed `backend` (`p`, the schema's output with its raw
 * `<field>`/`<field>Key` pairs) and returns them; every problem is added to `problems`.
 * `user` names the database's user in messages ("role"); `adminCan` says what the admin
 * credential must be able to do ("a role that may create and alter roles").
 */
export function databaseConfigFields<S>(
  p: SharedParsed & Record<string, unknown>,
  problems: SpecProblem[],
  user: string,
  adminCan: string,
): DatabaseConfigFields<S> {
  const connectTimeoutMs = parseDuration(p.connectTimeout);
  if (connectTimeoutMs === undefined || connectTimeoutMs < 1000 || connectTimeoutMs > 300_000) {
    problems.push({
      path: ['connectTimeout'],
      message: `expected a duration between ${formatDuration(1000)} and ${formatDuration(300_000)}, such as 10s`,
    });
  }
  if (p.strategy === 'alternating-users' && p.adminSecretRef === undefined) {
    problems.push({ path: ['adminSecretRef'], message: `is required for strategy alternating-users (a Secret with ${adminCan})` });
  }
  if (p.strategy === 'single-user' && p.adminSecretRef !== undefined) {
    problems.push({
      path: ['adminSecretRef'],
      message: `is only used by strategy alternating-users (single-user logs in as the ${user} itself)`,
    });
  }
  if (p.usernameKey === p.passwordKey) problems.push({ path: ['passwordKey'], message: 'must differ from usernameKey' });
  return {
    strategy: p.strategy,
    host: setting(p, 'host', 'host', problems),
    port: setting(p, 'port', 'port', problems),
    database: setting(p, 'database', 'database', problems),
    sslmode: setting(p, 'sslmode', 'sslmode', problems),
    sslRootCertKey: p.sslRootCertKey,
    usernameKey: p.usernameKey,
    passwordKey: p.passwordKey,
    admin: p.adminSecretRef && {
      secretName: p.adminSecretRef.name,
      usernameKey: p.adminSecretRef.usernameKey,
      passwordKey: p.adminSecretRef.passwordKey,
    },
    testQuery: p.testQuery,
    connectTimeoutMs: connectTimeoutMs ?? 10_000,
    connectAttempts: p.connectAttempts,
  };
}
