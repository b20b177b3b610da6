import { createHash } from 'node:crypto';

/**
 * What the mysql backend puts in statements: account names, password hashes, and (MySQL only,
 * over verified TLS) passwords. Account names are restricted to characters that need no
 * escaping, so the statements are the same whatever the server's sql_mode
 * (NO_BACKSLASH_ESCAPES changes what a backslash in a literal means).
 */

/** User names we rotate: letters, digits, `_ . $ -`; at most 80 characters (MariaDB's limit; MySQL's is 32). */
export const ACCOUNT_USER = /^[A-Za-z0-9_.$-]{1,80}$/;

/** Why `user` cannot be an account's user name here, or undefined when it can. */
export function accountUserProblem(user: string): string | undefined {
  if (ACCOUNT_USER.test(user)) return undefined;
  return user.length > 80 ? `is ${user.length} characters long; MariaDB keeps at most 80` : 'may hold only letters, digits, _ . $ -';
}

/** `'user'@'host'`: both parts checked (config.ts checks the host part). */
export function account(user: string, host: string): string {
  const problem = accountUserProblem(user);
  if (problem !== undefined) throw new Error(`user name ${problem}`);
  if (!/^[A-Za-z0-9_.%:/-]{1,255}$/.test(host)) throw new Error('account host part may hold only letters, digits, _ . % : / -');
  return `'${user}'@'${host}'`;
}

/** The account as SHOW GRANTS prints it: `` `user`@`host` ``. */
export const grantee = (user: string, host: string): string => `\`${user}\`@\`${host}\``;

/**
 * mysql_native_password's stored hash: `*` and the upper-case hex of SHA1(SHA1(password)), as
 * the server's PASSWORD() computes it (MariaDB sql/password.c, my_make_scrambled_password).
 * `IDENTIFIED BY PASSWORD '<hash>'` and `SET PASSWORD = '<hash>'` take it as it is, so the
 * password never reaches the server, its general log or its error messages. The hash is still
 * a secret: it is what the server stores, open to an offline guess of the password, and with one
 * observed login it yields SHA1(password), which is all the challenge response needs. So it is
 * handed to `register` (the redactor) before anything uses it: a statement echoed in a log line
 * or an error cannot carry it out.
 */
export function nativePasswordHash(password: string, register: (value: string) => void): string {
  const once = createHash('sha1').update(Buffer.from(password, 'utf8')).digest();
  const hash = `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
  register(hash);
  return hash;
}

/** A password as a literal for MySQL's `IDENTIFIED BY '...'`: printable ASCII without quote or backslash only. */
export function passwordLiteral(password: string): string {
  if (!/^[\x20-\x7e]+$/.test(password) || /['\\]/.test(password))
    throw new Error("the password must be printable ASCII without ' or \\ to be sent in a statement");
  return `'${password}'`;
}

/**
 * The grants of `from` re-addressed to `to`: each `GRANT ... TO <from>` (and `SET DEFAULT ROLE
 * ... FOR <from>`) line of SHOW GRANTS, with what follows the grantee dropped except `WITH GRANT
 * OPTION` / `WITH ADMIN OPTION` (the rest is the account's authentication, a password hash
 * included). `GRANT USAGE ON *.*` grants nothing and is skipped. Lines in another form are
 * returned in `skipped` (without their text: they may hold a hash).
 */
export function regrant(lines: readonly string[], from: string, to: string): { statements: string[]; skipped: number } {
  const statements: string[] = [];
  let skipped = 0;
  for (const line of lines) {
    const grant = line.indexOf(` TO ${from}`);
    if (line.startsWith('GRANT ') && grant > 0) {
      const privileges = line.slice(0, grant);
      if (privileges === 'GRANT USAGE ON *.*') continue;
      const rest = line.slice(grant + ` TO ${from}`.length);
      const option = /WITH (GRANT|ADMIN) OPTION/.exec(rest)?.[0];
      statements.push(`${privileges} TO ${to}${option ? ` ${option}` : ''}`);
    } else if (line.startsWith('SET DEFAULT ROLE ') && line.endsWith(` FOR ${from}`)) {
      statements.push(`${line.slice(0, -from.length)}${to}`);
    } else {
      skipped++;
    }
  }
  return { statements, skipped };
}
