/**
 * The OpenPGP layer: loading configured keys (`keys.ts`), encrypting (`encrypt.ts`),
 * decrypting (`decrypt.ts`), signatures (`signatures.ts`) and key generation (`keygen.ts`).
 * Everything it writes is what GnuPG 2.2 reads: v4 keys, SEIPDv1 with MDC, AES, no AEAD.
 */
export { CryptoError, type CryptoErrorKind } from './crypto-error.js';
export {
  loadRecipientKeys,
  loadSigningKey,
  loadDecryptionKeys,
  loadTrustedSignerKeys,
  readPassphrase,
  keyExpiry,
  describeKey,
  fingerprintOf,
  type KeyInfo,
  type RecipientKey,
  type SigningKey,
  type DecryptionKey,
  type TrustedSignerKey,
  type KeyWarning,
  type KeySettingLabels,
  type LoadRecipientKeysOptions,
  type LoadSigningKeyOptions,
} from './keys.js';
export { encryptStream, encryptBytes, type EncryptOptions } from './encrypt.js';
export { decryptStream, decryptAndVerify, type DecryptOptions, type DecryptAndVerifyOptions } from './decrypt.js';
export { signDetached, verifyDetached, type SignatureCheck, type TrustedSigner } from './signatures.js';
export {
  generateKeyPair,
  randomPassphrase,
  keyFilePaths,
  fileBaseName,
  writeKeyFiles,
  refuseExisting,
  type GenerateKeyPairOptions,
  type GeneratedKeyPair,
  type KeyFilePaths,
  type KeyFile,
} from './keygen.js';
