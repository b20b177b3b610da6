import { createHash, createHmac, randomBytes } from 'node:crypto';

/** Hex digits of the HMAC kept in a fingerprint: enough to tell values apart. */
const FINGERPRINT_HEX = 12;

/** Shortest key a fingerprint key file may hold. */
export const MIN_FINGERPRINT_KEY_BYTES = 32;

/**
 * What logs, Events and the report carry instead of a value: `hmac:<12 hex digits>` of
 * HMAC-SHA-256 under a key only the job holds. An unkeyed digest would let anyone who reads a
 * log confirm a guessed value (a hand-chosen previous password restored by a rollback, a short
 * user name) by hashing it; without the key a fingerprint says nothing about the value.
 *
 * The key is random for each run unless the operator gives one (`--fingerprint-key-file`): by
 * default fingerprints compare within one run's log lines, Events and report only, never across
 * runs.
 */
export class Fingerprinter {
  private constructor(
    private readonly key: Uint8Array,
    /** `run`: a random key made for this run; `configured`: the operator's key file. */
    readonly keyedBy: 'run' | 'configured',
  ) {}

  /** A fingerprinter with a fresh random key: fingerprints comparable within this run only. */
  static forRun(): Fingerprinter {
    return new Fingerprinter(randomBytes(32), 'run');
  }

  /** A fingerprinter with the operator's key: fingerprints comparable across runs that share it. */
  static withKey(key: Uint8Array): Fingerprinter {
    if (key.length < MIN_FINGERPRINT_KEY_BYTES) throw new RangeError(`a fingerprint key needs at least ${MIN_FINGERPRINT_KEY_BYTES} bytes`);
    return new Fingerprinter(Buffer.from(key), 'configured');
  }

  /** `hmac:<12 hex digits>` of a value. */
  fingerprint(value: Uint8Array): string {
    return `hmac:${createHmac('sha256', this.key).update(value).digest('hex').slice(0, FINGERPRINT_HEX)}`;
  }

  /** `key=hmac:...` for each key, sorted: the log field for a set of values. */
  fingerprints(values: ReadonlyMap<string, Uint8Array>): string[] {
    return [...values.keys()].sort().map((k) => `${k}=${this.fingerprint(values.get(k)!)}`);
  }
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
