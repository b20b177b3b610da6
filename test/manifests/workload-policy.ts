/**
 * Generates manifests/base/rotate/workload-admission-policy.yaml: one ValidatingAdmissionPolicy
 * (and its Deny binding) per workload kind rotate patches, refusing every change by rotate's
 * ServiceAccount other than the fields of shared/rotate/workload-fields.ts. The committed file
 * must equal what this returns (test/manifests/workload-admission-policy.test.ts;
 * `UPDATE_WORKLOAD_POLICY=1` writes it).
 *
 * Why generated: CEL on a real API server cannot iterate the fields of a struct (a Container, a
 * PodSpec), so "everything but these fields is unchanged" must name every other field. The
 * field lists come from the models of @kubernetes/client-node (built from the upstream OpenAPI
 * document), so a client-node update that brings new fields makes the drift test fail until the
 * policy is regenerated and compares them too.
 *
 * The CEL form, valid on cel-go with the Kubernetes environment as well as on cel-js: each
 * validation maps the new and the old object to a "view" and compares the two,
 * `[[NEW, OLD].map(p, VIEW(p))].all(v, v[0] == v[1])` (so the view is written once). A view is a
 * list with one entry per field, `dyn(has(p.f) ? [p.f] : [])`: an absent field equals only an
 * absent field, and `dyn()` keeps the list homogeneous for the type checker. The fields rotation
 * writes are left out of the view; a list on the way to one becomes `p.f.map(e, VIEW(e))` (same
 * length, same items by index) and a struct on the way `[VIEW(p.f)]`; every other field is
 * compared whole.
 */
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  FOLLOWED_ANNOTATION,
  RESTART_ANNOTATION,
  RESTART_AT_FIELD,
  RESTART_RECORD_ANNOTATION,
  SECRET_REFERENCE_FIELDS,
} from '../../shared/rotate/workload-fields.js';
import { serviceAccountName, TOOL_NAMESPACE } from './rbac.js';

/** The committed file, relative to the repository root. */
export const WORKLOAD_POLICY_FILE = 'manifests/base/rotate/workload-admission-policy.yaml';

/** rotate's identity as the API server names it. */
export const ROTATE_USER = `system:serviceaccount:${TOOL_NAMESPACE}:${serviceAccountName('rotate')}`;

/** The workload kinds rotate patches (its ClusterRole), with the model of their spec and where the pod template is. */
export const WORKLOAD_RESOURCES = [
  { group: 'apps', resource: 'deployments', kind: 'Deployment', spec: 'V1DeploymentSpec' },
  { group: 'apps', resource: 'statefulsets', kind: 'StatefulSet', spec: 'V1StatefulSetSpec' },
  { group: 'apps', resource: 'daemonsets', kind: 'DaemonSet', spec: 'V1DaemonSetSpec' },
  { group: 'batch', resource: 'cronjobs', kind: 'CronJob', spec: 'V1CronJobSpec' },
] as const;

/** The committed policy of components/argo-rollouts, relative to the repository root. */
export const ROLLOUT_POLICY_FILE = 'manifests/components/argo-rollouts/workload-admission-policy.yaml';

/** Argo Rollouts, patched by rotate with components/argo-rollouts; no client-node model, see {@link ARGO_MODELS}. */
export const ROLLOUT_RESOURCE = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  resource: 'rollouts',
  kind: 'Rollout',
  spec: 'RolloutSpec',
} as const;

/**
 * The fields of Argo's RolloutSpec (argo-rollouts pkg/apis/rollouts/v1alpha1/types.go), as the
 * client-node models list theirs; the types matter only on the way to an allowed field (the pod
 * template). A field Argo adds later is not compared until it is added here (the CRD's structural
 * schema prunes fields it does not know, so only a newer CRD brings one).
 */
const ARGO_MODELS: Record<string, Attribute[]> = {
  RolloutSpec: [
    { baseName: 'analysis', type: 'object' },
    { baseName: 'minReadySeconds', type: 'number' },
    { baseName: 'paused', type: 'boolean' },
    { baseName: 'progressDeadlineAbort', type: 'boolean' },
    { baseName: 'progressDeadlineSeconds', type: 'number' },
    { baseName: 'replicas', type: 'number' },
    { baseName: 'restartAt', type: 'Date' },
    { baseName: 'revisionHistoryLimit', type: 'number' },
    { baseName: 'rollbackWindow', type: 'object' },
    { baseName: 'selector', type: 'V1LabelSelector' },
    { baseName: 'strategy', type: 'object' },
    { baseName: 'template', type: 'V1PodTemplateSpec' },
    { baseName: 'workloadRef', type: 'object' },
  ],
};

/** ObjectMeta fields the API server maintains (a compared generation would refuse every spec change). */
const SERVER_MANAGED_META = new Set([
  'creationTimestamp',
  'deletionGracePeriodSeconds',
  'deletionTimestamp',
  'generation',
  'managedFields',
  'resourceVersion',
  'selfLink',
  'uid',
]);

interface Attribute {
  baseName: string;
  type: string;
}

/** The JSON fields of a client-node model (`V1PodSpec`) with their types (`Array<V1Container>`, `string`...). */
function fieldsOf(model: string): Attribute[] {
  if (ARGO_MODELS[model] !== undefined) return ARGO_MODELS[model];
  const cls = (k8s as unknown as Record<string, { attributeTypeMap?: Attribute[] }>)[model];
  if (cls?.attributeTypeMap === undefined) throw new Error(`no @kubernetes/client-node model ${model}`);
  return cls.attributeTypeMap;
}

/** Every field name of a model, sorted (for the test that checks coverage). */
export function fieldNames(model: string): string[] {
  return fieldsOf(model)
    .map((a) => a.baseName)
    .sort();
}

const startsWith = (p: readonly string[], prefix: readonly string[]) => prefix.every((seg, i) => p[i] === seg);

/**
 * The view of `x`, an object of model `model` found at `path`: one entry per field but the
 * `allowed` paths (and the `skip`ped fields). `depth` names the iteration variables.
 */
function view(
  x: string,
  model: string,
  path: readonly string[],
  allowed: readonly string[][],
  depth: number,
  skip: readonly string[] = [],
): string {
  const entries: string[] = [];
  for (const { baseName: f, type } of fieldsOf(model)) {
    if (skip.includes(f)) continue;
    const here = [...path, f];
    if (allowed.some((a) => a.length === here.length && startsWith(a, here))) continue;
    entries.push(`dyn(${fieldView(x, f, type, here, allowed, depth)})`);
  }
  return `[${entries.join(', ')}]`;
}

/** One field's entry: presence, then the value, or the view of what lies on the way to an allowed path. */
function fieldView(x: string, f: string, type: string, here: readonly string[], allowed: readonly string[][], depth: number): string {
  const value = `${x}.${f}`;
  if (!allowed.some((a) => a.length > here.length && startsWith(a, here))) return `has(${value}) ? [${value}] : []`;
  const list = /^Array<(\w+)>$/.exec(type);
  if (list === null) return `has(${value}) ? [${view(value, type, here, allowed, depth)}] : []`;
  const e = `e${depth}`;
  return `has(${value}) ? [${value}.map(${e}, ${view(e, list[1], [...here, '*'], allowed, depth + 1)})] : []`;
}

/** The validation comparing the views of `pair` ([new, old]) under the variable `p`. */
const compare = (pair: [string, string], viewOfP: string) => `[[${pair[0]}, ${pair[1]}].map(p, ${viewOfP})].all(v, v[0] == v[1])`;

/** `new` equals `old` except for `keys` (both maps). */
function sameMapExcept(newMap: string, oldMap: string, ...keys: string[]): string {
  const except = keys.map((key) => `k == '${key}' || `).join('');
  return `${newMap}.all(k, ${except}(k in ${oldMap} && ${oldMap}[k] == ${newMap}[k])) &&\n${oldMap}.all(k, ${except}k in ${newMap})`;
}

/**
 * Annotations the API server itself rewrites on an update of these kinds, before validating
 * admission sees the object: a DaemonSet's template change bumps its templateGeneration
 * (pkg/registry/apps/daemonset/strategy.go), which apps/v1 shows as this annotation
 * (pkg/apis/apps/v1/conversion.go); the server ignores what a client writes there. Compared,
 * every restart of a DaemonSet would be refused.
 */
const SERVER_MANAGED_ANNOTATIONS: Record<string, string[]> = { daemonsets: ['deprecated.daemonset.template.generation'] };

interface Validation {
  expression: string;
  message: string;
  reason: 'Forbidden';
}

/** The Secret reference fields, from the PodSpec. */
const TEMPLATE_ALLOWED = SECRET_REFERENCE_FIELDS.map((f) => f.path as string[]);

/** The variables of every policy: the pod templates, their specs and the annotation maps (`{}` when absent). */
function variablesFor(cron: boolean): Array<{ name: string; expression: string }> {
  const template = (root: string) => (cron ? `${root}.spec.jobTemplate.spec.template` : `${root}.spec.template`);
  const annotations = (meta: string) => `has(${meta}) && has(${meta}.annotations) ? ${meta}.annotations : {}`;
  return [
    { name: 'template', expression: template('object') },
    { name: 'oldTemplate', expression: template('oldObject') },
    { name: 'annotations', expression: annotations('object.metadata') },
    { name: 'oldAnnotations', expression: annotations('oldObject.metadata') },
    { name: 'templateAnnotations', expression: annotations('variables.template.metadata') },
    { name: 'oldTemplateAnnotations', expression: annotations('variables.oldTemplate.metadata') },
  ];
}

/**
 * How a kind is restarted: Deployments, StatefulSets, DaemonSets and CronJobs through the
 * pod-template annotation, Argo Rollouts through `spec.restartAt` (their template annotations
 * are then never rotate's to change).
 */
interface Restart {
  templateAnnotation?: string;
  specField?: string;
}

/** The validations of one kind's policy. */
function validationsFor(
  spec: string,
  cron: boolean,
  serverAnnotations: readonly string[] = [],
  restart: Restart = { templateAnnotation: RESTART_ANNOTATION },
): Validation[] {
  const v = (expression: string, message: string): Validation => ({ expression, message, reason: 'Forbidden' });
  const meta = fieldNames('V1ObjectMeta').filter((f) => f !== 'annotations');
  const pods: [string, string] = ['variables.template.spec', 'variables.oldTemplate.spec'];
  const listView = (list: string, model: string) =>
    `[dyn(${fieldView(
      'p',
      list,
      `Array<${model}>`,
      [list],
      TEMPLATE_ALLOWED.filter((a) => a[0] === list),
      0,
    )})]`;
  const handled = ['containers', 'initContainers', 'volumes', 'imagePullSecrets'];
  const templateMeta = (f: string) => `dyn(has(p.metadata) && has(p.metadata.${f}) ? [p.metadata.${f}] : [])`;
  const specAllowed = [cron ? ['jobTemplate', 'spec', 'template'] : ['template']];
  if (restart.specField !== undefined) specAllowed.push(restart.specField.split('/').slice(2));
  // Follow mode's record rides on every kind's template: writing it is that kind's follow restart.
  const templateAnnotations = [...(restart.templateAnnotation === undefined ? [] : [restart.templateAnnotation]), FOLLOWED_ANNOTATION];
  return [
    v(
      `${compare(['object.metadata', 'oldObject.metadata'], view('p', 'V1ObjectMeta', [], [], 0, ['annotations', ...SERVER_MANAGED_META]))} &&\n${sameMapExcept('variables.annotations', 'variables.oldAnnotations', RESTART_RECORD_ANNOTATION, ...serverAnnotations)}`,
      `secret-steward-rotate may change only the annotation ${RESTART_RECORD_ANNOTATION} of a workload's own metadata`,
    ),
    v(
      compare(['object.spec', 'oldObject.spec'], view('p', spec, [], specAllowed, 0)),
      restart.specField === undefined
        ? "secret-steward-rotate may not change a workload's spec outside its pod template"
        : `secret-steward-rotate may not change a workload's spec outside its pod template and ${restart.specField.split('/').slice(1).join('.')}`,
    ),
    v(
      `${compare(['variables.template', 'variables.oldTemplate'], `[${meta.map(templateMeta).join(', ')}]`)} &&\n${sameMapExcept('variables.templateAnnotations', 'variables.oldTemplateAnnotations', ...templateAnnotations)}`,
      `secret-steward-rotate may change only the annotation${templateAnnotations.length > 1 ? 's' : ''} ${templateAnnotations.join(' and ')} of a pod template's metadata`,
    ),
    v(
      compare(pods, view('p', 'V1PodSpec', [], [], 0, handled)),
      'secret-steward-rotate may not change a pod template (service account, security context, host namespaces, node placement, ...) other than its Secret references',
    ),
    v(
      compare(pods, listView('containers', 'V1Container')),
      'secret-steward-rotate may not change a container (image, command, arguments, security context, mounts, ...) other than the Secret names of env[].valueFrom.secretKeyRef and envFrom[].secretRef',
    ),
    v(
      compare(pods, listView('initContainers', 'V1Container')),
      'secret-steward-rotate may not change an init container (image, command, arguments, security context, mounts, ...) other than the Secret names of env[].valueFrom.secretKeyRef and envFrom[].secretRef',
    ),
    v(
      compare(pods, listView('volumes', 'V1Volume')),
      'secret-steward-rotate may not add, remove or change a volume other than the Secret names of secret.secretName and projected.sources[].secret.name',
    ),
    v(
      compare(pods, listView('imagePullSecrets', 'V1LocalObjectReference')),
      'secret-steward-rotate may not add or remove imagePullSecrets, only rename them',
    ),
  ];
}

/** The policy and binding of each kind, as objects. */
export function workloadPolicyObjects(): Array<Record<string, unknown>> {
  return WORKLOAD_RESOURCES.flatMap((w) => policyObjectsFor({ ...w, version: 'v1' }));
}

/** The policy and binding of components/argo-rollouts, as objects. */
export function rolloutPolicyObjects(): Array<Record<string, unknown>> {
  return policyObjectsFor(ROLLOUT_RESOURCE, { specField: RESTART_AT_FIELD });
}

function policyObjectsFor(
  w: { group: string; version: string; resource: string; spec: string },
  restart?: Restart,
): Array<Record<string, unknown>> {
  const cron = w.resource === 'cronjobs';
  const name = `secret-steward-rotate-${w.resource}`;
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: [w.group], apiVersions: [w.version], resources: [w.resource], operations: ['UPDATE'] }],
        },
        matchConditions: [{ name: 'rotate-service-account', expression: `request.userInfo.username == '${ROTATE_USER}'` }],
        variables: variablesFor(cron),
        validations: validationsFor(w.spec, cron, SERVER_MANAGED_ANNOTATIONS[w.resource], restart),
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  ];
}

const HEADER = `# GENERATED by test/manifests/workload-policy.ts from shared/rotate/workload-fields.ts and the
# models of @kubernetes/client-node: do not edit; UPDATE_WORKLOAD_POLICY=1 npx mocha
# test/manifests/workload-admission-policy.test.ts rewrites it, and that test fails when it differs.
#
# rotate may patch every Deployment, StatefulSet, DaemonSet and CronJob (rbac.yaml): RBAC cannot
# limit a patch to some fields. These ValidatingAdmissionPolicies (GA in Kubernetes 1.30) refuse,
# for rotate's ServiceAccount only, every UPDATE (a PATCH is admitted as an UPDATE of the patched
# object) of those kinds that changes anything but what rotation writes:
#
#   - the pod-template annotation ${RESTART_ANNOTATION} (the restart) and the workload
#     annotation ${RESTART_RECORD_ANNOTATION} (what a rollback restores);
#   - the pod-template annotation ${FOLLOWED_ANNOTATION} (follow mode's restart and its record);
#   - the Secret names a versioned rotation repoints: env[].valueFrom.secretKeyRef.name and
#     envFrom[].secretRef.name of containers and init containers, volumes[].secret.secretName,
#     volumes[].projected.sources[].secret.name, imagePullSecrets[].name.
#
# So a stolen rotate token cannot change an image, a command, a service account, a security
# context, a host namespace or a volume anywhere. Limits (docs/admission-policies.md has them all):
# it can still point a workload's existing Secret references at another Secret of the same
# namespace, and restart it; fields that Kubernetes adds to these kinds after the client-node
# models this was generated from are not compared (regenerate after upgrading client-node); a
# server older than those models only warns about the fields it does not know (type checking).
#
# The expressions compare fields one by one because CEL on the API server cannot iterate the
# fields of a struct; they use only has(), map(), all(), dyn(), in and ==, valid on every Kubernetes
# version that has admissionregistration.k8s.io/v1. Tested how: the API emulator enforces them
# (test/emulator/admission.ts, on cel-js) on the end-to-end rotate runs and on the attacks of
# test/manifests/workload-admission-policy.test.ts.
`;

/** The committed file's content. */
export function renderWorkloadPolicies(): string {
  return `${HEADER}${workloadPolicyObjects()
    .map((o) => stringify(o, { lineWidth: 0 }))
    .join('---\n')}`;
}

const ROLLOUT_HEADER = `# GENERATED by test/manifests/workload-policy.ts from shared/rotate/workload-fields.ts, the
# client-node models and Argo's RolloutSpec fields: do not edit; UPDATE_WORKLOAD_POLICY=1 npx mocha
# test/manifests/rollout-admission-policy.test.ts rewrites it, and that test fails when it differs.
#
# With this component rotate may patch every Argo Rollout (rbac.yaml). This policy refuses, for
# rotate's ServiceAccount only, every UPDATE of a Rollout that changes anything but what rotation
# writes to one:
#
#   - ${RESTART_AT_FIELD.split('/').slice(1).join('.')} (the restart: the Argo controller recreates the pods created before it)
#     and the annotation ${RESTART_RECORD_ANNOTATION} of the Rollout's own metadata;
#   - the Secret names a versioned rotation repoints, as for Deployments
#     (../../base/rotate/workload-admission-policy.yaml).
#
# Unlike the other kinds, no pod-template annotation may change: Rollouts are never restarted
# through their template. The same limits as the base's policies apply (docs/admission-policies.md).
`;

/** The committed file of components/argo-rollouts. */
export function renderRolloutPolicies(): string {
  return `${ROLLOUT_HEADER}${rolloutPolicyObjects()
    .map((o) => stringify(o, { lineWidth: 0 }))
    .join('---\n')}`;
}
