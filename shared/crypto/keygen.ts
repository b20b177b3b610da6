/**
 * Creating the backup key pair (`secret-steward keygen`): an OpenPGP v4 key that GnuPG 2.2
 * reads, written as separate files so that each half can go where it belongs:
 *
 * - the public key to the backup job (it only ever encrypts),
 * - the private key and its passphrase only to where restores and drills run,
 * - an offline copy of the private key (and the revocation certificate) for break-glass
 *   restores with plain `gpg`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateKey, type Key, readKey } from 'openpgp';
import { ConfigError, errorText, StewardError } from '../errors/index.js';
import { redactor } from '../log/index.js';
import { fingerprintOf, keyExpiry } from './keys.js';
import { OPENPGP_CONFIG } from './openpgp-config.js';

export interface GenerateKeyPairOptions {
  /** User id name, e.g. `secret-steward backups (prod)`. */
  name: string;
  /** User id email, e.g. `backups@example.com`. */
  email: string;
  /** Protects the private key (iterated+salted S2K, as GnuPG 2.2 expects). */
  passphrase: string;
  /**
   * `ecc`: ed25519 primary key (certify, sign) with a cv25519 encryption subkey, the v4
   * "legacy" curve25519 algorithms that GnuPG 2.2 reads (openpgp.js `curve: 'curve25519Legacy'`;
   * gpg lists them as `ed25519` / `cv25519`). Fast and small. `rsa`: RSA primary key and
   * encryption subkey of `rsaBits`, for policies that require RSA.
   */
  type: 'ecc' | 'rsa';
  /** RSA key size. @default 3072 */
  rsaBits?: 3072 | 4096;
  /** Lifetime in seconds from `now`; `0` or absent: never expires. */
  expiresInSeconds?: number;
  /** Creation time. @default new Date() */
  now?: Date;
}

export interface GeneratedKeyPair {
  /** Primary key fingerprint, upper-case hex, as gpg prints it. */
  fingerprint: string;
  /** `Name <email>`. */
  userId: string;
  /** As gpg names it: `ed25519/cv25519`, `rsa3072/rsa3072`. */
  algorithm: string;
  createdAt: Date;
  /** Absent when the key never expires. */
  expiresAt?: Date;
  /** ASCII-armored public key. */
  publicKey: string;
  /** ASCII-armored private key, protected by the passphrase. Registered with the redactor. */
  privateKey: string;
  /** ASCII-armored revocation certificate (`gpg --import` it to revoke the key). */
  revocationCertificate: string;
}

/** Generates a v4 OpenPGP key pair that GnuPG 2.2 and openpgp.js both use. */
export async function generateKeyPair(opts: GenerateKeyPairOptions): Promise<GeneratedKeyPair> {
  if (opts.passphrase.length === 0) throw new RangeError('generateKeyPair: the passphrase must not be empty');
  const now = opts.now ?? new Date();
  const generated = await generateKey({
    ...(opts.type === 'ecc' ? { type: 'ecc', curve: 'curve25519Legacy' } : { type: 'rsa', rsaBits: opts.rsaBits ?? 3072 }),
    userIDs: [{ name: opts.name, email: opts.email }],
    passphrase: opts.passphrase,
    keyExpirationTime: opts.expiresInSeconds ?? 0,
    date: now,
    format: 'armored',
    config: OPENPGP_CONFIG,
  });
  redactor.register(generated.privateKey);
  const key = await readKey({ armoredKey: generated.publicKey });
  const expiresAt = await keyExpiry(key, 'encrypt', now);
  return {
    fingerprint: fingerprintOf(key),
    userId: key.getUserIDs()[0],
    algorithm: algorithmName(key),
    createdAt: key.getCreationTime(),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    publicKey: generated.publicKey,
    privateKey: generated.privateKey,
    revocationCertificate: generated.revocationCertificate,
  };
}

/** A strong random passphrase (256 bits, base64url), registered with the redactor. */
export function randomPassphrase(): string {
  const passphrase = randomBytes(32).toString('base64url');
  redactor.register(passphrase);
  return passphrase;
}

export interface KeyFile {
  path: string;
  content: string;
  /** `0o600` for anything secret, `0o644` for the public key. */
  mode: number;
}

/**
 * Writes key files. Without `force`, refuses (before writing anything) when any of them exists:
 * {@link ConfigError} naming `setting`. With `force`, each file is replaced atomically (written
 * to a temporary file with its final mode, then renamed), so a secret never sits in a file
 * with wider permissions. The directory is created with mode 0700 when missing. If a write
 * fails, the files written so far are removed again.
 */
export async function writeKeyFiles(files: readonly KeyFile[], opts: { force: boolean; setting: string }): Promise<void> {
  if (!opts.force)
    await refuseExisting(
      files.map((f) => f.path),
      opts.setting,
    );
  const dirs = [...new Set(files.map((f) => dirname(f.path)))];
  for (const dir of dirs) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new ConfigError([{ setting: opts.setting, message: `cannot create directory ${dir}: ${errorText(e)}` }]);
    }
  }
  const written: string[] = [];
  try {
    for (const file of files) {
      if (opts.force) {
        const temp = join(dirname(file.path), `.${randomUUID()}.tmp`);
        await writeNew(temp, file.content, file.mode);
        await rename(temp, file.path).catch(async (e: unknown) => {
          await unlink(temp).catch(() => {});
          throw e;
        });
      } else {
        await writeNew(file.path, file.content, file.mode);
      }
      written.push(file.path);
    }
  } catch (e) {
    await Promise.all(written.map((p) => unlink(p).catch(() => {})));
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new ConfigError([{ setting: opts.setting, message: `a key file appeared while writing (${errorText(e)}); nothing was kept` }]);
    }
    throw new StewardError(`cannot write key files to ${dirs.join(', ')}: ${errorText(e)}; nothing was kept`, { cause: e });
  }
}

/**
 * Throws a {@link ConfigError} naming `setting` and every one of `paths` that already exists.
 * keygen never overwrites a key without --force: old backups may still need it.
 */
export async function refuseExisting(paths: readonly string[], setting: string): Promise<void> {
  const existing = (await Promise.all(paths.map(async (p) => ((await exists(p)) ? p : undefined)))).filter(
    (p): p is string => p !== undefined,
  );
  if (existing.length > 0) {
    throw new ConfigError(
      [
        {
          setting,
          message:
            `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; refusing to overwrite key files ` +
            '(move them away, or pass --force once you are sure no backup still needs that key)',
        },
      ],
      'not overwriting existing key files',
    );
  }
}

/** Creates `path` exclusively with `mode` (then chmod, in case the umask narrowed it oddly). */
async function writeNew(path: string, content: string, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(path, mode);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function algorithmName(key: Key): string {
  const name = (k: Key | Key['subkeys'][number]): string => {
    const info = k.getAlgorithmInfo();
    if (info.curve === 'ed25519Legacy') return 'ed25519';
    if (info.curve === 'curve25519Legacy') return 'cv25519';
    if (info.algorithm.startsWith('rsa')) return `rsa${info.bits}`;
    return info.curve ?? info.algorithm;
  };
  return [name(key), ...key.subkeys.map(name)].join('/');
}
