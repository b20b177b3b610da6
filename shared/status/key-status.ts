/**
 * Key expiry for `status`: the public keys backups are encrypted to and the key that signs
 * them. Only public keys are read (status never needs a private key); an expired or revoked
 * key is reported rather than refused, since reporting it is the point.
 */
import type { PublicKey } from 'openpgp';
import { keyExpiry, loadTrustedSignerKeys, type TrustedSignerKey } from '../crypto/index.js';
import { ConfigError, errorText } from '../errors/index.js';

export type KeyRole = 'recipient' | 'signer';

/**
 * - `ok`: usable for its role now and beyond the warning window;
 * - `expiring`: usable, but expires within the warning window;
 * - `expired`, `revoked`: no longer usable for its role (backups fail to encrypt or sign);
 * - `unusable`: not expired or revoked, yet has no valid (sub)key for its role.
 */
export type KeyState = 'ok' | 'expiring' | 'expired' | 'revoked' | 'unusable';

export interface KeyStatus {
  role: KeyRole;
  fingerprint: string;
  userId: string;
  file: string;
  /** When it stops being usable for its role; absent when it never expires. */
  expiresAt?: string;
  state: KeyState;
  detail: string;
}

export interface KeyStatusOptions {
  now: Date;
  warnWithinMs: number;
}

const DAY = 86_400_000;

/** Judges one loaded public key for its role at `now`. */
export async function assessKey(
  k: Pick<TrustedSignerKey, 'fingerprint' | 'userIds' | 'file'> & { key: PublicKey },
  role: KeyRole,
  o: KeyStatusOptions,
): Promise<KeyStatus> {
  const base = { role, fingerprint: k.fingerprint, userId: k.userIds[0] ?? '', file: k.file };
  const usage = role === 'recipient' ? 'encrypt' : 'sign';
  const verb = role === 'recipient' ? 'encrypt backups' : 'sign backups';
  if (await k.key.isRevoked(undefined, undefined, o.now)) {
    return { ...base, state: 'revoked', detail: `revoked: cannot ${verb}; replace it` };
  }
  try {
    if (role === 'recipient') await k.key.getEncryptionKey(undefined, o.now);
    else await k.key.getSigningKey(undefined, o.now);
  } catch (e) {
    const primary = await keyExpiry(k.key, 'primary');
    if (primary !== undefined && primary.getTime() <= o.now.getTime()) {
      return {
        ...base,
        expiresAt: primary.toISOString(),
        state: 'expired',
        detail: `expired on ${primary.toISOString()}: cannot ${verb}; extend it (gpg --quick-set-expire) or replace it`,
      };
    }
    const why = errorText(e);
    const expired = /expired/i.test(why);
    return {
      ...base,
      state: expired ? 'expired' : 'unusable',
      detail: `no valid ${usage === 'encrypt' ? 'encryption' : 'signing'} key at ${o.now.toISOString()} (${why}): cannot ${verb}`,
    };
  }
  const expiresAt = await keyExpiry(k.key, usage, o.now);
  if (expiresAt === undefined) return { ...base, state: 'ok', detail: 'never expires' };
  const left = expiresAt.getTime() - o.now.getTime();
  const days = Math.floor(left / DAY);
  const when = `expires on ${expiresAt.toISOString()} (in ${days} day${days === 1 ? '' : 's'})`;
  if (left <= o.warnWithinMs) {
    return {
      ...base,
      expiresAt: expiresAt.toISOString(),
      state: 'expiring',
      detail: `${when}; extend it (gpg --quick-set-expire) or add a new key before then`,
    };
  }
  return { ...base, expiresAt: expiresAt.toISOString(), state: 'ok', detail: when };
}

/**
 * Reads the key files (public keys only: a private key is a configuration error, as for
 * verify-restore's trusted signer keys) and judges each key for its role.
 *
 * @throws ConfigError naming the setting for unreadable files, non-keys and private keys.
 */
export async function collectKeyStatus(
  files: { recipient: readonly string[]; signer: readonly string[] },
  o: KeyStatusOptions,
): Promise<KeyStatus[]> {
  const loaded = await Promise.allSettled([
    loadTrustedSignerKeys(files.recipient, { setting: '--recipient-key / SECRET_STEWARD_RECIPIENT_KEY', windows: false }),
    loadTrustedSignerKeys(files.signer, { setting: '--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY' }),
  ]);
  const failures = loaded.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    // Every problem of both settings at once.
    if (failures.every((f) => f instanceof ConfigError))
      throw new ConfigError(
        failures.flatMap((f) => (f as ConfigError).problems),
        'cannot read the key files',
      );
    throw failures[0];
  }
  const [recipients, signers] = loaded.map((r) => (r as PromiseFulfilledResult<TrustedSignerKey[]>).value);
  const out: KeyStatus[] = [];
  for (const k of recipients) out.push(await assessKey(k, 'recipient', o));
  // A signer retired with notAfter (a rollover's old key) signs nothing any more: its expiry or
  // revocation is nothing to act on. Its old seals are still judged by the catalogue.
  for (const k of signers) if (k.notAfter === undefined || k.notAfter > o.now) out.push(await assessKey(k, 'signer', o));
  return out;
}
