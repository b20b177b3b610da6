import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677) in PostgreSQL's stored format,
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, computed on our side the way
 * psql's `\password` does: `ALTER ROLE ... PASSWORD '<verifier>'` then never carries the
 * password itself, so it cannot show up in pg_stat_activity, the server log or a statement
 * error. The server recognises the format and stores it as it is.
 */

/** PostgreSQL's default (scram_iterations, PostgreSQL 16) and the only value before it. */
export const SCRAM_ITERATIONS = 4096;

/**
 * True when SASLprep (RFC 4013), which PostgreSQL applies to passwords, leaves `password`
 * unchanged: printable ASCII. Other passwords would need the full normalisation to produce a
 * verifier every client agrees with, so the backend refuses them instead.
 */
export function isScramSafe(password: string): boolean {
  return /^[\x20-\x7e]+$/.test(password);
}

export function scramSha256Verifier(password: string, opts: { salt?: Buffer; iterations?: number } = {}): string {
  if (!isScramSafe(password)) throw new Error('the password must be printable ASCII for a SCRAM-SHA-256 verifier');
  const salt = opts.salt ?? randomBytes(16);
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
