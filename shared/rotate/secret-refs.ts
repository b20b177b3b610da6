import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { JsonPatchOp, Workload } from '../kube/workloads.js';
import { type RefKind, SECRET_REFERENCE_FIELDS } from './workload-fields.js';

export type { RefKind } from './workload-fields.js';

/** One reference to a Secret by name inside a pod template. */
export interface SecretRef {
  /** JSON pointer of the name field, relative to the pod template (`/spec/containers/0/envFrom/1/secretRef/name`). */
  path: string;
  name: string;
  via: RefKind;
}

/** Calls `found` with the JSON pointer and value of every field `path` (`*`: each list item) reaches under `value`. */
function visit(value: unknown, path: readonly string[], pointer: string, found: (pointer: string, value: unknown) => void): void {
  if (path.length === 0) {
    found(pointer, value);
    return;
  }
  const [head, ...rest] = path;
  if (head === '*') {
    if (Array.isArray(value))
      value.forEach((item, i) => {
        visit(item, rest, `${pointer}/${i}`, found);
      });
    return;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const next = (value as Record<string, unknown>)[head];
    if (next !== undefined && next !== null) visit(next, rest, `${pointer}/${pointerSegment(head)}`, found);
  }
}

/**
 * Every place a pod template names a Secret ({@link SECRET_REFERENCE_FIELDS}: env, envFrom,
 * secret and projected volumes, imagePullSecrets), in the order of that list.
 */
export function secretRefs(template: V1PodTemplateSpec): SecretRef[] {
  if (template.spec === undefined) return [];
  const refs: SecretRef[] = [];
  for (const field of SECRET_REFERENCE_FIELDS)
    visit(template.spec, field.path, '/spec', (path, name) => {
      if (typeof name === 'string' && name !== '') refs.push({ path, name, via: field.via });
    });
  return refs;
}

/** True when the workload's pod template names any of `names`. */
export function referencesAny(w: Workload, names: ReadonlySet<string>): boolean {
  return secretRefs(w.template).some((r) => names.has(r.name));
}

/**
 * JSON-patch operations that repoint every reference to `from` so it names `to`. Each
 * replacement is preceded by a `test` of the old value, so a template changed since it was
 * read fails the patch (422) instead of being overwritten in the wrong place.
 */
export function repointOps(w: Workload, from: string, to: string): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const ref of secretRefs(w.template)) {
    if (ref.name !== from) continue;
    const path = `${w.templatePath}${ref.path}`;
    ops.push({ op: 'test', path, value: from }, { op: 'replace', path, value: to });
  }
  return ops;
}

/** `~` and `/` escaped for a JSON pointer segment (RFC 6901). */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
