import type { z } from 'zod';
import type { ReferenceUse, SecretReference } from '../allow-references.js';

/** A problem in one generator spec; `path` is relative to the spec (`['length']`). */
export interface SpecProblem {
  path: ReadonlyArray<string | number>;
  message: string;
}

/** What a generator may use while producing values for one data key. */
export interface GeneratorContext {
  namespace: string;
  secretName: string;
  /** The data key being generated. */
  key: string;
  now: Date;
  /**
   * The values visible to this key: the Secret's current data overlaid with the values
   * generated earlier in the same rotation (templates read these).
   */
  values: ReadonlyMap<string, Buffer>;
  /**
   * Reads another Secret of the same namespace for `use` (a CA as `issuer`); undefined when it
   * does not exist. Throws, without returning its data, unless the generator declared the read
   * (`references`) and the Secret allows it (`secret-steward.io/allow-references`).
   */
  readSecret(name: string, use: ReferenceUse): Promise<ReadonlyMap<string, Buffer> | undefined>;
  /** Registers a secret value with the redactor. Call it the moment a value exists. */
  register(value: string | Uint8Array): void;
  /** Reports something the operator should know (logged with the Secret's name). */
  warn(message: string): void;
}

/**
 * A value generator: one plug-in per file under `generators/`, registered in `index.ts`.
 * A spec names its generator (`generator: password`) and the generator's own fields, which
 * its schema validates (unknown fields are errors). A generator writes its own data key and
 * may write more (`extraOutputs`, e.g. a certificate's private key); it may read other keys
 * (`inputs`, e.g. a template's placeholders), which are generated before it.
 * Randomness comes from node:crypto only.
 */
export interface Generator<S extends { generator: string } = { generator: string }> {
  readonly name: string;
  /** One line for documentation and `--help`. */
  readonly summary: string;
  readonly schema: z.ZodType<S>;
  /** Data keys written besides the spec's own key. */
  extraOutputs(key: string, spec: S): string[];
  /** Data keys read; they must be generated in the same rotation or exist in the Secret. */
  inputs(spec: S): string[];
  /**
   * Other Secrets read (`readSecret`), and for what: each must allow the policy's Secret with
   * its `secret-steward.io/allow-references` annotation, checked before the rotation starts.
   */
  references?(spec: S): SecretReference[];
  /** Checks that need the key name or several fields together. */
  validate?(key: string, spec: S): SpecProblem[];
  /** Produces the values: the spec's key and every extra output. */
  generate(spec: S, ctx: GeneratorContext): Promise<Map<string, Buffer>>;
}

/** Checks a data key name the way the API server does. */
export function isValidDataKey(key: string): boolean {
  return /^[-._a-zA-Z0-9]+$/.test(key) && key.length <= 253 && key !== '.' && key !== '..';
}
