import { createHash, createHmac } from 'node:crypto';

/** Hex digits of SHA-256 kept in a fingerprint: enough to tell values apart, useless to guess them. */
const FINGERPRINT_HEX = 12;

/** `sha256:<12 hex digits>` of a value: what logs and Events carry instead of the value. */
export function fingerprint(value: Uint8Array): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, FINGERPRINT_HEX)}`;
}

/** `key=sha256:...` for each key, sorted: the log field for a set of new values. */
export function fingerprints(values: ReadonlyMap<string, Uint8Array>): string[] {
  return [...values.keys()].sort().map((k) => `${k}=${fingerprint(values.get(k)!)}`);
}

/**
 * A key derived from a set of high-entropy values (a rotation's generated values), used to
 * key the digests of a Secret's data recorded on a pending companion.
 */
export function digestKey(values: ReadonlyMap<string, Uint8Array>): Buffer {
  const h = createHash('sha256');
  for (const k of [...values.keys()].sort()) {
    const v = values.get(k)!;
    h.update(`${k.length}:${k}:${v.length}:`);
    h.update(v);
  }
  return h.digest();
}

/** Keyed digest of one data value (see `BaseRecord`). */
export function keyedDigest(key: Buffer, value: Uint8Array): string {
  return createHmac('sha256', key).update(value).digest('base64url').slice(0, 22);
}

/** Keyed digests of every key of a Secret's data. */
export function keyedDigests(key: Buffer, data: ReadonlyMap<string, Uint8Array>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...data.keys()].sort()) out[k] = keyedDigest(key, data.get(k)!);
  return out;
}
