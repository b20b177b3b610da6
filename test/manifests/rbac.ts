/**
 * RBAC as rendered from manifests/: a job's ServiceAccount, roles and bindings, flattened
 * into single permissions, and copies with one permission taken away. The end-to-end RBAC
 * test loads `rbacObjectsFor(job)` into the emulator, runs the job as its ServiceAccount, then
 * repeats with each `withoutPermission(...)` to prove that no permission is unused.
 */
import { type JobName, type ManifestObject, renderManifestsSync } from './render.js';

export const RBAC_KINDS = ['ServiceAccount', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const;

/** Where the tool runs and holds its Leases. */
export const TOOL_NAMESPACE = 'secret-steward';
/** Where verify-restore restores to. */
export const DRILL_NAMESPACE = 'secret-steward-drill';

/** A PolicyRule as written in a Role or ClusterRole. */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

export interface RoleObject extends ManifestObject {
  kind: 'Role' | 'ClusterRole';
  rules?: PolicyRule[];
}

export interface BindingObject extends ManifestObject {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  roleRef: { apiGroup: string; kind: 'Role' | 'ClusterRole'; name: string };
  subjects?: { kind: string; name: string; namespace?: string; apiGroup?: string }[];
}

export interface RbacOptions {
  /** Kustomization to render. @default 'manifests/base' */
  dir?: string;
}

/** `secret-steward-<job>`: the job's ServiceAccount, Lease and CronJob name. */
export function serviceAccountName(job: JobName): string {
  return `secret-steward-${job}`;
}

/** True when the ServiceAccount `namespace/name` is a subject of the binding. */
export function bindsServiceAccount(binding: BindingObject, namespace: string, name: string): boolean {
  return (binding.subjects ?? []).some(
    (s) => s.kind === 'ServiceAccount' && s.name === name && (s.namespace ?? binding.metadata.namespace) === namespace,
  );
}

/**
 * The job's ServiceAccount and every Role/ClusterRole and binding that grants it anything,
 * as rendered from `options.dir` (base by default; e.g. 'manifests/overlays/compare-live' for
 * verify-restore with --compare-live). Roles are found through the bindings, not by name, so
 * a rule granted by an unexpected role is included too. Namespaced objects keep their
 * namespace; create the namespaces first (see {@link namespacesOf}).
 */
export function rbacObjectsFor(job: JobName, options: RbacOptions = {}): ManifestObject[] {
  const objects = renderManifestsSync(options.dir ?? 'manifests/base');
  const sa = serviceAccountName(job);
  const bindings = objects.filter(
    (o): o is BindingObject =>
      (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') && bindsServiceAccount(o as BindingObject, TOOL_NAMESPACE, sa),
  );
  const roles = objects.filter((o) =>
    bindings.some(
      (b) =>
        b.roleRef.kind === o.kind &&
        b.roleRef.name === o.metadata.name &&
        (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    ),
  );
  const account = objects.filter((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa && o.metadata.namespace === TOOL_NAMESPACE);
  return [...account, ...roles, ...bindings];
}

/** The namespaces the given namespaced objects live in, sorted. */
export function namespacesOf(objects: readonly ManifestObject[]): string[] {
  return [...new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => n !== undefined))].sort();
}

/**
 * One permission: one verb on one resource of one API group, from one rule of one role.
 * `scope` is the namespace a RoleBinding grants it in, or `cluster` for a ClusterRoleBinding.
 */
export interface Permission {
  roleKind: 'Role' | 'ClusterRole';
  roleName: string;
  /** Namespace of a Role (undefined for ClusterRoles). */
  roleNamespace?: string;
  ruleIndex: number;
  apiGroup: string;
  resource: string;
  verb: string;
  /** Empty: any name. */
  resourceNames: string[];
}

/** `ClusterRole secret-steward-backup rule 0: list secrets` (for test titles and messages). */
export function describePermission(p: Permission): string {
  const group = p.apiGroup === '' ? '' : `${p.apiGroup}/`;
  const names = p.resourceNames.length > 0 ? ` [${p.resourceNames.join(',')}]` : '';
  const where = p.roleNamespace ? ` (${p.roleNamespace})` : '';
  return `${p.roleKind} ${p.roleName}${where} rule ${p.ruleIndex}: ${p.verb} ${group}${p.resource}${names}`;
}

/** Every single permission the roles among `objects` hold, in rule order. */
export function permissionsOf(objects: readonly ManifestObject[]): Permission[] {
  const out: Permission[] = [];
  for (const o of objects) {
    if (o.kind !== 'Role' && o.kind !== 'ClusterRole') continue;
    const role = o as RoleObject;
    (role.rules ?? []).forEach((rule, ruleIndex) => {
      for (const apiGroup of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs) {
            out.push({
              roleKind: role.kind,
              roleName: role.metadata.name,
              roleNamespace: role.kind === 'Role' ? role.metadata.namespace : undefined,
              ruleIndex,
              apiGroup,
              resource,
              verb,
              resourceNames: rule.resourceNames ?? [],
            });
          }
        }
      }
    });
  }
  return out;
}

function samePermissionSource(o: ManifestObject, p: Permission): boolean {
  return (
    o.kind === p.roleKind && o.metadata.name === p.roleName && (p.roleKind === 'ClusterRole' || o.metadata.namespace === p.roleNamespace)
  );
}

/**
 * A deep copy of `objects` in which the role holding `p` no longer grants it; every other
 * permission of that rule stays (the rule is split as needed). Throws when no role holds it.
 */
export function withoutPermission(objects: readonly ManifestObject[], p: Permission): ManifestObject[] {
  const copy = structuredClone(objects) as ManifestObject[];
  const role = copy.find((o) => samePermissionSource(o, p)) as RoleObject | undefined;
  const rule = role?.rules?.[p.ruleIndex];
  if (
    role === undefined ||
    rule === undefined ||
    !rule.verbs.includes(p.verb) ||
    !(rule.resources ?? []).includes(p.resource) ||
    !(rule.apiGroups ?? []).includes(p.apiGroup)
  ) {
    throw new Error(`no role grants ${describePermission(p)}`);
  }
  const replacement: PolicyRule[] = [];
  const base = { ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}) };
  const otherGroups = (rule.apiGroups ?? []).filter((g) => g !== p.apiGroup);
  const otherResources = (rule.resources ?? []).filter((r) => r !== p.resource);
  const otherVerbs = rule.verbs.filter((v) => v !== p.verb);
  if (otherGroups.length > 0) replacement.push({ ...base, apiGroups: otherGroups, resources: rule.resources, verbs: rule.verbs });
  if (otherResources.length > 0) replacement.push({ ...base, apiGroups: [p.apiGroup], resources: otherResources, verbs: rule.verbs });
  if (otherVerbs.length > 0) replacement.push({ ...base, apiGroups: [p.apiGroup], resources: [p.resource], verbs: otherVerbs });
  role.rules!.splice(p.ruleIndex, 1, ...replacement);
  return copy;
}
