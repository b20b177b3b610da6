/**
 * Decryption of backup segments and of the signed backup index.
 *
 * Integrity first: openpgp.js runs with `allowUnauthenticatedStream: false`, so no decrypted
 * byte is released before the whole message passed its integrity check (MDC). The price is
 * that openpgp.js holds a whole message in memory while it decrypts it (measured here: RSS
 * grows by about 2.5 times the message size, +130-160 MiB for a 64 MiB message), which is why backups are written as bounded-size segments, each
 * its own message, and never as one message per backup.
 *
 * Decrypted plaintext is Secret data: these functions never log it or put it in an error; the
 * caller registers each value with the redactor as it parses it.
 */
import { Readable } from 'node:stream';
import { decrypt, enums, type KeyID, type Message, readMessage } from 'openpgp';
import { errorText, StewardError } from '../errors/index.js';
import { CryptoError } from './crypto-error.js';
import { type DecryptionKey, describeKey } from './keys.js';
import { OPENPGP_CONFIG } from './openpgp-config.js';
import { judgeSignatures, publicKeysOf, type SignatureCheck, type TrustedSigner } from './signatures.js';
import { readableToWeb, webChunks } from './web-streams.js';

export interface DecryptOptions {
  /** Unlocked private keys (from `loadDecryptionKeys`); the one the message names is used. */
  decryptionKeys: readonly DecryptionKey[];
  /** What is decrypted, named in every error, e.g. `segment 3 of backup 20261127T110000Z`. @default 'message' */
  label?: string;
  /**
   * Refuse (CryptoError `unsupported`) a message whose compressed data packet inflates past
   * this many bytes: openpgp.js inflates such a packet whole, in memory, so a few kilobytes of
   * message could otherwise claim gigabytes. Uncompressed messages (ours) never meet it.
   * @default no limit
   */
  maxPlaintextBytes?: number;
}

export interface DecryptAndVerifyOptions extends DecryptOptions {
  /** Keys whose signatures are trusted (from `loadTrustedSignerKeys`, or bare public keys). */
  trustedSigners: readonly TrustedSigner[];
  /** The time signatures are judged at. @default new Date() */
  now?: Date;
}

/**
 * Decrypts one binary OpenPGP message (a backup segment). Resolves once the whole message has
 * been decrypted and its integrity verified, with a Readable of the plaintext; rejects with a
 * {@link CryptoError} (`wrong-key`, `corrupt`, `unsupported`, `key-unusable`) otherwise, so a
 * consumer never sees bytes of a message that turns out to be damaged. Memory: about a few
 * times the message size (see the module comment), so messages must be bounded in size.
 * Signatures inside the message are not checked here (segment integrity is vouched for by the
 * signed index, which records each segment's digest). An error of `ciphertext` itself (e.g.
 * a storage read failure) is passed through unchanged.
 */
export async function decryptStream(ciphertext: Readable, opts: DecryptOptions): Promise<Readable> {
  const label = opts.label ?? 'message';
  let inputError: unknown;
  ciphertext.once('error', (e) => {
    inputError = e;
  });
  const rethrow = (e: unknown): never => {
    if (inputError !== undefined) throw inputError;
    throw e;
  };
  let data: unknown;
  try {
    const message = await parseMessage(() => readMessage({ binaryMessage: readableToWeb(ciphertext), config: OPENPGP_CONFIG }), label);
    checkRecipients(message, opts.decryptionKeys, label);
    try {
      data = (await decrypt({ message, decryptionKeys: opts.decryptionKeys.map((k) => k.key), format: 'binary', config: configFor(opts) }))
        .data;
    } catch (e) {
      throw classify(e, opts, label);
    }
  } catch (e) {
    // Release the source (e.g. an object store response) of a message we will not read.
    if (!ciphertext.readableEnded) ciphertext.destroy();
    rethrow(e);
  }
  async function* guarded(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of webChunks(data)) yield chunk;
    } catch (e) {
      rethrow(classify(e, opts, label));
    } finally {
      if (!ciphertext.readableEnded) ciphertext.destroy();
    }
  }
  return Readable.from(guarded(), { objectMode: false });
}

/**
 * Decrypts a small message in memory (the backup index) and checks its signatures against the
 * trusted signers. The signature outcome is returned, not thrown: `valid`, `unsigned`,
 * `untrusted` (signed by a key not in the trusted set: `signerKeyId`/`signerFingerprint` say
 * which) or `invalid` (a trusted key's signature does not verify). Decryption failures throw a
 * {@link CryptoError}. The plaintext is returned to the caller only; it is never logged.
 */
export async function decryptAndVerify(
  ciphertext: Uint8Array,
  opts: DecryptAndVerifyOptions,
): Promise<{ plaintext: Uint8Array; signature: SignatureCheck }> {
  const label = opts.label ?? 'message';
  const message = await parseMessage(() => readMessage({ binaryMessage: ciphertext, config: OPENPGP_CONFIG }), label);
  checkRecipients(message, opts.decryptionKeys, label);
  const trusted = publicKeysOf(opts.trustedSigners);
  try {
    const result = await decrypt({
      message,
      decryptionKeys: opts.decryptionKeys.map((k) => k.key),
      verificationKeys: trusted,
      format: 'binary',
      date: opts.now ?? new Date(),
      config: configFor(opts),
    });
    return { plaintext: result.data as Uint8Array, signature: await judgeSignatures(result.signatures, trusted) };
  } catch (e) {
    throw classify(e, opts, label);
  }
}

function configFor(opts: DecryptOptions): typeof OPENPGP_CONFIG & { maxDecompressedMessageSize?: number } {
  return opts.maxPlaintextBytes === undefined ? OPENPGP_CONFIG : { ...OPENPGP_CONFIG, maxDecompressedMessageSize: opts.maxPlaintextBytes };
}

async function parseMessage<T extends Message<never>>(read: () => Promise<T>, label: string): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw new CryptoError(
      'corrupt',
      label,
      `cannot decrypt ${label}: it is not a complete OpenPGP message (empty, truncated, damaged or not OpenPGP at all) (${errorText(e)})`,
      { cause: e },
    );
  }
}

/**
 * Fails early, with the key ids on both sides, when the message is not encrypted to any of the
 * keys given (openpgp.js would only say "No decryption key packets found").
 */
function checkRecipients(message: Message<never>, keys: readonly DecryptionKey[], label: string): void {
  const recipients: KeyID[] = message.getEncryptionKeyIDs();
  if (recipients.length === 0) {
    if (message.packets.filterByTag(enums.packet.symEncryptedSessionKey).length > 0) {
      throw new CryptoError('unsupported', label, `cannot decrypt ${label}: it is encrypted with a password, not to a key`);
    }
    throw new CryptoError('corrupt', label, `cannot decrypt ${label}: it is not an encrypted OpenPGP message (no recipient)`);
  }
  if (keys.length === 0) throw new CryptoError('wrong-key', label, `cannot decrypt ${label}: no decryption keys given`);
  const wildcard = recipients.some((id) => /^0+$/.test(id.toHex()));
  const ours = keys.flatMap((k) => k.key.getKeys().map((p) => p.getKeyID()));
  if (wildcard || recipients.some((id) => ours.some((o) => o.equals(id)))) return;
  throw new CryptoError(
    'wrong-key',
    label,
    `cannot decrypt ${label}: it is encrypted to key id${recipients.length === 1 ? '' : 's'} ${recipients.map(hexId).join(', ')}, ` +
      `but the decryption keys given are ${keys
        .map(
          (k) =>
            `${describeKey(k)} [key ids ${k.key
              .getKeys()
              .map((p) => hexId(p.getKeyID()))
              .join(', ')}]`,
        )
        .join('; ')}`,
  );
}

/** Maps an openpgp.js decryption failure to a {@link CryptoError} kind. */
function classify(e: unknown, opts: DecryptOptions, label: string): StewardError {
  if (e instanceof StewardError) return e;
  const keys = opts.decryptionKeys;
  const text = errorText(e);
  if (/maximum decompressed message size exceeded/i.test(text)) {
    return new CryptoError(
      'unsupported',
      label,
      `cannot decrypt ${label}: its OpenPGP compressed data inflates past ${opts.maxPlaintextBytes} bytes, the most allowed for a message of its size (a decompression bomb, or not written by secret-steward)`,
      { cause: e },
    );
  }
  if (/no decryption key packets found/i.test(text)) {
    return new CryptoError(
      'wrong-key',
      label,
      `cannot decrypt ${label}: none of the decryption keys given (${keys.map((k) => describeKey(k)).join('; ')}) can decrypt it (${text})`,
      { cause: e },
    );
  }
  if (/not decrypted|decrypt(ed)? private key|gnu-dummy/i.test(text)) {
    return new CryptoError(
      'key-unusable',
      label,
      `cannot decrypt ${label}: a decryption key is locked or has no secret material (${text})`,
      { cause: e },
    );
  }
  return new CryptoError(
    'corrupt',
    label,
    `cannot decrypt ${label}: the data is damaged, truncated or was modified after encryption (${text})`,
    { cause: e },
  );
}

function hexId(id: KeyID): string {
  return id.toHex().toUpperCase();
}
