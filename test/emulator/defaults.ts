/**
 * Server-side defaulting for the kinds the emulator knows, a subset of what
 * kube-apiserver's defaulters set (pkg/apis/<group>/v1/defaults.go). Applied on
 * every create and update so that stored objects look like a real cluster's and
 * spec comparisons (generation) are stable.
 */
import type { ResourceType } from './resources.js';
import type { JsonObject, KubeObject } from './types.js';
import { isObject } from './types.js';

function setDefault(obj: JsonObject, key: string, value: unknown): void {
  if (obj[key] === undefined || obj[key] === null) obj[key] = value;
}

function child(obj: JsonObject, key: string): JsonObject {
  if (!isObject(obj[key])) obj[key] = {};
  return obj[key] as JsonObject;
}

function defaultContainer(container: unknown): void {
  if (!isObject(container)) return;
  const image = typeof container.image === 'string' ? container.image : '';
  const tag = image.includes('@') ? 'digest' : (/:([^/:]+)$/.exec(image)?.[1] ?? 'latest');
  setDefault(container, 'imagePullPolicy', tag === 'latest' ? 'Always' : 'IfNotPresent');
  setDefault(container, 'terminationMessagePath', '/dev/termination-log');
  setDefault(container, 'terminationMessagePolicy', 'File');
  setDefault(container, 'resources', {});
  if (Array.isArray(container.ports)) {
    for (const port of container.ports) if (isObject(port)) setDefault(port, 'protocol', 'TCP');
  }
}

/** Pod spec defaults (restartPolicy, dnsPolicy, containers' pull policy...). */
export function defaultPodSpec(spec: JsonObject, restartPolicy = 'Always'): void {
  setDefault(spec, 'restartPolicy', restartPolicy);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  for (const list of ['containers', 'initContainers']) {
    if (Array.isArray(spec[list])) for (const c of spec[list] as unknown[]) defaultContainer(c);
  }
  if (Array.isArray(spec.volumes)) {
    for (const volume of spec.volumes) {
      if (isObject(volume) && isObject(volume.secret)) setDefault(volume.secret, 'defaultMode', 420);
      if (isObject(volume) && isObject(volume.configMap)) setDefault(volume.configMap, 'defaultMode', 420);
      if (isObject(volume) && isObject(volume.projected)) setDefault(volume.projected, 'defaultMode', 420);
    }
  }
}

function defaultTemplate(spec: JsonObject, restartPolicy?: string): void {
  if (!isObject(spec.template)) return;
  const template = spec.template;
  // ObjectMeta.creationTimestamp is a struct without omitempty: the real server writes
  // `metadata: { creationTimestamp: null }` into every pod template it returns.
  const meta = child(template, 'metadata');
  if (!('creationTimestamp' in meta)) meta.creationTimestamp = null;
  if (isObject(template.spec)) defaultPodSpec(template.spec, restartPolicy);
}

function defaultDeployment(spec: JsonObject): void {
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  const strategy = child(spec, 'strategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const rolling = child(strategy, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', '25%');
    setDefault(rolling, 'maxSurge', '25%');
  }
  defaultTemplate(spec);
}

function defaultStatefulSet(spec: JsonObject): void {
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'podManagementPolicy', 'OrderedReady');
  setDefault(spec, 'revisionHistoryLimit', 10);
  const strategy = child(spec, 'updateStrategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') setDefault(child(strategy, 'rollingUpdate'), 'partition', 0);
  setDefault(spec, 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
  defaultTemplate(spec);
}

function defaultDaemonSet(spec: JsonObject): void {
  setDefault(spec, 'revisionHistoryLimit', 10);
  const strategy = child(spec, 'updateStrategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const rolling = child(strategy, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', 1);
    setDefault(rolling, 'maxSurge', 0);
  }
  defaultTemplate(spec);
}

function defaultJobSpec(spec: JsonObject): void {
  setDefault(spec, 'backoffLimit', 6);
  setDefault(spec, 'completions', 1);
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'podReplacementPolicy', isObject(spec.podFailurePolicy) ? 'Failed' : 'TerminatingOrFailed');
  // Jobs have no restartPolicy default: validation requires OnFailure or Never.
  if (isObject(spec.template) && isObject(spec.template.spec)) {
    const podSpec = spec.template.spec;
    const restart = podSpec.restartPolicy;
    defaultPodSpec(podSpec, typeof restart === 'string' ? restart : '');
    if (podSpec.restartPolicy === '') delete podSpec.restartPolicy;
  }
}

/**
 * The selector and labels the Job controller's admission adds (batch/v1
 * `controller-uid` / `job-name` labels), unless `manualSelector` is true.
 */
export function defaultJobSelector(job: KubeObject, uid: string): void {
  const spec = isObject(job.spec) ? job.spec : undefined;
  if (!spec || spec.manualSelector === true || !isObject(spec.template)) return;
  const name = job.metadata?.name ?? '';
  const labels = {
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  };
  if (!isObject(spec.selector)) spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  const meta = child(spec.template, 'metadata');
  meta.labels = { ...(isObject(meta.labels) ? meta.labels : {}), ...labels };
}

function defaultCronJob(spec: JsonObject): void {
  setDefault(spec, 'concurrencyPolicy', 'Allow');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'successfulJobsHistoryLimit', 3);
  setDefault(spec, 'failedJobsHistoryLimit', 1);
  if (isObject(spec.jobTemplate) && isObject(spec.jobTemplate.spec)) defaultJobSpec(spec.jobTemplate.spec);
}

/** Applies defaults in place. */
export function applyDefaults(rt: ResourceType, obj: KubeObject): void {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  switch (rt.key) {
    case '/secrets':
      if (obj.type === undefined || obj.type === '') obj.type = 'Opaque';
      break;
    case '/namespaces':
      obj.spec = { finalizers: ['kubernetes'], ...(spec ?? {}) };
      break;
    case '/pods':
      if (spec) defaultPodSpec(spec);
      break;
    case '/services':
      if (spec) {
        setDefault(spec, 'type', 'ClusterIP');
        setDefault(spec, 'sessionAffinity', 'None');
      }
      break;
    case 'apps/deployments':
      if (spec) defaultDeployment(spec);
      break;
    case 'apps/statefulsets':
      if (spec) defaultStatefulSet(spec);
      break;
    case 'apps/daemonsets':
      if (spec) defaultDaemonSet(spec);
      break;
    case 'apps/replicasets':
      if (spec) {
        setDefault(spec, 'replicas', 1);
        defaultTemplate(spec);
      }
      break;
    case 'batch/jobs':
      if (spec) defaultJobSpec(spec);
      break;
    case 'batch/cronjobs':
      if (spec) defaultCronJob(spec);
      break;
    default:
      break;
  }
}
