import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Generator } from './generator.js';

const schema = z.strictObject({
  generator: z.literal('token'),
  /** Random bytes before encoding. @default 32 */
  bytes: z.number().int().min(8).max(4096).default(32),
  /** @default base64url */
  encoding: z.enum(['hex', 'base64', 'base64url']).default('base64url'),
  /** Text put in front of the encoded bytes, e.g. `sk_live_`. */
  prefix: z
    .string()
    .max(64)
    .regex(/^[\x21-\x7e]*$/, 'printable ASCII without spaces')
    .default(''),
});

export type TokenSpec = z.infer<typeof schema>;

/** Random bytes from `crypto.randomBytes`, encoded as hex, base64 or base64url (unpadded). */
export const tokenGenerator: Generator<TokenSpec> = {
  name: 'token',
  summary: 'random bytes encoded as hex, base64 or base64url, with an optional prefix',
  schema,
  extraOutputs: () => [],
  inputs: () => [],
  async generate(spec, ctx) {
    const bytes = randomBytes(spec.bytes);
    ctx.register(bytes);
    const value = spec.prefix + bytes.toString(spec.encoding);
    ctx.register(value);
    return new Map([[ctx.key, Buffer.from(value, 'utf8')]]);
  },
};
