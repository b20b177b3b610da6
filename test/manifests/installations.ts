/**
 * The two installations the RBAC tests run every job against: cluster-wide (manifests/base) and
 * namespaced (manifests/overlays/namespaced). For the namespaced one, the workload namespaces a
 * test uses are bound the way an operator adds a namespace: the overlay without its example
 * namespaces, plus components/namespaced-roles rendered into each of the test's namespaces (a
 * kustomization with `namespace:`, as in namespaces/payments), and the same list given to the
 * job as --scope-namespaces.
 *
 *   for (const inst of INSTALLATIONS) {
 *     const objects = inst.rbacObjectsFor('rotate', ['shop']);
 *     run rotate with [...inst.args(['shop']), ...]
 *   }
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type BindingObject, bindsServiceAccount, rbacObjectsFor, serviceAccountName, TOOL_NAMESPACE } from './rbac.js';
import { type JobName, type ManifestObject, REPO_ROOT, renderManifestsSync } from './render.js';

export const NAMESPACED_OVERLAY = 'manifests/overlays/namespaced';
export const NAMESPACED_ROLES = 'manifests/components/namespaced-roles';
const SCOPE_VARIABLE = 'SECRET_STEWARD_SCOPE_NAMESPACES';

export interface Installation {
  name: 'cluster-wide' | 'namespaced';
  /** The job's ServiceAccount, roles and bindings, with the rights this installation grants in `namespaces`. */
  rbacObjectsFor(job: JobName, namespaces: readonly string[]): ManifestObject[];
  /** The settings a job takes in this installation to work in `namespaces`. */
  args(namespaces: readonly string[]): string[];
}

/** The namespaces a rendering's rotate settings list (SECRET_STEWARD_SCOPE_NAMESPACES), per ConfigMap. */
export function scopeSettingsOf(objects: readonly ManifestObject[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const o of objects.filter((x) => x.kind === 'ConfigMap')) {
    const value = (o.data as Record<string, string> | undefined)?.[SCOPE_VARIABLE];
    if (value !== undefined) out[o.metadata.name] = value.split(',').map((n) => n.trim());
  }
  return out;
}

/** components/namespaced-roles rendered into `namespace`, through a kustomization like namespaces/payments. */
export function namespacedRolesIn(namespace: string): ManifestObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'secret-steward-ns-'));
  try {
    const nsDir = join(dir, namespace);
    mkdirSync(nsDir);
    writeFileSync(
      join(nsDir, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ${namespace}\ncomponents:\n  - ${relative(nsDir, join(REPO_ROOT, NAMESPACED_ROLES))}\n`,
    );
    return renderManifestsSync(nsDir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The job's RBAC from the namespaced overlay, bound in `namespaces` instead of the overlay's examples. */
function namespacedRbacFor(job: JobName, namespaces: readonly string[]): ManifestObject[] {
  const overlay = renderManifestsSync(NAMESPACED_OVERLAY);
  const examples = new Set(Object.values(scopeSettingsOf(overlay)).flat());
  const kept = rbacObjectsFor(job, { dir: NAMESPACED_OVERLAY }).filter((o) => !examples.has(o.metadata.namespace ?? ''));
  const sa = serviceAccountName(job);
  const added = namespaces.flatMap(namespacedRolesIn);
  const bindings = added.filter(
    (o): o is BindingObject => o.kind === 'RoleBinding' && bindsServiceAccount(o as BindingObject, TOOL_NAMESPACE, sa),
  );
  const roles = added.filter(
    (o) => o.kind === 'Role' && bindings.some((b) => b.roleRef.name === o.metadata.name && b.metadata.namespace === o.metadata.namespace),
  );
  return [...kept, ...roles, ...bindings];
}

export const CLUSTER_WIDE: Installation = {
  name: 'cluster-wide',
  rbacObjectsFor: (job) => rbacObjectsFor(job),
  args: () => [],
};

export const NAMESPACED: Installation = {
  name: 'namespaced',
  rbacObjectsFor: namespacedRbacFor,
  args: (namespaces) => ['--scope-namespaces', namespaces.join(',')],
};

export const INSTALLATIONS: readonly Installation[] = [CLUSTER_WIDE, NAMESPACED];
