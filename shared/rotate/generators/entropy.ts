import { z } from 'zod';
import type { SpecProblem } from './generator.js';

/**
 * The minimum entropy a `password` or `token` spec must give, in bits, unless the spec lowers it
 * with `minEntropyBits`. 128 bits: out of reach of any offline guessing, whatever the consumer
 * does with the value (an unsalted hash in a database, a token compared in a log).
 * @default 128
 */
export const DEFAULT_MIN_ENTROPY_BITS = 128;

/** The lowest `minEntropyBits` a spec may set: below it a spec is always refused. */
export const ENTROPY_FLOOR_BITS = 64;

/**
 * The `minEntropyBits` field of a spec: an explicit, per-key acceptance of less than the default
 * (down to the floor), or a demand for more.
 */
export const minEntropyBitsField = z
  .number()
  .int()
  .min(ENTROPY_FLOOR_BITS, `cannot be below ${ENTROPY_FLOOR_BITS} bits (the floor)`)
  .max(4096 * 8)
  .optional();

/** Bits rounded down to one decimal: a figure shown never looks stronger than it is. */
export function formatBits(bits: number): string {
  return (Math.floor(bits * 10 + 1e-9) / 10).toFixed(1);
}

/**
 * The problem of a spec whose settings give fewer bits than required, or none. `setting` is
 * the field that raises it (`length`, `bytes`) and `raiseTo` the smallest value of it that is
 * enough (undefined when no value within its limits is).
 */
export function entropyProblem(o: {
  bits: number;
  minEntropyBits: number | undefined;
  setting: string;
  raiseTo: (required: number) => number | undefined;
  /** What else widens the value, for when raising the setting cannot help. */
  otherwise: string;
}): SpecProblem | undefined {
  const required = o.minEntropyBits ?? DEFAULT_MIN_ENTROPY_BITS;
  if (o.bits >= required) return undefined;
  const raiseTo = o.raiseTo(required);
  const fix = raiseTo === undefined ? o.otherwise : `raise ${o.setting} to ${raiseTo}`;
  const which = o.minEntropyBits === undefined ? '' : ` (minEntropyBits: ${o.minEntropyBits})`;
  const accept =
    o.bits >= ENTROPY_FLOOR_BITS
      ? `, or accept it explicitly with minEntropyBits: ${Math.floor(o.bits)}`
      : ` (minEntropyBits cannot go below ${ENTROPY_FLOOR_BITS})`;
  return {
    path: [o.setting],
    message: `gives ${formatBits(o.bits)} bits of entropy; at least ${required} required${which}: ${fix}${accept}`,
  };
}
