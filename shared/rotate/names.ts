import { createHash, randomBytes } from 'node:crypto';

/**
 * Names of the objects rotation creates. All of them derive deterministically from the
 * Secret's name, so a rerun after a crash finds what an earlier run made.
 */

/** Kubernetes' limit for a Secret name (a DNS-1123 subdomain). */
export const MAX_NAME_LENGTH = 253;

/** Suffix of the companion holding a rotation's new values until they are promoted. */
export const PENDING_SUFFIX = '-pending';
/** Suffix of the companion keeping the values a rotation replaced. */
export const PREVIOUS_SUFFIX = '-previous';

/**
 * `name + suffix`, shortened when that would exceed 253 characters: the name is cut, and
 * `-` plus the first 10 hex digits of the SHA-256 of the full name is inserted before the
 * suffix, so different long names never share a companion. Trailing `-`/`.` of the cut part
 * are dropped to keep the result a valid DNS-1123 subdomain.
 */
export function withSuffix(name: string, suffix: string): string {
  const full = name + suffix;
  if (full.length <= MAX_NAME_LENGTH) return full;
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 10);
  const room = MAX_NAME_LENGTH - suffix.length - hash.length - 1;
  const cut = name.slice(0, room).replace(/[-.]+$/, '');
  return `${cut}-${hash}${suffix}`;
}

export function pendingName(secretName: string): string {
  return withSuffix(secretName, PENDING_SUFFIX);
}

export function previousName(secretName: string): string {
  return withSuffix(secretName, PREVIOUS_SUFFIX);
}

/** Name of version `n` of a versioned lineage: `<base>-v<n>`. */
export function versionName(base: string, n: number): string {
  return withSuffix(base, `-v${n}`);
}

/**
 * Lineage base and version of a Secret that has none recorded yet: `api-keys-v3` is version
 * 3 of `api-keys`; `api-keys` is version 1 of `api-keys`.
 */
export function parseVersionedName(name: string): { base: string; version: number } {
  const m = /^(.+)-v(\d{1,9})$/.exec(name);
  if (m !== null) return { base: m[1], version: Number(m[2]) };
  return { base: name, version: 1 };
}

/**
 * A rotation id: sortable by time, unique, and valid as a label value, e.g.
 * `20250301t030000-9f8e7d`.
 */
export function newRotationId(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .toLowerCase();
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}
