import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { Generator, SpecProblem } from './generator.js';

/** The character classes a password can draw from. */
export const PASSWORD_CLASSES = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  /** Printable ASCII punctuation minus quotes, backslash, backtick and space (safe in shells and most config formats). */
  symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~',
} as const;

export type PasswordClass = keyof typeof PASSWORD_CLASSES;

const schema = z.strictObject({
  generator: z.literal('password'),
  /** @default 32 */
  length: z.number().int().min(8).max(4096).default(32),
  /** Classes to draw from; each one is required at least once. @default all four */
  classes: z
    .array(z.enum(['lower', 'upper', 'digits', 'symbols']))
    .min(1)
    .default(['lower', 'upper', 'digits', 'symbols']),
  /** Replaces the symbol set. */
  symbols: z.string().min(1).optional(),
  /** Characters never used (e.g. look-alikes `0O1lI`, or characters a consumer cannot take). */
  exclude: z.string().default(''),
});

export type PasswordSpec = z.infer<typeof schema>;

/** The alphabet of each requested class after exclusions. */
export function passwordAlphabets(spec: PasswordSpec): Map<PasswordClass, string> {
  const excluded = new Set(spec.exclude);
  const out = new Map<PasswordClass, string>();
  for (const cls of new Set(spec.classes)) {
    const base = cls === 'symbols' && spec.symbols !== undefined ? spec.symbols : PASSWORD_CLASSES[cls];
    out.set(cls, [...new Set(base)].filter((c) => !excluded.has(c)).join(''));
  }
  return out;
}

/**
 * Random password of `length` characters with at least one character of every requested
 * class: one character is drawn from each class, the rest from the union of the classes,
 * then the whole is shuffled (Fisher-Yates), every draw with `crypto.randomInt`.
 */
export const passwordGenerator: Generator<PasswordSpec> = {
  name: 'password',
  summary: 'random password: length, character classes (each required), excluded characters',
  schema,
  extraOutputs: () => [],
  inputs: () => [],
  validate(_key, spec) {
    const problems: SpecProblem[] = [];
    const alphabets = passwordAlphabets(spec);
    for (const [cls, alphabet] of alphabets) {
      if (alphabet.length === 0) problems.push({ path: ['exclude'], message: `excludes every character of class ${cls}` });
    }
    if (spec.length < alphabets.size) {
      problems.push({ path: ['length'], message: `must be at least the number of required classes (${alphabets.size})` });
    }
    if (spec.symbols !== undefined && /[\s]/.test(spec.symbols))
      problems.push({ path: ['symbols'], message: 'must not contain whitespace' });
    return problems;
  },
  async generate(spec, ctx) {
    const alphabets = [...passwordAlphabets(spec).values()];
    const union = [...new Set(alphabets.join(''))];
    const chars: string[] = alphabets.map((a) => a[randomInt(a.length)]);
    while (chars.length < spec.length) chars.push(union[randomInt(union.length)]);
    for (let i = chars.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [chars[i], chars[j]] = [chars[j], chars[i]];
    }
    const value = chars.join('');
    ctx.register(value);
    return new Map([[ctx.key, Buffer.from(value, 'utf8')]]);
  },
};
