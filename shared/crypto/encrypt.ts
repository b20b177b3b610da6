/**
 * Encryption to the recipients' public keys, as binary OpenPGP messages that GnuPG 2.2 reads:
 * v4 PKESK + SEIPDv1 (with MDC), AES, no compression, optionally signed (one-pass signature).
 *
 * Each message gets a fresh session key for the recipients' preferred AES cipher, chosen
 * without AEAD even if every recipient key advertises SEIPDv2 (openpgp.js 6 would switch to
 * SEIPDv2 then, which GnuPG 2.2 cannot decrypt).
 */
import { Readable } from 'node:stream';
import { createMessage, encrypt, generateSessionKey, type Message, type PublicKey, type SessionKey } from 'openpgp';
import { errorText, StewardError } from '../errors/index.js';
import { CryptoError } from './crypto-error.js';
import { describeKey, type RecipientKey, type SigningKey } from './keys.js';
import { OPENPGP_CONFIG } from './openpgp-config.js';
import { readableToWeb, webChunks } from './web-streams.js';

export interface EncryptOptions {
  /** Public keys to encrypt to; any one of their private keys decrypts the message. */
  recipients: readonly RecipientKey[];
  /** Sign the plaintext too (inside the encryption), e.g. the backup index. */
  signingKey?: SigningKey;
  /** What is encrypted, for error messages, e.g. `segment 3 of backup 20261127T110000Z`. @default 'data' */
  label?: string;
  /** Encryption time: keys must be valid then, and it dates the message. @default new Date() */
  now?: Date;
}

/**
 * Encrypts a stream. Returns at once a Readable of the binary OpenPGP message; it streams in
 * flat memory (no compression, nothing buffered beyond openpgp.js's chunks), so any input size
 * works. An error of the `plaintext` stream is passed through unchanged; encryption failures
 * become {@link CryptoError}s. Destroying the result destroys `plaintext`.
 */
export function encryptStream(plaintext: Readable, opts: EncryptOptions): Readable {
  const label = opts.label ?? 'data';
  let inputError: unknown;
  plaintext.once('error', (e) => {
    inputError = e;
  });
  async function* run(): AsyncGenerator<Uint8Array> {
    try {
      const message = await createMessage({ binary: readableToWeb(plaintext) });
      // Leaving this loop early (the consumer destroyed the result) cancels the web stream,
      // which openpgp.js passes on to the input, which destroys `plaintext`.
      for await (const chunk of webChunks(await encryptMessage(message, opts, label))) yield chunk;
    } catch (e) {
      if (inputError !== undefined) throw inputError;
      throw toCryptoError(e, opts, label);
    } finally {
      if (!plaintext.readableEnded) plaintext.destroy();
    }
  }
  return Readable.from(run(), { objectMode: false });
}

/**
 * Encrypts a small document in memory, optionally signed (the backup index is streamed with
 * {@link encryptStream} instead).
 * @returns the binary OpenPGP message.
 */
export async function encryptBytes(plaintext: Uint8Array, opts: EncryptOptions): Promise<Uint8Array> {
  const label = opts.label ?? 'data';
  try {
    const message = await createMessage({ binary: plaintext });
    return (await encryptMessage(message, opts, label)) as Uint8Array;
  } catch (e) {
    throw toCryptoError(e, opts, label);
  }
}

async function encryptMessage(message: Message<never>, opts: EncryptOptions, label: string): Promise<unknown> {
  if (opts.recipients.length === 0) throw new CryptoError('key-unusable', label, `cannot encrypt ${label}: no recipient keys`);
  const date = opts.now ?? new Date();
  const encryptionKeys: PublicKey[] = opts.recipients.map((r) => r.key);
  const chosen = await generateSessionKey({ encryptionKeys, date, config: OPENPGP_CONFIG });
  // Without `aeadAlgorithm` openpgp.js writes SEIPDv1, which GnuPG 2.2 reads.
  const sessionKey: SessionKey = { data: chosen.data, algorithm: chosen.algorithm };
  return encrypt({
    message,
    encryptionKeys,
    ...(opts.signingKey ? { signingKeys: opts.signingKey.key } : {}),
    sessionKey,
    format: 'binary',
    date,
    config: OPENPGP_CONFIG,
  });
}

function toCryptoError(e: unknown, opts: EncryptOptions, label: string): StewardError {
  if (e instanceof StewardError) return e;
  const text = errorText(e);
  const keys = [...opts.recipients.map((r) => describeKey(r)), ...(opts.signingKey ? [`signing key ${describeKey(opts.signingKey)}`] : [])];
  if (/expired|revoked|valid (encryption|signing) key|not decrypted|key packet/i.test(text)) {
    return new CryptoError(
      'key-unusable',
      label,
      `cannot encrypt ${label}: a key can no longer be used (${text}); keys: ${keys.join(', ')}`,
      { cause: e },
    );
  }
  return new CryptoError('failed', label, `cannot encrypt ${label}: ${text}`, { cause: e });
}
