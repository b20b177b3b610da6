/**
 * What a database server says back, made safe to print: the words of its message, not the
 * values it quotes. Shared by every database backend (postgresql, mysql).
 */

/**
 * A server message with its quoted values cut: everything from the first quote to the last
 * becomes `'…'` (with the quote characters found there); with an odd number of quotes, the
 * last one opens a fragment that never closes, and everything from the first quote on is cut.
 * `quotes` lists the characters that quote a value: MySQL and MariaDB quote values with `'`
 * (`Duplicate entry '<value>' for key`, the statement text of a syntax error, `near '<text>' at
 * line 1`); PostgreSQL with `"` (`role "<name>" does not exist`, `invalid input syntax for type
 * integer: "<value>"`, PostgreSQL's error message style guide, "Use of Quotes"), and its syntax
 * errors show statement text that holds `'` too. A value may itself hold quotes (not escaped)
 * and may be truncated to a length, closing quote and all: so no pairing of quotes can be
 * trusted, and only the words outside them are kept.
 */
export function withoutQuotedValues(message: string, quotes = "'"): string {
  const at: number[] = [];
  for (let i = 0; i < message.length; i++) if (quotes.includes(message[i])) at.push(i);
  if (at.length === 0) return message;
  const first = at[0];
  const last = at[at.length - 1];
  if (at.length % 2 === 1) return `${message.slice(0, first)}${message[first]}…`;
  return `${message.slice(0, first)}${message[first]}…${message[last]}${message.slice(last + 1)}`;
}
