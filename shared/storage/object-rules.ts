/**
 * The rules for keys, prefixes and user metadata that every ObjectStore enforces before it
 * touches the store, so that the S3 and file implementations accept exactly the same inputs
 * (a key that works on the sandbox's file store works on S3 and back).
 */
import { StorageError } from './storage-error.js';

/** Key segments starting with this are reserved for the file store's temp files and sidecars. */
export const RESERVED_SEGMENT_PREFIX = '.~';

/** S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** S3's limit on user metadata (keys plus values), in bytes. */
const MAX_METADATA_BYTES = 2048;

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f\\]/;

/** Why `key` is not acceptable, or `undefined` when it is. Never echoes the key's content. */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'the key is empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `the key is longer than ${MAX_KEY_BYTES} bytes`;
  if (key.startsWith('/') || key.endsWith('/')) return 'a key may not start or end with /';
  return segmentProblem(key.split('/'));
}

/** Why a list prefix is not acceptable (`''` and a trailing `/` are fine). */
export function prefixProblem(prefix: string): string | undefined {
  if (typeof prefix !== 'string') return 'the prefix is not a string';
  if (prefix === '') return undefined;
  if (prefix.startsWith('/')) return 'a prefix may not start with /';
  const segments = prefix.split('/');
  if (segments[segments.length - 1] === '') segments.pop();
  // The last segment of a prefix may be a partial name, but never `.` or `..`.
  return segmentProblem(segments);
}

function segmentProblem(segments: string[]): string | undefined {
  for (const s of segments) {
    if (s === '') return 'a key may not contain an empty segment (//)';
    if (s === '.' || s === '..') return 'a key may not contain . or .. segments';
    if (CONTROL.test(s)) return 'a key may not contain control characters or backslashes';
    if (s.startsWith(RESERVED_SEGMENT_PREFIX)) return `key segments starting with ${RESERVED_SEGMENT_PREFIX} are reserved`;
  }
  return undefined;
}

/**
 * Why user metadata is not acceptable. S3 lowercases metadata names and sends values as HTTP
 * headers; requiring lowercase names and printable ASCII values keeps what the file store
 * returns identical to what S3 returns. Names the offending metadata key, never a value.
 */
export function metadataProblem(metadata: Record<string, string> | undefined): string | undefined {
  if (metadata === undefined) return undefined;
  let bytes = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
      return `metadata name ${JSON.stringify(name)} must be lowercase letters, digits, '.', '_' or '-'`;
    }
    if (typeof value !== 'string' || !/^[\x20-\x7e]*$/.test(value)) {
      return `metadata ${JSON.stringify(name)} must be printable ASCII`;
    }
    bytes += name.length + value.length;
  }
  if (bytes > MAX_METADATA_BYTES) return `metadata is larger than ${MAX_METADATA_BYTES} bytes`;
  return undefined;
}

/**
 * Where `key` is in the store at `storeLocation` (`s3://bucket/prefix/key`), for errors;
 * throws the StorageError of `operation` when the key breaks a rule.
 */
export function checkedLocation(storeLocation: string, operation: string, key: string): string {
  const location = `${storeLocation}/${key}`;
  const problem = keyProblem(key);
  if (problem !== undefined) throw new StorageError({ kind: 'other', operation, location, detail: problem });
  return location;
}
