import { z } from 'zod';
import type { ParsedBackendConfig } from '../../backend.js';
import type { SpecProblem } from '../../generators/generator.js';
import { adminSecretRefField, databaseConfigFields, dataKey, hostField, type Setting, zodProblems } from '../database-config.js';

/**
 * The policy's `backend` fields for `name: mysql` (MariaDB, and MySQL as far as
 * docs/rotation-mysql.md says):
 *
 * ```yaml
 * backend:
 *   name: mysql
 *   strategy: alternating-users       # or single-user (default)
 *   host: db.shop.svc                 # or hostKey: host (a key of the Secret)
 *   port: 3306                        # or portKey
 *   database: shop                    # or databaseKey; none: no default database
 *   accountHost: "%"                  # the host part of the accounts ('app'@'%'), the default
 *   sslmode: verify-full              # the default; or sslmodeKey; sslRootCertKey: ca.crt
 *   adminSecretRef: { name: db-admin } # alternating-users only; its host key must name the host
 *   testQuery: SELECT 1 FROM orders LIMIT 1
 * ```
 *
 * The connection settings work as the postgresql backend's (postgresql/config.ts): a field,
 * its `<field>Key`, else the Secret's key of the same name when it has one, else the default.
 */

/** Database names we connect to: letters, digits, `_`, `$`, `-`; at most 64 characters. */
export const MYSQL_DATABASE_NAME = /^[A-Za-z0-9_$-]{1,64}$/;

/**
 * TLS as MySQL's client `--ssl-mode` knows it, named as the postgresql backend names it:
 * disable (DISABLED), require (REQUIRED: TLS, unverified unless a CA is given), verify-ca
 * (VERIFY_CA), verify-full (VERIFY_IDENTITY). No mode falls back to plain (PREFERRED is not offered).
 */
export const MYSQL_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type MysqlSslMode = (typeof MYSQL_SSL_MODES)[number];

/** The host part of an account: `%`, a name or address pattern; no quotes, no spaces, at most 255. */
export const ACCOUNT_HOST = /^[A-Za-z0-9_.%:/-]{1,255}$/;

export interface MysqlBackendConfig {
  strategy: 'single-user' | 'alternating-users';
  host: Setting<string>;
  port: Setting<number>;
  /** Absent and no `database` key: no default database. */
  database: Setting<string>;
  sslmode: Setting<MysqlSslMode>;
  sslRootCertKey?: string;
  usernameKey: string;
  passwordKey: string;
  accountHost: string;
  admin?: { secretName: string; usernameKey: string; passwordKey: string };
  testQuery: string;
  connectTimeoutMs: number;
  connectAttempts: number;
  /** True: a password may cross a connection whose server is not verified (sslmode disable or require). */
  allowPasswordWithoutVerifiedTls: boolean;
}

/** The `backend` fields of a policy naming mysql (without `name`); `parseMysqlConfig` checks the rest. */
export const mysqlConfigSchema = z.strictObject({
  strategy: z.enum(['single-user', 'alternating-users']).default('single-user'),
  host: hostField,
  hostKey: dataKey.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  portKey: dataKey.optional(),
  database: z.string().regex(MYSQL_DATABASE_NAME, 'expected a database name (letters, digits, _ $ -; at most 64)').optional(),
  databaseKey: dataKey.optional(),
  accountHost: z.string().regex(ACCOUNT_HOST, 'expected the host part of an account, such as % or 10.0.0.% (no quotes)').default('%'),
  sslmode: z.enum(MYSQL_SSL_MODES).optional(),
  sslmodeKey: dataKey.optional(),
  sslRootCertKey: dataKey.optional(),
  usernameKey: dataKey.default('username'),
  passwordKey: dataKey.default('password'),
  adminSecretRef: adminSecretRefField,
  testQuery: z.string().min(1).max(4096).default('SELECT 1'),
  connectTimeout: z.string().default('10s'),
  connectAttempts: z.number().int().min(1).max(10).default(3),
  allowPasswordWithoutVerifiedTls: z.boolean().default(false),
});

export function parseMysqlConfig(raw: Record<string, unknown>): ParsedBackendConfig<MysqlBackendConfig> | { problems: SpecProblem[] } {
  const parsed = mysqlConfigSchema.safeParse(raw);
  if (!parsed.success) return { problems: zodProblems(parsed.error) };
  const p = parsed.data;
  const problems: SpecProblem[] = [];
  const config: MysqlBackendConfig = {
    ...databaseConfigFields<MysqlSslMode>(p, problems, 'account', 'an account that may create users and grant'),
    accountHost: p.accountHost,
    allowPasswordWithoutVerifiedTls: p.allowPasswordWithoutVerifiedTls,
  };
  if (problems.length > 0) return { problems };
  return { config, outputs: p.strategy === 'alternating-users' ? [p.usernameKey] : [] };
}
