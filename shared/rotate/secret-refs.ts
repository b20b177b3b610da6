import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { JsonPatchOp, Workload } from '../kube/workloads.js';

/** How a pod template uses a Secret. */
export type RefKind = 'env' | 'envFrom' | 'volume' | 'projected' | 'imagePullSecrets';

/** One reference to a Secret by name inside a pod template. */
export interface SecretRef {
  /** JSON pointer of the name field, relative to the pod template (`/spec/containers/0/envFrom/1/secretRef/name`). */
  path: string;
  name: string;
  via: RefKind;
}

/**
 * Every place a pod template names a Secret: `env[].valueFrom.secretKeyRef`, `envFrom[].secretRef`
 * (containers and init containers), `volumes[].secret`, `volumes[].projected.sources[].secret`
 * and `imagePullSecrets`.
 */
export function secretRefs(template: V1PodTemplateSpec): SecretRef[] {
  const spec = template.spec;
  if (spec === undefined) return [];
  const refs: SecretRef[] = [];
  for (const list of ['initContainers', 'containers'] as const) {
    (spec[list] ?? []).forEach((c, i) => {
      (c.env ?? []).forEach((e, j) => {
        const name = e.valueFrom?.secretKeyRef?.name;
        if (name) refs.push({ path: `/spec/${list}/${i}/env/${j}/valueFrom/secretKeyRef/name`, name, via: 'env' });
      });
      (c.envFrom ?? []).forEach((e, j) => {
        const name = e.secretRef?.name;
        if (name) refs.push({ path: `/spec/${list}/${i}/envFrom/${j}/secretRef/name`, name, via: 'envFrom' });
      });
    });
  }
  (spec.volumes ?? []).forEach((v, i) => {
    if (v.secret?.secretName) refs.push({ path: `/spec/volumes/${i}/secret/secretName`, name: v.secret.secretName, via: 'volume' });
    (v.projected?.sources ?? []).forEach((s, j) => {
      if (s.secret?.name)
        refs.push({ path: `/spec/volumes/${i}/projected/sources/${j}/secret/name`, name: s.secret.name, via: 'projected' });
    });
  });
  (spec.imagePullSecrets ?? []).forEach((p, i) => {
    if (p.name) refs.push({ path: `/spec/imagePullSecrets/${i}/name`, name: p.name, via: 'imagePullSecrets' });
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
