/**
 * Loading the OpenPGP keys the jobs are configured with, and the checks that make a bad key a
 * clear configuration error at startup instead of an unreadable backup later.
 *
 * Roles, and what each loader accepts:
 *
 * - {@link loadRecipientKeys}: public keys the backup encrypts to. Rejects private keys, expired
 *   or revoked keys, keys without a valid encryption subkey, and keys GnuPG 2.2 cannot use.
 * - {@link loadSigningKey}: the one private key the backup signs its index with. Rejects a
 *   wrong or missing passphrase, expired or revoked keys, keys that cannot sign.
 * - {@link loadDecryptionKeys}: private keys that verify-restore and restore decrypt with.
 *   Rejects a wrong or missing passphrase and keys that cannot decrypt; accepts expired and
 *   revoked keys on purpose (old backups must stay restorable).
 * - {@link loadTrustedSignerKeys}: public keys whose signatures verify-restore and restore
 *   trust. Rejects private keys.
 *
 * Every problem found across all files is reported at once in one {@link ConfigError} whose
 * entries name the setting (the label the caller passes, e.g. `--recipient-key /
 * SECRET_STEWARD_RECIPIENT_KEY`) and the file; never key material or a passphrase. Passphrases
 * are registered with the process-wide redactor the moment they are read.
 *
 * Files may be ASCII-armored (as written by `gpg --armor --export` or `secret-steward keygen`,
 * several armor blocks per file allowed) or binary (`gpg --export`), one or more keys each.
 */
import { readFile } from 'node:fs/promises';
import type { Key, PrivateKey, PublicKey, Subkey } from 'openpgp';
import { decryptKey, enums, readKeys } from 'openpgp';
import { ConfigError, type ConfigProblem, errorText } from '../errors/index.js';
import { redactor } from '../log/index.js';

/** What reports and errors say about a loaded key. */
export interface KeyInfo {
  /** Primary key fingerprint, upper-case hex without spaces (40 characters for v4 keys). */
  fingerprint: string;
  /** The key's user ids, e.g. `Backups <backups@example.com>`; may be empty. */
  userIds: string[];
  /**
   * When the key stops being usable for its role here (the earlier of the primary key's and
   * the role's subkey's expiry); absent when it never expires.
   */
  expiresAt?: Date;
  /** The file it was read from. */
  file: string;
}

/** A public key the backup encrypts to. */
export interface RecipientKey extends KeyInfo {
  key: PublicKey;
}

/** An unlocked private key the backup signs its index (and optionally segments) with. */
export interface SigningKey extends KeyInfo {
  key: PrivateKey;
}

/** An unlocked private key that decrypts backups. */
export interface DecryptionKey extends KeyInfo {
  key: PrivateKey;
}

/** A public key whose signatures on a backup index or drill report are trusted. */
export interface TrustedSignerKey extends KeyInfo {
  key: PublicKey;
  /** Signatures made before this are not believed (`FILE,notBefore=TIME`: {@link parseSignerKeySpec}). */
  notBefore?: Date;
  /** Signatures made after this are not believed (`FILE,notAfter=TIME`). */
  notAfter?: Date;
  /**
   * When the key's own revocation signature (`gpg --gen-revoke`, imported into the public key)
   * says it was revoked: signatures made after it are not believed, as after `notAfter`.
   */
  revokedAt?: Date;
}

/** One trusted-signer value: a key file and the window in which its signatures are believed. */
export interface SignerKeySpec {
  file: string;
  notBefore?: Date;
  notAfter?: Date;
}

const WINDOW_OPTION = /,(notBefore|notAfter)=([^,]*)$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses a trusted-signer value, `FILE[,notBefore=TIME][,notAfter=TIME]` with RFC 3339 times
 * (`2026-03-01T00:00:00Z`): the key's signatures are believed only when made inside the window
 * (both ends included). A file whose path itself holds `,notBefore=` or `,notAfter=` cannot be
 * named; any other comma stays part of the path.
 *
 * @returns the spec, or every problem of the value (never the key's contents: only the value is read).
 */
export function parseSignerKeySpec(raw: string): SignerKeySpec | { problems: string[] } {
  const problems: string[] = [];
  const found: Partial<Record<'notBefore' | 'notAfter', Date>> = {};
  let rest = raw;
  for (let m = WINDOW_OPTION.exec(rest); m !== null; m = WINDOW_OPTION.exec(rest)) {
    const [whole, name, value] = m as unknown as [string, 'notBefore' | 'notAfter', string];
    rest = rest.slice(0, rest.length - whole.length);
    if (name in found) problems.push(`${name} given twice`);
    const t = Date.parse(value);
    if (!RFC3339.test(value) || Number.isNaN(t)) problems.push(`${name} is not an RFC 3339 time such as 2026-03-01T00:00:00Z`);
    else found[name] = new Date(t);
  }
  if (rest.length === 0) problems.push('no key file before the window');
  if (found.notBefore && found.notAfter && found.notBefore.getTime() >= found.notAfter.getTime())
    problems.push(`notBefore (${found.notBefore.toISOString()}) is not before notAfter (${found.notAfter.toISOString()})`);
  if (problems.length > 0) return { problems };
  return { file: rest, ...found };
}

/** A key that still works but will not for long: renew or replace it before `expiresAt`. */
export interface KeyWarning {
  kind: 'expiring';
  fingerprint: string;
  userIds: string[];
  expiresAt: Date;
  file: string;
  /** One line for logs and reports, e.g. `recipient key ABCD… (Backups <…>) from FILE expires on …`. */
  message: string;
}

/** How errors name the settings a loader's files came from. */
export interface KeySettingLabels {
  /** The key file setting, e.g. `--recipient-key / SECRET_STEWARD_RECIPIENT_KEY`. */
  setting?: string;
  /** The passphrase file setting (private keys only). */
  passphraseSetting?: string;
}

export interface LoadRecipientKeysOptions extends Pick<KeySettingLabels, 'setting'> {
  /** The time at which the keys must be valid (the run's clock). */
  now: Date;
  /** Warn about keys that expire within this many milliseconds of `now`. */
  warnWithinMs: number;
}

export interface LoadSigningKeyOptions extends KeySettingLabels {
  now: Date;
  /** Warn when the signing key expires within this many milliseconds of `now`. @default 0 */
  warnWithinMs?: number;
}

const DEFAULT_LABELS = {
  recipient: '--recipient-key',
  signing: '--signing-key',
  signingPassphrase: '--signing-key-passphrase-file',
  decryption: '--decryption-key',
  decryptionPassphrase: '--decryption-key-passphrase-file',
  trusted: '--trusted-signer-key',
} as const;

/**
 * Reads the public keys a backup encrypts to and checks that each can encrypt at `now`.
 *
 * @throws ConfigError listing every problem: unreadable file, not an OpenPGP key, a private key
 *   (the backup job must hold only public keys), expired or revoked key, no valid encryption
 *   (sub)key, or a key GnuPG 2.2 cannot use (v6 keys, RFC 9580 X25519/X448 subkeys), so that the
 *   break-glass restore with plain `gpg --decrypt` always works.
 */
export async function loadRecipientKeys(
  files: readonly string[],
  opts: LoadRecipientKeysOptions,
): Promise<{ keys: RecipientKey[]; warnings: KeyWarning[] }> {
  const setting = opts.setting ?? DEFAULT_LABELS.recipient;
  const problems: ConfigProblem[] = [];
  const keys: RecipientKey[] = [];
  const warnings: KeyWarning[] = [];
  if (files.length === 0)
    problems.push({ setting, message: 'no recipient key file given; backups must be encrypted to at least one public key' });
  for await (const { file, key } of keysOfFiles(files, setting, problems)) {
    const name = `${file}: key ${describeKey(key)}`;
    if (key.isPrivate()) {
      problems.push({
        setting,
        message:
          `${file} holds a PRIVATE key (${fingerprintOf(key)}); the backup job must hold only public keys. ` +
          `Give the public half instead (gpg --armor --export ${fingerprintOf(key)}, or the .public.asc file from secret-steward keygen)`,
      });
      continue;
    }
    const usable = await checkUsable(key, 'encrypt', opts.now);
    if ('problem' in usable) {
      problems.push({ setting, message: `${name} ${usable.problem}` });
      continue;
    }
    if (keys.some((k) => k.fingerprint === fingerprintOf(key))) continue;
    const info = keyInfo(key, file, usable.expiresAt);
    keys.push({ ...info, key: key as PublicKey });
    const warning = expiryWarning('recipient', info, opts.now, opts.warnWithinMs);
    if (warning) warnings.push(warning);
  }
  if (problems.length > 0) throw new ConfigError(problems, 'cannot use the recipient keys');
  return { keys, warnings };
}

/**
 * Reads the private key a backup signs with and unlocks it with the passphrase in
 * `passphraseFile` (one trailing newline is ignored). The file must hold exactly one private key.
 *
 * @throws ConfigError for an unreadable file, a public key, several keys, a passphrase-protected
 *   key without a passphrase file, a wrong passphrase ("cannot unlock signing key FPR from FILE:
 *   wrong passphrase"), an expired or revoked key, or a key without a valid signing (sub)key.
 */
export async function loadSigningKey(
  file: string,
  passphraseFile: string | undefined,
  opts: LoadSigningKeyOptions,
): Promise<{ key: SigningKey; warnings: KeyWarning[] }> {
  const setting = opts.setting ?? DEFAULT_LABELS.signing;
  const passphraseSetting = opts.passphraseSetting ?? DEFAULT_LABELS.signingPassphrase;
  const problems: ConfigProblem[] = [];
  const passphrase = passphraseFile === undefined ? undefined : await readPassphraseFile(passphraseFile, passphraseSetting, problems);
  const read = await readKeyFile(file);
  if ('problem' in read) throw new ConfigError([...problems, { setting, message: read.problem }], 'cannot use the signing key');
  const privateKeys = read.keys.filter((k): k is PrivateKey => k.isPrivate());
  if (privateKeys.length !== read.keys.length || privateKeys.length !== 1) {
    const message =
      privateKeys.length === 0
        ? `${file} holds no private key (only public keys: ${read.keys.map(fingerprintOf).join(', ')}); signing needs the private key (gpg --armor --export-secret-keys FPR)`
        : `${file} holds ${read.keys.length} keys; the signing key file must hold exactly one private key`;
    throw new ConfigError([...problems, { setting, message }], 'cannot use the signing key');
  }
  const usable = await checkUsable(privateKeys[0], 'sign', opts.now);
  if ('problem' in usable) problems.push({ setting, message: `${file}: key ${describeKey(privateKeys[0])} ${usable.problem}` });
  if (problems.length > 0 || 'problem' in usable) throw new ConfigError(problems, 'cannot use the signing key');
  const unlocked = await unlock(privateKeys[0], 'signing', file, passphrase, passphraseFile, passphraseSetting);
  if (!('key' in unlocked)) throw new ConfigError(unlocked.problem ? [unlocked.problem] : [], 'cannot use the signing key');
  const info = keyInfo(unlocked.key, file, usable.expiresAt);
  const warning = expiryWarning('signing', info, opts.now, opts.warnWithinMs ?? 0);
  return { key: { ...info, key: unlocked.key }, warnings: warning ? [warning] : [] };
}

/**
 * Reads the private keys that decrypt backups (several allowed, e.g. the current key and the
 * one it replaced) and unlocks each with the one passphrase in `passphraseFile` (keys stored
 * without a passphrase need none). Expired and revoked keys are accepted on purpose: a key that
 * expired after a backup was made must still restore it.
 *
 * @throws ConfigError for unreadable files, public keys, locked keys without or with a wrong
 *   passphrase, and keys without any decryption-capable (sub)key.
 */
export async function loadDecryptionKeys(
  files: readonly string[],
  passphraseFile?: string,
  labels: KeySettingLabels = {},
): Promise<DecryptionKey[]> {
  const setting = labels.setting ?? DEFAULT_LABELS.decryption;
  const passphraseSetting = labels.passphraseSetting ?? DEFAULT_LABELS.decryptionPassphrase;
  const problems: ConfigProblem[] = [];
  const passphrase = passphraseFile === undefined ? undefined : await readPassphraseFile(passphraseFile, passphraseSetting, problems);
  const keys: DecryptionKey[] = [];
  if (files.length === 0) problems.push({ setting, message: 'no decryption key file given' });
  for await (const { file, key } of keysOfFiles(files, setting, problems)) {
    if (!key.isPrivate()) {
      problems.push({
        setting,
        message: `${file} holds a public key (${fingerprintOf(key)}); decryption needs the private key (the .private.asc file from secret-steward keygen, or gpg --armor --export-secret-keys FPR)`,
      });
      continue;
    }
    try {
      // The same date openpgp.js uses when it picks keys for a message (none: expiry and
      // revocation do not stop decryption of what was encrypted while the key was valid).
      await key.getDecryptionKeys(undefined, null);
    } catch (e) {
      problems.push({
        setting,
        message: `${file}: key ${describeKey(key)} has no key that can decrypt (${errorText(e)}); is it a signing-only key?`,
      });
      continue;
    }
    const unlocked = await unlock(key, 'decryption', file, passphrase, passphraseFile, passphraseSetting);
    if (!('key' in unlocked)) {
      if (unlocked.problem) problems.push(unlocked.problem);
      continue;
    }
    if (keys.some((k) => k.fingerprint === fingerprintOf(key))) continue;
    keys.push({ ...keyInfo(unlocked.key, file, await keyExpiry(unlocked.key, 'primary')), key: unlocked.key });
  }
  if (problems.length > 0) throw new ConfigError(problems, 'cannot use the decryption keys');
  return keys;
}

/**
 * Reads the public keys whose signatures are trusted on backup indexes and drill reports.
 * Expiry is not checked here: a signature is judged against the key as it was when it signed.
 * Each value is a file or `FILE[,notBefore=TIME][,notAfter=TIME]` ({@link parseSignerKeySpec});
 * the window, and the date of a revocation signature the key carries, are returned with the key
 * for the caller to judge signatures by.
 *
 * @throws ConfigError for bad windows, unreadable files, non-keys, private keys (the verifying
 *   side must not hold the signing secret: give the public half), and one key given twice with
 *   different windows.
 */
export async function loadTrustedSignerKeys(
  values: readonly string[],
  labels: Pick<KeySettingLabels, 'setting'> & {
    /** `false` for a setting whose signatures are not judged by a window (drill reports): a window there is a problem, not ignored. @default true */
    windows?: boolean;
  } = {},
): Promise<TrustedSignerKey[]> {
  const setting = labels.setting ?? DEFAULT_LABELS.trusted;
  const problems: ConfigProblem[] = [];
  const keys: TrustedSignerKey[] = [];
  const specs: SignerKeySpec[] = [];
  for (const value of values) {
    const spec = parseSignerKeySpec(value);
    if ('problems' in spec) for (const message of spec.problems) problems.push({ setting, message: `${value}: ${message}` });
    else if (labels.windows === false && (spec.notBefore || spec.notAfter))
      problems.push({ setting, message: `${value}: this setting takes a key file only, without notBefore/notAfter` });
    else specs.push(spec);
  }
  for (const spec of specs)
    for await (const { file, key } of keysOfFiles([spec.file], setting, problems)) {
      if (key.isPrivate()) {
        problems.push({
          setting,
          message: `${file} holds a PRIVATE key (${fingerprintOf(key)}); trusted signer keys must be public keys (gpg --armor --export ${fingerprintOf(key)})`,
        });
        continue;
      }
      const { notBefore, notAfter } = spec;
      const window = { ...(notBefore ? { notBefore } : {}), ...(notAfter ? { notAfter } : {}) };
      const same = keys.find((k) => k.fingerprint === fingerprintOf(key));
      if (same !== undefined) {
        if (same.notBefore?.getTime() !== notBefore?.getTime() || same.notAfter?.getTime() !== notAfter?.getTime())
          problems.push({ setting, message: `key ${fingerprintOf(key)} is given twice (${same.file}, ${file}) with different windows` });
        continue;
      }
      const revokedAt = await revocationTime(key);
      keys.push({
        ...keyInfo(key, file, await keyExpiry(key, 'sign')),
        key: key as PublicKey,
        ...window,
        ...(revokedAt ? { revokedAt } : {}),
      });
    }
  if (problems.length > 0) throw new ConfigError(problems, 'cannot use the trusted signer keys');
  return keys;
}

/**
 * The earliest creation time of a revocation signature on the primary key that verifies, or
 * undefined. openpgp.js itself rejects signatures made after a "retired" or "superseded"
 * revocation and every signature of a key revoked for any other reason (compromise); this date
 * lets seal checks say so and hold the store's own timestamps to it as to `notAfter`.
 */
async function revocationTime(key: Key): Promise<Date | undefined> {
  const dates = ((key as PublicKey).revocationSignatures ?? []).flatMap((r) => (r.created ? [r.created] : []));
  for (const at of dates.sort((a, b) => a.getTime() - b.getTime())) {
    if (await key.isRevoked(undefined, undefined, at).catch(() => false)) return at;
  }
  return undefined;
}

/**
 * When `key` stops being usable for `usage`: the earlier of the primary key's expiry and that
 * of the (sub)key openpgp.js would pick for the usage at `now`. `undefined` when it never
 * expires. For a key that has no valid subkey for the usage any more, the primary key's expiry.
 *
 * @param usage `'primary'` (the key as a whole), `'encrypt'` or `'sign'`. @default 'primary'
 */
export async function keyExpiry(
  key: Key,
  usage: 'primary' | 'encrypt' | 'sign' = 'primary',
  now: Date = new Date(),
): Promise<Date | undefined> {
  const primary = finiteDate(await key.getExpirationTime());
  if (usage === 'primary') return primary;
  let sub: Key | Subkey;
  try {
    sub = usage === 'encrypt' ? await key.getEncryptionKey(undefined, now) : await key.getSigningKey(undefined, now);
  } catch {
    return primary;
  }
  if (sub === key) return primary;
  return earliest(primary, finiteDate(await (sub as Subkey).getExpirationTime(now)));
}

/** `FINGERPRINT (first user id)`, for reports, logs and errors. Accepts a key or a loaded key. */
export function describeKey(key: Key | Pick<KeyInfo, 'fingerprint' | 'userIds'>): string {
  const fingerprint = 'getFingerprint' in key ? fingerprintOf(key) : key.fingerprint;
  const userIds = 'getUserIDs' in key ? key.getUserIDs() : key.userIds;
  return `${fingerprint} (${userIds[0] ?? 'no user id'})`;
}

/** The primary key's fingerprint in upper-case hex, as gpg prints it. */
export function fingerprintOf(key: Key): string {
  return key.getFingerprint().toUpperCase();
}

// ---------------------------------------------------------------------------------------------

type ReadResult = { keys: Key[] } | { problem: string };

/** Every key of every file, in order; a file that cannot be read adds its problem under `setting` instead. */
async function* keysOfFiles(
  files: readonly string[],
  setting: string,
  problems: ConfigProblem[],
): AsyncGenerator<{ file: string; key: Key }> {
  for (const file of files) {
    const read = await readKeyFile(file);
    if ('problem' in read) {
      problems.push({ setting, message: read.problem });
      continue;
    }
    for (const key of read.keys) yield { file, key };
  }
}

const ARMOR_BLOCK = /-----BEGIN PGP ([A-Z ]+?)-----[\s\S]*?-----END PGP \1-----/g;

/** Reads every key in a file, armored (any number of blocks) or binary. */
async function readKeyFile(file: string): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    return { problem: `cannot read ${file}: ${fsErrorText(e)}` };
  }
  if (bytes.length === 0) return { problem: `${file} is empty; expected an OpenPGP key (armored or binary)` };
  const notAKey = `${file} is not an OpenPGP key (expected an armored key block as written by gpg --armor --export or secret-steward keygen, or a binary key)`;
  const text = bytes.toString('latin1');
  try {
    if (text.includes('-----BEGIN PGP ')) {
      const keys: Key[] = [];
      for (const match of text.matchAll(ARMOR_BLOCK)) {
        const type = match[1];
        if (type !== 'PUBLIC KEY BLOCK' && type !== 'PRIVATE KEY BLOCK') {
          return { problem: `${file} holds an OpenPGP ${type.toLowerCase()}, not a key` };
        }
        keys.push(...(await readKeys({ armoredKeys: match[0] })));
      }
      if (keys.length === 0) return { problem: `${notAKey}: the armor block is incomplete` };
      return { keys };
    }
    return { keys: await readKeys({ binaryKeys: bytes }) };
  } catch (e) {
    return { problem: `${notAKey} (${errorText(e)})` };
  }
}

/** Reads a passphrase file, drops one trailing newline, registers the value with the redactor. */
async function readPassphraseFile(file: string, setting: string, problems: ConfigProblem[]): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    problems.push({ setting, message: `cannot read passphrase file ${file}: ${fsErrorText(e)}` });
    return undefined;
  }
  const passphrase = text.replace(/\r?\n$/, '');
  redactor.register(passphrase);
  if (passphrase.length === 0) {
    problems.push({ setting, message: `passphrase file ${file} is empty` });
    return undefined;
  }
  return passphrase;
}

/** Reads a passphrase file for callers outside this module (keygen). Same rules as the loaders. */
export async function readPassphrase(file: string, setting: string): Promise<string> {
  const problems: ConfigProblem[] = [];
  const passphrase = await readPassphraseFile(file, setting, problems);
  if (passphrase === undefined) throw new ConfigError(problems);
  return passphrase;
}

/**
 * Unlocks a private key: as is when it is stored without a passphrase, else with `passphrase`.
 * No problem is returned when the passphrase file was given but could not be read (that problem
 * is already reported).
 */
async function unlock(
  key: PrivateKey,
  role: 'signing' | 'decryption',
  file: string,
  passphrase: string | undefined,
  passphraseFile: string | undefined,
  passphraseSetting: string,
): Promise<{ key: PrivateKey } | { problem?: ConfigProblem }> {
  const locked = key.getKeys().some(({ keyPacket }) => 'isDummy' in keyPacket && !keyPacket.isDummy() && keyPacket.isDecrypted() === false);
  if (!locked) return { key };
  const fingerprint = fingerprintOf(key);
  if (passphrase === undefined) {
    if (passphraseFile !== undefined) return {};
    return {
      problem: {
        setting: passphraseSetting,
        message: `${role} key ${fingerprint} from ${file} is passphrase-protected; give the file holding its passphrase`,
      },
    };
  }
  try {
    return { key: await decryptKey({ privateKey: key, passphrase }) };
  } catch (e) {
    const wrong = /incorrect key passphrase/i.test(errorText(e));
    return {
      problem: {
        setting: passphraseSetting,
        message: wrong
          ? `cannot unlock ${role} key ${fingerprint} from ${file}: wrong passphrase (from ${passphraseFile})`
          : `cannot unlock ${role} key ${fingerprint} from ${file}: ${redactor.sanitize(errorText(e))}`,
      },
    };
  }
}

const WEAK_FOR_GNUPG_22 = new Set<string>([
  enums.read(enums.publicKey, enums.publicKey.x25519),
  enums.read(enums.publicKey, enums.publicKey.x448),
  enums.read(enums.publicKey, enums.publicKey.ed25519),
  enums.read(enums.publicKey, enums.publicKey.ed448),
]);

/**
 * Whether `key` can encrypt or sign at `now`, and until when. The reasons are phrased to follow
 * `FILE: key FPR (uid) `.
 */
async function checkUsable(key: Key, usage: 'encrypt' | 'sign', now: Date): Promise<{ expiresAt?: Date } | { problem: string }> {
  const role = usage === 'encrypt' ? 'encryption' : 'signing';
  if (key.keyPacket.version !== 4) {
    return {
      problem:
        `is a version ${key.keyPacket.version} key; GnuPG 2.2 cannot use v${key.keyPacket.version} keys or messages made for them, ` +
        'so the break-glass restore with gpg would fail. Use a v4 key (secret-steward keygen makes one)',
    };
  }
  if (await key.isRevoked(undefined, undefined, now)) return { problem: 'is revoked; remove it and use a current key' };
  if (key.getCreationTime().getTime() > now.getTime()) {
    return { problem: `was created at ${key.getCreationTime().toISOString()}, after now (${now.toISOString()}); is a clock wrong?` };
  }
  const primaryExpiry = finiteDate(await key.getExpirationTime());
  if (primaryExpiry !== undefined && primaryExpiry.getTime() <= now.getTime()) {
    return { problem: `expired on ${primaryExpiry.toISOString()}; extend it (gpg --quick-set-expire) or replace it` };
  }
  try {
    await key.verifyPrimaryKey(now);
  } catch (e) {
    return { problem: `has no valid self-signature at ${now.toISOString()} (${errorText(e)})` };
  }
  let sub: Key | Subkey;
  try {
    sub = usage === 'encrypt' ? await key.getEncryptionKey(undefined, now) : await key.getSigningKey(undefined, now);
  } catch (e) {
    const hints = await expiredOrRevokedSubkeys(key, usage, now);
    return { problem: `has no valid ${role} (sub)key at ${now.toISOString()}${hints ? `: ${hints}` : ''} (${errorText(e)})` };
  }
  const algorithm = sub.getAlgorithmInfo().algorithm;
  if (WEAK_FOR_GNUPG_22.has(algorithm)) {
    return {
      problem:
        `uses the RFC 9580 ${algorithm} algorithm for ${role}, which GnuPG 2.2 cannot use, so the break-glass restore with gpg ` +
        'would fail. Use an ed25519/cv25519 (v4, "legacy") or RSA key (secret-steward keygen makes one)',
    };
  }
  const subExpiry = sub === key ? undefined : finiteDate(await (sub as Subkey).getExpirationTime(now));
  return { expiresAt: earliest(primaryExpiry, subExpiry) };
}

/** Names subkeys flagged for `usage` that are expired or revoked at `now` (why none is valid). */
async function expiredOrRevokedSubkeys(key: Key, usage: 'encrypt' | 'sign', now: Date): Promise<string> {
  const wanted = usage === 'encrypt' ? enums.keyFlags.encryptCommunication | enums.keyFlags.encryptStorage : enums.keyFlags.signData;
  const notes: string[] = [];
  for (const sub of key.subkeys) {
    const latest = sub.bindingSignatures.at(-1);
    if (!latest?.keyFlags || (latest.keyFlags[0] & wanted) === 0) continue;
    const id = sub.getKeyID().toHex().toUpperCase();
    if (sub.revocationSignatures.length > 0) {
      notes.push(`subkey ${id} is revoked`);
      continue;
    }
    const created = sub.getCreationTime();
    const expiry = latest.keyExpirationTime ? new Date(created.getTime() + latest.keyExpirationTime * 1000) : undefined;
    if (expiry !== undefined && expiry.getTime() <= now.getTime()) notes.push(`subkey ${id} expired on ${expiry.toISOString()}`);
  }
  if (notes.length === 0 && key.subkeys.length === 0 && usage === 'encrypt') return 'it has no subkeys (a signing-only key?)';
  return notes.join(', ');
}

function keyInfo(key: Key, file: string, expiresAt: Date | undefined): KeyInfo {
  return {
    fingerprint: fingerprintOf(key),
    userIds: key.getUserIDs(),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    file,
  };
}

function expiryWarning(role: string, info: KeyInfo, now: Date, warnWithinMs: number): KeyWarning | undefined {
  if (info.expiresAt === undefined || info.expiresAt.getTime() - now.getTime() > warnWithinMs) return undefined;
  const days = Math.max(0, Math.floor((info.expiresAt.getTime() - now.getTime()) / 86_400_000));
  return {
    kind: 'expiring',
    fingerprint: info.fingerprint,
    userIds: info.userIds,
    expiresAt: info.expiresAt,
    file: info.file,
    message:
      `${role} key ${describeKey(info)} from ${info.file} expires on ${info.expiresAt.toISOString()} (in ${days} day${days === 1 ? '' : 's'}); ` +
      'extend it (gpg --quick-set-expire) or add a new key before then',
  };
}

function finiteDate(value: Date | number | null): Date | undefined {
  return value instanceof Date && Number.isFinite(value.getTime()) ? value : undefined;
}

function earliest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

function fsErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return code ?? errorText(e);
  }
}
