/**
 * Signatures: detached signatures for documents stored in clear (drill reports), and the one
 * way every signature check in secret-steward is judged, so that "who signed this, and do we
 * trust it?" has the same answer for a detached signature and for a signed, encrypted index.
 */
import {
  createCleartextMessage,
  createMessage,
  type PublicKey,
  readCleartextMessage,
  readSignature,
  type Signature,
  sign,
  verify,
} from 'openpgp';
import { errorText } from '../errors/index.js';
import { CryptoError } from './crypto-error.js';
import { describeKey, fingerprintOf, type SigningKey, type TrustedSignerKey } from './keys.js';
import { OPENPGP_CONFIG } from './openpgp-config.js';

/**
 * The outcome of checking the signatures on a document against the trusted signer keys.
 *
 * - `valid`: signed by a trusted key, and every signature by a trusted key verifies.
 * - `unsigned`: no signature at all.
 * - `untrusted`: signed, but only by keys that are not trusted (`signerKeyId`, and
 *   `signerFingerprint` when the signature names it, say by whom).
 * - `invalid`: a signature by a trusted key does not verify (the data differs from what was
 *   signed, or the key was not valid for signing when the signature was made); or a detached
 *   signature that is not an OpenPGP signature at all. `reason` says which.
 */
export interface SignatureCheck {
  status: 'valid' | 'unsigned' | 'untrusted' | 'invalid';
  /**
   * `valid`/`invalid`: the trusted key's primary fingerprint. `untrusted`: the issuer
   * fingerprint recorded in the signature (that of the signing subkey), when present.
   */
  signerFingerprint?: string;
  /** The signing (sub)key id recorded in the signature, 16 upper-case hex digits. */
  signerKeyId?: string;
  /** When the signature says it was made. */
  signedAt?: Date;
  /** Why a signature is `invalid` (openpgp.js's explanation), or why it was not checked. */
  reason?: string;
}

/** A trusted signer: a loaded key or a bare openpgp.js public key. */
export type TrustedSigner = TrustedSignerKey | PublicKey;

/**
 * Signs `data` with a detached, ASCII-armored signature (binary-document signature over the
 * exact bytes; `gpg --verify SIG DATA` checks it).
 *
 * @param opts.label What is signed, for error messages. @default 'document'
 * @param opts.now Signature creation time. @default new Date()
 * @throws CryptoError (`key-unusable`) when the key can no longer sign (expired since it loaded).
 */
export async function signDetached(data: Uint8Array, signingKey: SigningKey, opts: { label?: string; now?: Date } = {}): Promise<string> {
  const label = opts.label ?? 'document';
  try {
    const message = await createMessage({ binary: data });
    return await sign({
      message,
      signingKeys: signingKey.key,
      detached: true,
      format: 'armored',
      date: opts.now ?? new Date(),
      config: OPENPGP_CONFIG,
    });
  } catch (e) {
    throw new CryptoError('key-unusable', label, `cannot sign ${label} with key ${describeKey(signingKey)}: ${errorText(e)}`, { cause: e });
  }
}

/**
 * Checks a detached signature over `data` against the trusted keys. Never throws for a bad or
 * missing signature: the caller decides what each {@link SignatureCheck} status means.
 *
 * @param signature Armored (string) or binary signature; `undefined` or empty means unsigned.
 * @param opts.now The time the signature is judged at (it must not be dated after it). @default new Date()
 */
export async function verifyDetached(
  data: Uint8Array,
  signature: string | Uint8Array | undefined,
  trustedKeys: readonly TrustedSigner[],
  opts: { now?: Date } = {},
): Promise<SignatureCheck> {
  if (signature === undefined || signature.length === 0) return { status: 'unsigned' };
  let parsed: Signature;
  try {
    parsed =
      typeof signature === 'string'
        ? await readSignature({ armoredSignature: signature, config: OPENPGP_CONFIG })
        : await readSignature({ binarySignature: signature, config: OPENPGP_CONFIG });
  } catch (e) {
    return { status: 'invalid', reason: `not an OpenPGP signature (${errorText(e)})` };
  }
  const keys = publicKeysOf(trustedKeys);
  const result = await verify({
    message: await createMessage({ binary: data }),
    signature: parsed,
    verificationKeys: keys,
    format: 'binary',
    date: opts.now ?? new Date(),
    config: OPENPGP_CONFIG,
  });
  return judgeSignatures(result.signatures, keys);
}

/**
 * Signs `text` as an OpenPGP cleartext-signed message (RFC 9580 section 7, what `gpg
 * --clearsign` writes): the text stays readable in the armored result, and `gpg --verify`
 * checks it. Meant for short one-line documents (JSON): cleartext signing ignores trailing
 * white space and normalises line endings, so `text` must have neither.
 *
 * @throws CryptoError (`key-unusable`) when the key can no longer sign.
 */
export async function signCleartext(text: string, signingKey: SigningKey, opts: { label?: string; now?: Date } = {}): Promise<string> {
  const label = opts.label ?? 'document';
  if (/[ \t]$/m.test(text) || text.includes('\r'))
    throw new RangeError(`${label}: cleartext signing would alter trailing white space or line endings`);
  try {
    return await sign({
      message: await createCleartextMessage({ text }),
      signingKeys: signingKey.key,
      date: opts.now ?? new Date(),
      config: OPENPGP_CONFIG,
    });
  } catch (e) {
    throw new CryptoError('key-unusable', label, `cannot sign ${label} with key ${describeKey(signingKey)}: ${errorText(e)}`, { cause: e });
  }
}

/**
 * Reads a cleartext-signed message and checks its signatures against the trusted keys, judged
 * as {@link verifyDetached} judges. Never throws for a bad or missing signature. `text` is
 * what was signed; it is `undefined` when the input is not a cleartext-signed message at all
 * (then `check.status` is `invalid`). Callers bound the input's size before calling.
 */
export async function verifyCleartext(
  armored: string,
  trustedKeys: readonly TrustedSigner[],
  opts: { now?: Date } = {},
): Promise<{ text?: string; check: SignatureCheck }> {
  let message: Awaited<ReturnType<typeof readCleartextMessage>>;
  try {
    message = await readCleartextMessage({ cleartextMessage: armored, config: OPENPGP_CONFIG });
  } catch (e) {
    return { check: { status: 'invalid', reason: `not an OpenPGP cleartext-signed message (${errorText(e)})` } };
  }
  const keys = publicKeysOf(trustedKeys);
  const result = await verify({ message, verificationKeys: keys, date: opts.now ?? new Date(), config: OPENPGP_CONFIG });
  return { text: result.data, check: await judgeSignatures(result.signatures, keys) };
}

/** What openpgp.js reports per signature (from `verify` and `decrypt`). */
interface VerificationResultLike {
  keyID: { toHex(): string };
  verified: Promise<true>;
  signature: Promise<Signature>;
}

/**
 * Turns openpgp.js's per-signature results into one {@link SignatureCheck}. Precedence: any
 * trusted signature that fails makes the whole `invalid` (someone holding a trusted key signed
 * something else, or the data changed); otherwise one trusted signature that verifies makes it
 * `valid`; otherwise signatures by unknown keys make it `untrusted`.
 * @internal shared with decrypt.ts
 */
export async function judgeSignatures(results: readonly VerificationResultLike[], trusted: readonly PublicKey[]): Promise<SignatureCheck> {
  if (results.length === 0) return { status: 'unsigned' };
  const outcomes = await Promise.all(
    results.map(async (r): Promise<SignatureCheck> => {
      const signerKeyId = r.keyID.toHex().toUpperCase();
      let signedAt: Date | undefined;
      let issuerFingerprint: string | undefined;
      try {
        const packet = (await r.signature).packets[0];
        signedAt = packet?.created ?? undefined;
        if (packet?.issuerFingerprint) issuerFingerprint = Buffer.from(packet.issuerFingerprint).toString('hex').toUpperCase();
      } catch {
        // A signature packet that did not parse: `verified` below reports why.
      }
      const when = signedAt === undefined ? {} : { signedAt };
      const key = trusted.find((k) => k.getKeys(r.keyID as never).length > 0);
      if (key === undefined) {
        return { status: 'untrusted', signerKeyId, ...(issuerFingerprint ? { signerFingerprint: issuerFingerprint } : {}), ...when };
      }
      try {
        await r.verified;
        return { status: 'valid', signerKeyId, signerFingerprint: fingerprintOf(key), ...when };
      } catch (e) {
        return { status: 'invalid', signerKeyId, signerFingerprint: fingerprintOf(key), reason: errorText(e), ...when };
      }
    }),
  );
  for (const status of ['invalid', 'valid', 'untrusted'] as const) {
    const found = outcomes.find((o) => o.status === status);
    if (found) return found;
  }
  return { status: 'unsigned' };
}

/** The openpgp.js keys of a list of loaded or bare keys. @internal */
export function publicKeysOf(keys: readonly TrustedSigner[]): PublicKey[] {
  return keys.map((k) => ('key' in k && 'fingerprint' in k ? k.key : (k as PublicKey)));
}
