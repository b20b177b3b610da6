/**
 * The OpenPGP layer: loading configured keys (`keys.ts`), encrypting (`encrypt.ts`),
 * decrypting (`decrypt.ts`), signatures (`signatures.ts`) and key generation (`keygen.ts`).
 * Everything it writes is what GnuPG 2.2 reads: v4 keys, SEIPDv1 with MDC, AES, no AEAD.
 */
export { CryptoError, type CryptoErrorKind } from './crypto-error.js';
export { type DecryptAndVerifyOptions, type DecryptOptions, decryptAndVerify, decryptStream } from './decrypt.js';
export { type EncryptOptions, encryptBytes, encryptStream } from './encrypt.js';
export { fileBaseName, type KeyFilePaths, keyFilePaths } from './key-file-names.js';
export {
  type GeneratedKeyPair,
  type GenerateKeyPairOptions,
  generateKeyPair,
  type KeyFile,
  randomPassphrase,
  refuseExisting,
  writeKeyFiles,
} from './keygen.js';
export {
  type DecryptionKey,
  describeKey,
  fingerprintOf,
  type KeyInfo,
  type KeySettingLabels,
  type KeyWarning,
  keyExpiry,
  type LoadRecipientKeysOptions,
  type LoadSigningKeyOptions,
  loadDecryptionKeys,
  loadRecipientKeys,
  loadSigningKey,
  loadTrustedSignerKeys,
  parseSignerKeySpec,
  type RecipientKey,
  readPassphrase,
  type SignerKeySpec,
  type SigningKey,
  type TrustedSignerKey,
} from './keys.js';
export { type ReencryptOptions, reencryptBytes } from './reencrypt.js';
export {
  type SignatureCheck,
  signCleartext,
  signDetached,
  type TrustedSigner,
  verifyCleartext,
  verifyDetached,
} from './signatures.js';
