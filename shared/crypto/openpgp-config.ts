import { enums, type PartialConfig } from 'openpgp';

/**
 * The openpgp.js settings every call in this module passes explicitly (the library's global
 * `config` is left alone, so that nothing else in the process can change what we produce).
 *
 * - No compression: openpgp.js's zlib grows memory with the input size, and Secret data
 *   compresses poorly anyway. GnuPG reads uncompressed messages as usual.
 * - No AEAD (SEIPDv2) and v4 keys: GnuPG 2.2 rejects both, and the break-glass restore is
 *   plain `gpg --decrypt`. (The session key is also chosen without AEAD, see `encrypt.ts`.)
 * - `allowUnauthenticatedStream: false`: no decrypted byte is released before the integrity
 *   check (MDC) of the whole message passed. openpgp.js therefore buffers a whole message
 *   while decrypting it; backup segments are bounded in size for that reason.
 */
export const OPENPGP_CONFIG = {
  preferredCompressionAlgorithm: enums.compression.uncompressed,
  aeadProtect: false,
  v6Keys: false,
  allowUnauthenticatedStream: false,
  allowUnauthenticatedMessages: false,
} as const satisfies PartialConfig;
