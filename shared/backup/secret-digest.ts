import { createHash } from 'node:crypto';

/**
 * SHA-256 of a Secret's data, the value recorded per Secret in the backup index and compared
 * by verification, restore read-back and drift detection. Canonical form: keys in code-unit
 * order, each contributing `key NUL length NUL bytes` of the DECODED value, so that the digest
 * does not depend on base64 formatting or key order. A Secret without data hashes the empty
 * sequence.
 */
export function secretDataDigest(data: Record<string, string> | undefined): string {
  return decodedDataDigest(decodeSecretData(data));
}

/** Each value of a Secret's data decoded from base64, by key (leniently, as `Buffer.from` decodes). */
export function decodeSecretData(data: Record<string, string> | undefined): Map<string, Buffer> {
  const decoded = new Map<string, Buffer>();
  for (const key of Object.keys(data ?? {})) decoded.set(key, Buffer.from(data![key], 'base64'));
  return decoded;
}

/**
 * {@link secretDataDigest} of data already decoded ({@link decodeSecretData}), for a caller that
 * needs the bytes for something else too: each value is decoded once.
 */
export function decodedDataDigest(decoded: ReadonlyMap<string, Uint8Array>): string {
  const h = createHash('sha256');
  for (const key of [...decoded.keys()].sort()) {
    const bytes = decoded.get(key)!;
    h.update(key, 'utf8');
    h.update('\0');
    h.update(String(bytes.length));
    h.update('\0');
    h.update(bytes);
  }
  return h.digest('hex');
}

/** Total decoded size of a Secret's data in bytes (the API's 1 MiB limit applies to this). */
export function secretDataSize(data: Record<string, string> | undefined): number {
  let n = 0;
  for (const v of Object.values(data ?? {})) n += Buffer.byteLength(v, 'base64');
  return n;
}
