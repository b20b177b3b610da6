/**
 * Re-encryption of a stored OpenPGP message to other recipients (the `rekey` command): the
 * message is decrypted with the old keys and its decrypted packets (literal data, and any
 * one-pass signature and signature packets around it, or a compressed packet holding them)
 * are encrypted again, unchanged, under a fresh session key. A signed message therefore keeps
 * its original signature: whoever verified it before verifies it after, and the re-encrypting
 * party never signs it.
 */
import { type AnyPacket, config as defaults, generateSessionKey, Message, PacketList, readMessage } from 'openpgp';
import { errorText, StewardError } from '../errors/index.js';
import { CryptoError } from './crypto-error.js';
import { type DecryptionKey, describeKey, type RecipientKey } from './keys.js';
import { OPENPGP_CONFIG } from './openpgp-config.js';

/** The Message methods below take a full configuration (the top-level functions fill in defaults themselves). */
const FULL_CONFIG = { ...defaults, ...OPENPGP_CONFIG } as never;

export interface ReencryptOptions {
  /** Unlocked private keys that decrypt the message as stored. */
  decryptionKeys: readonly DecryptionKey[];
  /** Public keys the new message is encrypted to. */
  recipients: readonly RecipientKey[];
  /** What is re-encrypted, named in every error, e.g. `segment 3 of backup 20261127T110000Z-3f9a1c`. */
  label: string;
  /** Encryption time: the new recipients' keys must be valid then. */
  now: Date;
}

/**
 * Re-encrypts one binary OpenPGP message in memory (a bounded backup segment or an index):
 * the old message's integrity check (MDC) must pass before anything is written again.
 * @returns the new binary message: a PKESK to each recipient + SEIPDv1, as `encrypt.ts` writes.
 * @throws CryptoError (`wrong-key`, `corrupt`, `key-unusable`, `failed`).
 */
export async function reencryptBytes(ciphertext: Uint8Array, opts: ReencryptOptions): Promise<Uint8Array> {
  const { label } = opts;
  if (opts.recipients.length === 0) throw new CryptoError('key-unusable', label, `cannot re-encrypt ${label}: no recipient keys`);
  let inner: Message<Uint8Array>;
  try {
    const message = await readMessage({ binaryMessage: ciphertext, config: OPENPGP_CONFIG });
    const decrypted = await message.decrypt(
      opts.decryptionKeys.map((k) => k.key),
      undefined,
      undefined,
      opts.now,
      FULL_CONFIG,
    );
    inner = new Message(await allPackets(decrypted.packets));
  } catch (e) {
    const text = errorText(e);
    const kind = /no decryption key packets|session key/i.test(text) ? 'wrong-key' : 'corrupt';
    throw new CryptoError(
      kind,
      label,
      `cannot re-encrypt ${label}: it does not decrypt with the decryption keys given (${opts.decryptionKeys.map((k) => describeKey(k)).join('; ')}): ${text}`,
      { cause: e },
    );
  }
  try {
    const encryptionKeys = opts.recipients.map((r) => r.key);
    const chosen = await generateSessionKey({ encryptionKeys, date: opts.now, config: OPENPGP_CONFIG });
    // Without an AEAD algorithm the new message is SEIPDv1, which GnuPG 2.2 reads (see encrypt.ts).
    const encrypted = await inner.encrypt(
      encryptionKeys,
      undefined,
      // openpgp.js types this parameter as an array; the implementation takes one session key.
      { data: chosen.data, algorithm: chosen.algorithm } as never,
      false,
      [],
      opts.now,
      [],
      FULL_CONFIG,
    );
    return encrypted.write() as Uint8Array;
  } catch (e) {
    if (e instanceof StewardError) throw e;
    throw new CryptoError(
      'key-unusable',
      label,
      `cannot re-encrypt ${label} to ${opts.recipients.map((r) => describeKey(r)).join(', ')}: ${errorText(e)}`,
      { cause: e },
    );
  }
}

/**
 * Every packet of a decrypted message. openpgp.js parses the first packets into the list and
 * leaves the rest (the trailing signature packets of a one-pass signed message) in the list's
 * `stream`; writing the list alone would drop the signature.
 */
async function allPackets(list: PacketList<AnyPacket>): Promise<PacketList<AnyPacket>> {
  const out = new PacketList<AnyPacket>();
  out.push(...list);
  const rest = (list as unknown as { stream?: ReadableStream<AnyPacket> }).stream;
  if (rest === undefined) return out;
  const reader = rest.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}
