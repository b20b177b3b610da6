import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { entropyProblem, minEntropyBitsField } from './entropy.js';
import type { Generator, SpecProblem } from './generator.js';

/** The most random bytes a spec may ask for. */
const MAX_BYTES = 4096;

const schema = z.strictObject({
  generator: z.literal('token'),
  /** Random bytes before encoding. @default 32 */
  bytes: z.number().int().min(8).max(MAX_BYTES).default(32),
  /** @default base64url */
  encoding: z.enum(['hex', 'base64', 'base64url']).default('base64url'),
  /** Text put in front of the encoded bytes, e.g. `sk_live_`. */
  prefix: z
    .string()
    .max(64)
    .regex(/^[\x21-\x7e]*$/, 'printable ASCII without spaces')
    .default(''),
  /** Accept fewer bits than the default minimum (down to the floor), or require more. @default 128 */
  minEntropyBits: minEntropyBitsField,
});

export type TokenSpec = z.infer<typeof schema>;

/** Entropy of a token: 8 bits per random byte (the prefix and the encoding add none). */
export function tokenEntropyBits(spec: Pick<TokenSpec, 'bytes'>): number {
  return spec.bytes * 8;
}

/** Random bytes from `crypto.randomBytes`, encoded as hex, base64 or base64url (unpadded). */
export const tokenGenerator: Generator<TokenSpec> = {
  name: 'token',
  summary: 'random bytes encoded as hex, base64 or base64url, with an optional prefix',
  schema,
  extraOutputs: () => [],
  inputs: () => [],
  validate(_key, spec) {
    const weak = entropyProblem({
      bits: tokenEntropyBits(spec),
      minEntropyBits: spec.minEntropyBits,
      setting: 'bytes',
      raiseTo: (required) => {
        const bytes = Math.ceil(required / 8);
        return bytes <= MAX_BYTES ? bytes : undefined;
      },
      otherwise: `no token of at most ${MAX_BYTES} bytes is enough`,
    });
    return weak === undefined ? [] : ([weak] satisfies SpecProblem[]);
  },
  async generate(spec, ctx) {
    const bytes = randomBytes(spec.bytes);
    ctx.register(bytes);
    const value = spec.prefix + bytes.toString(spec.encoding);
    ctx.register(value);
    return new Map([[ctx.key, Buffer.from(value, 'utf8')]]);
  },
};
