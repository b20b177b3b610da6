import type { GeneratorContext } from './generators/index.js';
import { formatPath, type PolicyProblem, type RotationPolicy } from './policy.js';

/** Kubernetes' limit on a Secret's data. */
export const MAX_SECRET_DATA_BYTES = 1_048_576;

/** What generation needs besides the policy and the Secret's current data. */
export type GenerationContext = Omit<GeneratorContext, 'key' | 'values'>;

/** Problems the policy has with this Secret's data: template inputs it neither has nor generates. */
export function inputProblems(policy: RotationPolicy, currentKeys: ReadonlySet<string>): PolicyProblem[] {
  const generated = new Set(policy.rotatedKeys);
  const problems: PolicyProblem[] = [];
  for (const plan of policy.keys) {
    for (const input of plan.inputs) {
      if (!generated.has(input) && !currentKeys.has(input)) {
        problems.push({
          path: formatPath(['keys', plan.key, 'template']),
          message: `refers to ${input}, which the Secret does not have and the policy does not generate`,
        });
      }
    }
  }
  return problems;
}

/**
 * Generates every rotated key, in dependency order: first the keys the policy's backend
 * decides itself (`prepare`), then each generator, seeing the Secret's current data overlaid
 * with what was decided before it. Returns only the rotated keys. Every value
 * is registered with the redactor by its generator the moment it exists.
 */
export async function generateValues(
  policy: RotationPolicy,
  current: ReadonlyMap<string, Buffer>,
  ctx: GenerationContext,
): Promise<Map<string, Buffer>> {
  const values = new Map(current);
  const out = new Map<string, Buffer>();
  const b = policy.backend;
  if (b !== undefined && b.outputs.length > 0) {
    const decided =
      b.backend.prepare?.({ namespace: ctx.namespace, secretName: ctx.secretName, config: b.config, current }) ?? new Map<string, Buffer>();
    for (const key of b.outputs) {
      const v = decided.get(key);
      if (v === undefined) throw new Error(`backend ${b.backend.name} decided no value for ${key}`);
      values.set(key, v);
      out.set(key, v);
    }
  }
  for (const plan of policy.keys) {
    let produced: Map<string, Buffer>;
    try {
      produced = await plan.generator.generate(plan.spec, { ...ctx, key: plan.key, values });
    } catch (e) {
      throw new Error(`generator ${plan.generator.name} for key ${plan.key}: ${(e as Error).message}`, { cause: e });
    }
    for (const key of plan.outputs) {
      const v = produced.get(key);
      if (v === undefined) throw new Error(`generator ${plan.generator.name} for key ${plan.key} produced no value for ${key}`);
      values.set(key, v);
      out.set(key, v);
    }
  }
  return out;
}

/**
 * Renders the template keys again from `current` (the Secret as it is now) overlaid with the
 * rotation's generated values. Templates are deterministic, so this gives the pending values
 * unless another writer changed a key a template reads, in which case the template follows
 * that writer's value instead of overwriting it with a stale one.
 */
export async function rerenderTemplates(
  policy: RotationPolicy,
  current: ReadonlyMap<string, Buffer>,
  pending: ReadonlyMap<string, Buffer>,
  ctx: GenerationContext,
): Promise<Map<string, Buffer>> {
  const values = new Map(current);
  for (const [k, v] of pending) values.set(k, v);
  const out = new Map(pending);
  for (const plan of policy.keys) {
    if (plan.generator.name !== 'template') continue;
    const produced = await plan.generator.generate(plan.spec, { ...ctx, key: plan.key, values });
    const v = produced.get(plan.key)!;
    values.set(plan.key, v);
    out.set(plan.key, v);
  }
  return out;
}

/** Total bytes of a Secret's data as the API server counts them. */
export function dataSize(data: ReadonlyMap<string, Uint8Array>): number {
  let n = 0;
  for (const [k, v] of data) n += k.length + v.length;
  return n;
}

/** Decodes a Secret's `data` (base64 per key) into bytes. */
export function decodeData(data: Record<string, string> | undefined): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(data ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/** Encodes bytes per key into a Secret's `data`. */
export function encodeData(data: ReadonlyMap<string, Uint8Array>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...data.keys()].sort()) out[k] = Buffer.from(data.get(k)!).toString('base64');
  return out;
}

/** True when both maps hold the same keys with byte-identical values. */
export function sameData(a: ReadonlyMap<string, Uint8Array>, b: ReadonlyMap<string, Uint8Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !Buffer.from(v).equals(Buffer.from(w))) return false;
  }
  return true;
}
