import { z } from 'zod';
import type { ParsedBackendConfig } from '../../backend.js';
import type { SpecProblem } from '../../generators/generator.js';
import { adminSecretRefField, databaseConfigFields, dataKey, hostField, type Setting, zodProblems } from '../database-config.js';

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

/** Database names we connect to: letters, digits, `_`, `-`, `.`, `$`; at most 63 bytes. */
export const DATABASE_NAME = /^[A-Za-z0-9_.$-]{1,63}$/;

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export type PgStrategy = 'single-user' | 'alternating-users';

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

/** The `backend` fields of a policy naming postgresql (without `name`); `parsePgConfig` checks the rest. */
export const pgConfigSchema = z.strictObject({
  strategy: z.enum(['single-user', 'alternating-users']).default('single-user'),
  host: hostField,
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
  adminSecretRef: adminSecretRefField,
  testQuery: z.string().min(1).max(4096).default('SELECT 1'),
  connectTimeout: z.string().default('10s'),
  connectAttempts: z.number().int().min(1).max(10).default(3),
});

export function parsePgConfig(raw: Record<string, unknown>): ParsedBackendConfig<PgBackendConfig> | { problems: SpecProblem[] } {
  const parsed = pgConfigSchema.safeParse(raw);
  if (!parsed.success) return { problems: zodProblems(parsed.error) };
  const p = parsed.data;
  const problems: SpecProblem[] = [];
  const config: PgBackendConfig = databaseConfigFields<SslMode>(p, problems, 'role', 'a role that may create and alter roles');
  if (problems.length > 0) return { problems };
  return { config, outputs: p.strategy === 'alternating-users' ? [p.usernameKey] : [] };
}
