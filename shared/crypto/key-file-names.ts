import { join } from 'node:path';

/** The files keygen writes for a key named `name` in `dir`. */
export interface KeyFilePaths {
  publicKey: string;
  privateKey: string;
  /** Only written when keygen generated the passphrase. */
  passphrase: string;
  revocationCertificate: string;
}

/**
 * `DIR/<base>.public.asc`, `.private.asc`, `.passphrase`, `.revocation.asc`, where `<base>` is
 * the name with anything but letters, digits, `.`, `_` and `-` turned into `-`
 * (`secret-steward backups (prod)` -> `secret-steward-backups-prod`).
 */
export function keyFilePaths(dir: string, name: string): KeyFilePaths {
  const base = fileBaseName(name);
  return {
    publicKey: join(dir, `${base}.public.asc`),
    privateKey: join(dir, `${base}.private.asc`),
    passphrase: join(dir, `${base}.passphrase`),
    revocationCertificate: join(dir, `${base}.revocation.asc`),
  };
}

/** The file name stem for a key name; empty when the name has no letter or digit. */
export function fileBaseName(name: string): string {
  return name.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^[-.]+|-+$/g, '');
}
