import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { entropyProblem, minEntropyBitsField } from './entropy.js';
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

/** The longest password a spec may ask for. */
const MAX_LENGTH = 4096;

const schema = z.strictObject({
  generator: z.literal('password'),
  /** @default 32 */
  length: z.number().int().min(8).max(MAX_LENGTH).default(32),
  /** Classes to draw from; each one is required at least once. @default all four */
  classes: z
    .array(z.enum(['lower', 'upper', 'digits', 'symbols']))
    .min(1)
    .default(['lower', 'upper', 'digits', 'symbols']),
  /** Replaces the symbol set. */
  symbols: z.string().min(1).optional(),
  /** Characters never used (e.g. look-alikes `0O1lI`, or characters a consumer cannot take). */
  exclude: z.string().default(''),
  /** Accept fewer bits than the default minimum (down to the floor), or require more. @default 128 */
  minEntropyBits: minEntropyBitsField,
});

export type PasswordSpec = z.infer<typeof schema>;

/** The alphabet of each requested class after exclusions. */
export function passwordAlphabets(spec: Pick<PasswordSpec, 'classes' | 'symbols' | 'exclude'>): Map<PasswordClass, string> {
  const excluded = new Set(spec.exclude);
  const out = new Map<PasswordClass, string>();
  for (const cls of new Set(spec.classes)) {
    const base = cls === 'symbols' && spec.symbols !== undefined ? spec.symbols : PASSWORD_CLASSES[cls];
    out.set(cls, [...new Set(base)].filter((c) => !excluded.has(c)).join(''));
  }
  return out;
}

/**
 * The min-entropy of the passwords a spec gives, in bits: -log2 of the probability of the most
 * likely password (a guesser's best single guess is right with probability 2^-bits). The generator draws one character from each of the k required classes (sizes a_i), the
 * other length-k from their union (size u), then shuffles uniformly. For disjoint classes (every
 * built-in class; a custom symbol set without letters or digits) this is exact: a password with
 * n_i characters of class i has probability prod(1/a_i) * u^-(length-k) * prod(n_i) *
 * (length-k)!/length!, largest when the n_i are as equal as they can be. Classes that share
 * characters get the lower bound sum(log2 a_i) + (length-k) * log2 u (the shuffle never makes a
 * password likelier than its likeliest draw). 0 when a class is empty or length < k.
 */
export function passwordEntropyBits(spec: Pick<PasswordSpec, 'length' | 'classes' | 'symbols' | 'exclude'>): number {
  const alphabets = [...passwordAlphabets(spec).values()];
  const k = alphabets.length;
  const n = spec.length;
  if (k === 0 || n < k || alphabets.some((a) => a.length === 0)) return 0;
  const union = new Set(alphabets.join('')).size;
  let bits = (n - k) * Math.log2(union);
  for (const a of alphabets) bits += Math.log2(a.length);
  const disjoint = alphabets.reduce((sum, a) => sum + a.length, 0) === union;
  if (!disjoint) return bits;
  // + log2(length!/(length-k)!) - log2(max prod(n_i)), n_i >= 1 summing to length.
  for (let j = 0; j < k; j++) bits += Math.log2(n - j);
  const q = Math.floor(n / k);
  const r = n % k;
  bits -= r * Math.log2(q + 1) + (k - r) * Math.log2(q);
  return bits;
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
    if (problems.length > 0) return problems;
    const weak = entropyProblem({
      bits: passwordEntropyBits(spec),
      minEntropyBits: spec.minEntropyBits,
      setting: 'length',
      raiseTo: (required) => {
        for (let length = spec.length + 1; length <= MAX_LENGTH; length++)
          if (passwordEntropyBits({ ...spec, length }) >= required) return length;
        return undefined;
      },
      otherwise: 'draw from more characters (classes, symbols, exclude)',
    });
    if (weak !== undefined) problems.push(weak);
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
