import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Generator } from './generator.js';

const schema = z.strictObject({ generator: z.literal('uuid') });

export type UuidSpec = z.infer<typeof schema>;

/** A random (version 4) UUID from `crypto.randomUUID`. */
export const uuidGenerator: Generator<UuidSpec> = {
  name: 'uuid',
  summary: 'random version-4 UUID',
  schema,
  extraOutputs: () => [],
  inputs: () => [],
  async generate(_spec, ctx) {
    const value = randomUUID();
    ctx.register(value);
    return new Map([[ctx.key, Buffer.from(value, 'utf8')]]);
  },
};
