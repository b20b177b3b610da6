/**
 * Quoting for the statements that cannot take bind parameters (ALTER ROLE, CREATE ROLE,
 * GRANT): identifiers in double quotes and literals in single quotes, with embedded quotes
 * doubled, as PostgreSQL's quote_ident/quote_literal do. NUL bytes cannot be quoted at all and
 * are refused; so are names longer than PostgreSQL keeps (it would silently truncate them).
 */

/** NAMEDATALEN - 1: the longest identifier PostgreSQL keeps, in bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Why `name` cannot be a role name, or undefined when it can. */
export function roleNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.includes('\0')) return 'contains a NUL byte';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) return `is ${bytes} bytes long; PostgreSQL keeps at most ${MAX_IDENTIFIER_BYTES}`;
  return undefined;
}

/** `"name"` with embedded double quotes doubled. */
export function quoteIdent(name: string): string {
  const problem = roleNameProblem(name);
  if (problem !== undefined) throw new Error(`identifier ${problem}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `'text'` with embedded single quotes doubled. Backslashes are literal because
 * standard_conforming_strings is on (the default since PostgreSQL 9.1); when a text holds one
 * the E'' form is used with backslashes doubled, which is right whatever that setting is.
 */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new Error('a literal cannot contain a NUL byte');
  const body = text.replaceAll("'", "''");
  return text.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}
