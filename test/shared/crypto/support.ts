/**
 * Test keys and a throwaway GnuPG home for the crypto tests. Keys are generated at test time
 * (ECC takes milliseconds), written to a temp dir, and are obviously test-only
 * (`*@example.invalid`); nothing here is committed key material.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { decryptKey, encryptKey, enums, generateKey, type PartialConfig, revokeKey } from 'openpgp';

/** A temp dir removed by `cleanup()`. */
export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'steward-crypto-'));

  file(name: string, content: string | Uint8Array): string {
    const path = join(this.path, name);
    writeFileSync(path, content);
    return path;
  }

  cleanup(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface TestKey {
  publicFile: string;
  privateFile: string;
  passphraseFile: string;
  passphrase: string;
  publicKey: string;
  privateKey: string;
}

export interface TestKeyOptions {
  type?: 'ecc' | 'rsa' | 'curve25519';
  passphrase?: string;
  /** Creation time; with `keyExpirationTime` makes an already expired key. */
  date?: Date;
  keyExpirationTime?: number;
  subkeys?: { keyExpirationTime?: number; sign?: boolean }[];
  revoked?: boolean;
  /** Revoked as retired (a soft revocation: signatures made before it stay valid) at this time. */
  retiredAt?: Date;
  config?: PartialConfig;
}

/** Generates a passphrase-protected test key and writes its files into `dir`. */
export async function makeTestKey(dir: TempDir, name: string, opts: TestKeyOptions = {}): Promise<TestKey> {
  const passphrase = opts.passphrase ?? `test-only-passphrase-${name}`;
  const type = opts.type ?? 'ecc';
  const generated = await generateKey({
    ...(type === 'ecc'
      ? { type: 'ecc', curve: 'curve25519Legacy' }
      : type === 'rsa'
        ? { type: 'rsa', rsaBits: 3072 }
        : { type: 'curve25519' }),
    userIDs: [{ name: `test-only ${name}`, email: `${name}@example.invalid` }],
    passphrase,
    ...(opts.date ? { date: opts.date } : {}),
    ...(opts.keyExpirationTime ? { keyExpirationTime: opts.keyExpirationTime } : {}),
    ...(opts.subkeys ? { subkeys: opts.subkeys } : {}),
    ...(opts.config ? { config: opts.config } : {}),
    format: 'object',
  });
  let { privateKey } = generated;
  if (opts.revoked || opts.retiredAt) {
    const unlocked = await decryptKey({ privateKey, passphrase });
    const revoked = await revokeKey({
      key: unlocked,
      format: 'object',
      ...(opts.retiredAt ? { date: opts.retiredAt, reasonForRevocation: { flag: enums.reasonForRevocation.keyRetired } } : {}),
    });
    privateKey = await encryptKey({ privateKey: revoked.privateKey, passphrase });
  }
  const publicKey = privateKey.toPublic().armor();
  const privateArmored = privateKey.armor();
  return {
    publicFile: dir.file(`test-only-${name}.public.asc`, publicKey),
    privateFile: dir.file(`test-only-${name}.private.asc`, privateArmored),
    passphraseFile: dir.file(`test-only-${name}.passphrase`, `${passphrase}\n`),
    passphrase,
    publicKey,
    privateKey: privateArmored,
  };
}

/** Collects a Readable into one Buffer. */
export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Awaits `promise` and returns the error it rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** True when the gpg binary is installed. */
export function hasGpg(): boolean {
  return spawnSync('gpg', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface GpgResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * A throwaway GnuPG home (`--homedir`, batch mode, loopback pinentry). `close()` stops its
 * gpg-agent (started by gpg for this home only) and removes the directory.
 */
export class GpgHome {
  readonly dir = new TempDir();

  /** Runs gpg; `passphraseFile` is passed with --passphrase-file when given. */
  run(args: readonly string[], opts: { input?: Uint8Array | string; passphraseFile?: string } = {}): GpgResult {
    const result = spawnSync(
      'gpg',
      [
        '--homedir',
        this.dir.path,
        '--batch',
        '--no-tty',
        '--pinentry-mode',
        'loopback',
        ...(opts.passphraseFile ? ['--passphrase-file', opts.passphraseFile] : []),
        ...args,
      ],
      { input: opts.input, maxBuffer: 512 * 1024 * 1024 },
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
  }

  /** Like {@link run}, but throws with gpg's stderr when it fails. */
  ok(args: readonly string[], opts: { input?: Uint8Array | string; passphraseFile?: string } = {}): GpgResult {
    const result = this.run(args, opts);
    if (result.status !== 0) throw new Error(`gpg ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
    return result;
  }

  /** The fingerprint of the (first) key matching `userId`. */
  fingerprint(userId: string): string {
    const listing = this.ok(['--with-colons', '--list-keys', userId]).stdout.toString('utf8');
    const line = listing.split('\n').find((l) => l.startsWith('fpr:'));
    if (!line) throw new Error(`no key for ${userId}`);
    return line.split(':')[9];
  }

  close(): void {
    spawnSync('gpgconf', ['--homedir', this.dir.path, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    this.dir.cleanup();
  }
}
