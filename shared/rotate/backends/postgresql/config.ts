import { isIP } from 'node:net';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../../../config/options.js';
import { isDnsSubdomain } from '../../../kube/object-names.js';
import type { ParsedBackendConfig } from '../../backend.js';
import type { SpecProblem } from '../../generators/generator.js';
import { isValidDataKey } from '../../generators/generator.js';

/**
 * The policy's `backend` fields for `name: postgresql`:
 *
 * ```yaml
 * backend:
 *   name: postgresql
 *   strategy: alternating-users       # or single-user (default)
 *   host: db.shop.svc                 # or hostKey: host (a key of the Secret)
 *   port: 5432                        # or portKey
 *   database: shop                    # or databaseKey
 *   sslmode: verify-full              # the default; or sslmodeKey; sslRootCertKey: ca.crt
 *   adminSecretRef: { name: db-admin } # alternating-users only; its host key must name the host
 *   testQuery: SELECT 1 FROM orders LIMIT 1
 * ```
 *
 * A setting given neither as a field nor as `<field>Key` is read from the Secret's key of the
 * same name when it has one (`host`, `port`, `database`, `sslmode`), else its default.
 */

/** A DNS host name (RFC 1123 labels; service names such as db.shop.svc included). */
export function isHostName(t: string): boolean {
  return (
    t.length <= 253 &&
    /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/.test(t) &&
    t.split('.').every((l) => l.length <= 63)
  );
}

/** Database names we connect to: letters, digits, `_`, `-`, `.`, `$`; at most 63 bytes. */
export const DATABASE_NAME = /^[A-Za-z0-9_.$-]{1,63}$/;

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export type PgStrategy = 'single-user' | 'alternating-users';

/** A connection setting: a fixed value, or the Secret key that holds it. */
export type Setting<T> = { value: T } | { key: string; optional: boolean };

export interface PgBackendConfig {
  strategy: PgStrategy;
  host: Setting<string>;
  port: Setting<number>;
  /** Absent and no `database` key: the role's name (libpq's default). */
  database: Setting<string>;
  sslmode: Setting<SslMode>;
  /** Key of a PEM CA bundle in the Secret, for verify-ca and verify-full. */
  sslRootCertKey?: string;
  usernameKey: string;
  passwordKey: string;
  /** alternating-users: the Secret (same namespace) with a role that may create and alter roles. */
  admin?: { secretName: string; usernameKey: string; passwordKey: string };
  testQuery: string;
  connectTimeoutMs: number;
  connectAttempts: number;
}

/** A data key of a Secret, in a backend's schema. */
export const dataKey = z.string().refine(isValidDataKey, 'is not a valid data key (letters, digits, "-", "_", ".")');

/** The `backend` fields of a policy naming postgresql (without `name`); `parsePgConfig` checks the rest. */
export const pgConfigSchema = z.strictObject({
  strategy: z.enum(['single-user', 'alternating-users']).default('single-user'),
  host: z
    .string()
    .refine((t) => isIP(t) !== 0 || isHostName(t), 'expected a host name or an IP address')
    .optional(),
  hostKey: dataKey.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  portKey: dataKey.optional(),
  database: z.string().regex(DATABASE_NAME, 'expected a database name (letters, digits, _ - . $; at most 63)').optional(),
  databaseKey: dataKey.optional(),
  sslmode: z.enum(SSL_MODES).optional(),
  sslmodeKey: dataKey.optional(),
  sslRootCertKey: dataKey.optional(),
  usernameKey: dataKey.default('username'),
  passwordKey: dataKey.default('password'),
  adminSecretRef: z
    .strictObject({
      name: z.string().refine(isDnsSubdomain, 'is not a valid Secret name'),
      usernameKey: dataKey.default('username'),
      passwordKey: dataKey.default('password'),
    })
    .optional(),
  testQuery: z.string().min(1).max(4096).default('SELECT 1'),
  connectTimeout: z.string().default('10s'),
  connectAttempts: z.number().int().min(1).max(10).default(3),
});

/** A connection setting from the policy's `<field>` or `<field>Key`, else the Secret's `defaultKey` when it has one. */
export function setting<T>(raw: Record<string, unknown>, field: string, defaultKey: string, problems: SpecProblem[]): Setting<T> {
  const value = raw[field] as T | undefined;
  const key = raw[`${field}Key`] as string | undefined;
  if (value !== undefined && key !== undefined) problems.push({ path: [`${field}Key`], message: `give ${field} or ${field}Key, not both` });
  if (value !== undefined) return { value };
  return key !== undefined ? { key, optional: false } : { key: defaultKey, optional: true };
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

export function parsePgConfig(raw: Record<string, unknown>): ParsedBackendConfig<PgBackendConfig> | { problems: SpecProblem[] } {
  const parsed = pgConfigSchema.safeParse(raw);
  if (!parsed.success) return { problems: zodProblems(parsed.error) };
  const p = parsed.data;
  const problems: SpecProblem[] = [];
  const connectTimeoutMs = parseDuration(p.connectTimeout);
  if (connectTimeoutMs === undefined || connectTimeoutMs < 1000 || connectTimeoutMs > 300_000) {
    problems.push({
      path: ['connectTimeout'],
      message: `expected a duration between ${formatDuration(1000)} and ${formatDuration(300_000)}, such as 10s`,
    });
  }
  if (p.strategy === 'alternating-users' && p.adminSecretRef === undefined) {
    problems.push({
      path: ['adminSecretRef'],
      message: 'is required for strategy alternating-users (a Secret with a role that may create and alter roles)',
    });
  }
  if (p.strategy === 'single-user' && p.adminSecretRef !== undefined) {
    problems.push({
      path: ['adminSecretRef'],
      message: 'is only used by strategy alternating-users (single-user logs in as the role itself)',
    });
  }
  if (p.usernameKey === p.passwordKey) problems.push({ path: ['passwordKey'], message: 'must differ from usernameKey' });
  const config: PgBackendConfig = {
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
  if (problems.length > 0) return { problems };
  return { config, outputs: p.strategy === 'alternating-users' ? [p.usernameKey] : [] };
}
