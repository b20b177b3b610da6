/**
 * RFC 7386 JSON Merge Patch (`application/merge-patch+json`): objects merge
 * recursively, `null` deletes a key, anything else (arrays included) replaces.
 */
import { cloneJson, isObject } from './types.js';

/** Returns `target` with `patch` merged in; neither argument is modified. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return cloneJson(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}
