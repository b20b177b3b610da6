import type { Generator } from './generator.js';
import { keypairGenerator } from './keypair.js';
import { passwordGenerator } from './password.js';
import { templateGenerator } from './template.js';
import { tlsGenerator } from './tls.js';
import { tokenGenerator } from './token.js';
import { uuidGenerator } from './uuid.js';

export type { Generator, GeneratorContext, SpecProblem } from './generator.js';
export { isValidDataKey } from './generator.js';

/** Every generator a policy can name, by name. */
export const GENERATORS: ReadonlyMap<string, Generator> = new Map(
  ([passwordGenerator, tokenGenerator, uuidGenerator, keypairGenerator, tlsGenerator, templateGenerator] as unknown as Generator[]).map(
    (g) => [g.name, g],
  ),
);
