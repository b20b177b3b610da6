/**
 * The catalogue of API resources the emulator serves. Everything else (routing,
 * discovery, OpenAPI, RBAC resource names, storage keys) is derived from it.
 */

/** Verbs of an ordinary stored resource, as listed by discovery. */
const STANDARD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

/** Static description of one resource (one plural in one group/version). */
export interface ResourceType {
  /** API group, '' for core. */
  readonly group: string;
  readonly version: string;
  /** `v1` or `apps/v1`: the apiVersion objects carry. */
  readonly apiVersion: string;
  readonly kind: string;
  readonly listKind: string;
  /** Lower-case plural used in URLs and RBAC rules. */
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly verbs: readonly string[];
  readonly categories: readonly string[];
  /** Subresources served under `<plural>/<name>/<sub>`. */
  readonly subresources: readonly string[];
  /** metadata.generation is maintained (bumped on spec change). */
  readonly hasGeneration: boolean;
  /** Not stored: create-only review resources answered by the server itself. */
  readonly virtual: boolean;
  /**
   * Storage shared with another resource (events.k8s.io/v1 events live in core
   * events); objects are converted on the way in and out.
   */
  readonly storageOf?: string;
  /**
   * Name of the CustomResourceDefinition that serves this resource (`rollouts.argoproj.io`):
   * served only by an emulator started with it in `crds`, as on a cluster where it is installed.
   */
  readonly crd?: string;
  /** `group/plural`: key of the resource's store and of its RBAC identity. */
  readonly key: string;
}

interface ResourceSpec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  verbs?: readonly string[];
  categories?: string[];
  subresources?: string[];
  hasGeneration?: boolean;
  virtual?: boolean;
  storageOf?: string;
  crd?: string;
}

function define(spec: ResourceSpec): ResourceType {
  const apiVersion = spec.group ? `${spec.group}/${spec.version}` : spec.version;
  return {
    group: spec.group,
    version: spec.version,
    apiVersion,
    kind: spec.kind,
    listKind: `${spec.kind}List`,
    plural: spec.plural,
    singular: spec.kind.toLowerCase(),
    namespaced: spec.namespaced,
    shortNames: spec.shortNames ?? [],
    verbs: spec.verbs ?? STANDARD_VERBS,
    categories: spec.categories ?? [],
    subresources: spec.subresources ?? [],
    hasGeneration: spec.hasGeneration ?? false,
    virtual: spec.virtual ?? false,
    storageOf: spec.storageOf,
    crd: spec.crd,
    key: `${spec.group}/${spec.plural}`,
  };
}

const NAMESPACE_VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] as const;
const CREATE_ONLY = ['create'] as const;

/** Every resource served, in discovery order. */
export const RESOURCES: readonly ResourceType[] = [
  define({
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    verbs: NAMESPACE_VERBS,
    subresources: ['status'],
  }),
  define({ group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true }),
  define({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'] }),
  define({
    group: '',
    version: 'v1',
    kind: 'Pod',
    plural: 'pods',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status'],
  }),
  define({ group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'] }),
  define({ group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true, shortNames: ['sa'] }),
  define({
    group: '',
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: ['status'],
  }),
  define({
    group: '',
    version: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
    shortNames: ['pvc'],
    subresources: ['status'],
  }),
  define({
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    hasGeneration: true,
  }),
  define({
    group: 'apps',
    version: 'v1',
    kind: 'StatefulSet',
    plural: 'statefulsets',
    namespaced: true,
    shortNames: ['sts'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    hasGeneration: true,
  }),
  define({
    group: 'apps',
    version: 'v1',
    kind: 'DaemonSet',
    plural: 'daemonsets',
    namespaced: true,
    shortNames: ['ds'],
    categories: ['all'],
    subresources: ['status'],
    hasGeneration: true,
  }),
  define({
    group: 'apps',
    version: 'v1',
    kind: 'ReplicaSet',
    plural: 'replicasets',
    namespaced: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    hasGeneration: true,
  }),
  define({
    group: 'batch',
    version: 'v1',
    kind: 'Job',
    plural: 'jobs',
    namespaced: true,
    categories: ['all'],
    subresources: ['status'],
    hasGeneration: true,
  }),
  define({
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    plural: 'cronjobs',
    namespaced: true,
    shortNames: ['cj'],
    categories: ['all'],
    subresources: ['status'],
    hasGeneration: true,
  }),
  define({
    group: 'events.k8s.io',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    namespaced: true,
    shortNames: ['ev'],
    storageOf: '/events',
  }),
  define({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true }),
  define({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', plural: 'roles', namespaced: true }),
  define({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true }),
  define({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false }),
  define({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    namespaced: false,
  }),
  define({
    group: 'authorization.k8s.io',
    version: 'v1',
    kind: 'SelfSubjectAccessReview',
    plural: 'selfsubjectaccessreviews',
    namespaced: false,
    verbs: CREATE_ONLY,
    virtual: true,
  }),
  define({
    group: 'authorization.k8s.io',
    version: 'v1',
    kind: 'SelfSubjectRulesReview',
    plural: 'selfsubjectrulesreviews',
    namespaced: false,
    verbs: CREATE_ONLY,
    virtual: true,
  }),
  define({
    group: 'authentication.k8s.io',
    version: 'v1',
    kind: 'SelfSubjectReview',
    plural: 'selfsubjectreviews',
    namespaced: false,
    verbs: CREATE_ONLY,
    virtual: true,
  }),
  define({
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    namespaced: true,
    shortNames: ['netpol'],
    hasGeneration: true,
  }),
  define({
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'ValidatingAdmissionPolicy',
    plural: 'validatingadmissionpolicies',
    namespaced: false,
    categories: ['api-extensions'],
    subresources: ['status'],
    hasGeneration: true,
  }),
  define({
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    plural: 'validatingadmissionpolicybindings',
    namespaced: false,
    categories: ['api-extensions'],
    hasGeneration: true,
  }),
  define({
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    namespaced: true,
    shortNames: ['pdb'],
    subresources: ['status'],
    hasGeneration: true,
  }),
  // Argo Rollouts' CRD (argo-rollouts manifests/crds/rollout-crd.yaml): namespaced, short name
  // `ro`, category `all`, the status subresource; a custom resource's metadata.generation moves
  // with every change outside metadata and status, which for a Rollout is its spec.
  define({
    group: 'argoproj.io',
    version: 'v1alpha1',
    kind: 'Rollout',
    plural: 'rollouts',
    namespaced: true,
    shortNames: ['ro'],
    categories: ['all'],
    subresources: ['status'],
    hasGeneration: true,
    crd: 'rollouts.argoproj.io',
  }),
];

/** Which resources an emulator serves: every built-in one, and those of the CRDs it was given. */
export type Served = (rt: ResourceType) => boolean;
export const ALL_SERVED: Served = () => true;

/** Groups in discovery order with their single served version. */
export function apiGroups(served: Served = ALL_SERVED): { name: string; version: string }[] {
  const seen = new Map<string, string>();
  for (const r of RESOURCES) if (served(r) && r.group && !seen.has(r.group)) seen.set(r.group, r.version);
  return [...seen].map(([name, version]) => ({ name, version }));
}

/** The resource served at `/<group>/<version>/<plural>`, if any. */
export function findByPlural(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/** Resource for an object's apiVersion + kind, if served. */
export function findByKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.apiVersion === apiVersion && r.kind === kind);
}

/** Like {@link findByKind} but throws a readable error for unsupported kinds. */
export function requireKind(apiVersion: string | undefined, kind: string | undefined): ResourceType {
  const rt = apiVersion && kind ? findByKind(apiVersion, kind) : undefined;
  if (!rt) throw new Error(`emulator: unsupported kind ${String(apiVersion)}/${String(kind)}`);
  return rt;
}

/** Resources of one group/version, for `/apis/<g>/<v>` discovery. */
export function resourcesOf(group: string, version: string, served: Served = ALL_SERVED): ResourceType[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version && served(r));
}

/** Key of the store an object of this resource lives in. */
export function storageKey(rt: ResourceType): string {
  return rt.storageOf ?? rt.key;
}
