import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { type Generator, isValidDataKey, type SpecProblem } from './generator.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export const KEYPAIR_ALGORITHMS = ['ed25519', 'ecdsa-p256', 'rsa-3072'] as const;
export type KeypairAlgorithm = (typeof KEYPAIR_ALGORITHMS)[number];

const schema = z.strictObject({
  generator: z.literal('keypair'),
  /** @default ed25519 */
  algorithm: z.enum(KEYPAIR_ALGORITHMS).default('ed25519'),
  /** Data key for the public key as SPKI PEM. */
  publicKey: z.string().optional(),
  /** Data key for the public key as one OpenSSH `authorized_keys` line. */
  sshPublicKey: z.string().optional(),
  /** Comment at the end of the OpenSSH line. */
  comment: z
    .string()
    .max(256)
    .regex(/^[^\r\n]*$/, 'one line')
    .optional(),
});

export type KeypairSpec = z.infer<typeof schema>;

/** A fresh key pair as node:crypto KeyObjects. */
export async function newKeyPair(algorithm: KeypairAlgorithm): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (algorithm) {
    case 'ed25519':
      return generateKeyPairAsync('ed25519');
    case 'ecdsa-p256':
      return generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    case 'rsa-3072':
      return generateKeyPairAsync('rsa', { modulusLength: 3072, publicExponent: 0x10001 });
  }
}

/** SSH wire `string`: uint32 length + bytes. */
function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** SSH wire `mpint` from an unsigned big-endian integer. */
function sshMpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let bytes = unsigned.subarray(i);
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return sshString(bytes);
}

/** The public key as an OpenSSH line (`ssh-ed25519 AAAA... comment`), per RFC 4253, 5656 and 8709. */
export function openSshPublicKey(publicKey: KeyObject, comment?: string): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const b = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
  let type: string;
  let blob: Buffer;
  if (publicKey.asymmetricKeyType === 'ed25519') {
    type = 'ssh-ed25519';
    blob = Buffer.concat([sshString(Buffer.from(type)), sshString(b(jwk.x))]);
  } else if (publicKey.asymmetricKeyType === 'ec' && jwk.crv === 'P-256') {
    type = 'ecdsa-sha2-nistp256';
    const point = Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]);
    blob = Buffer.concat([sshString(Buffer.from(type)), sshString(Buffer.from('nistp256')), sshString(point)]);
  } else if (publicKey.asymmetricKeyType === 'rsa') {
    type = 'ssh-rsa';
    blob = Buffer.concat([sshString(Buffer.from(type)), sshMpint(b(jwk.e)), sshMpint(b(jwk.n))]);
  } else {
    throw new Error(`no OpenSSH format for ${publicKey.asymmetricKeyType ?? 'unknown'} keys`);
  }
  return `${type} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

/**
 * An asymmetric key pair: the private key as PKCS#8 PEM in the spec's own key, and on
 * request the public key as SPKI PEM and as an OpenSSH line.
 */
export const keypairGenerator: Generator<KeypairSpec> = {
  name: 'keypair',
  summary: 'ed25519, ecdsa-p256 or rsa-3072 key pair: PKCS#8 private PEM, public PEM, OpenSSH public line',
  schema,
  extraOutputs: (_key, spec) => [spec.publicKey, spec.sshPublicKey].filter((k): k is string => k !== undefined),
  inputs: () => [],
  validate(key, spec) {
    const problems: SpecProblem[] = [];
    for (const field of ['publicKey', 'sshPublicKey'] as const) {
      const target = spec[field];
      if (target === undefined) continue;
      if (!isValidDataKey(target))
        problems.push({ path: [field], message: `"${target}" is not a valid data key (letters, digits, '-', '_', '.')` });
      else if (target === key) problems.push({ path: [field], message: 'must differ from the key holding the private key' });
    }
    if (spec.publicKey !== undefined && spec.publicKey === spec.sshPublicKey) {
      problems.push({ path: ['sshPublicKey'], message: 'must differ from publicKey' });
    }
    return problems;
  },
  async generate(spec, ctx) {
    const { privateKey, publicKey } = await newKeyPair(spec.algorithm);
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    ctx.register(privatePem);
    const out = new Map([[ctx.key, Buffer.from(privatePem, 'utf8')]]);
    if (spec.publicKey !== undefined)
      out.set(spec.publicKey, Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'utf8'));
    if (spec.sshPublicKey !== undefined) out.set(spec.sshPublicKey, Buffer.from(`${openSshPublicKey(publicKey, spec.comment)}\n`, 'utf8'));
    return out;
  },
};
