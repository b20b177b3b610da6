/**
 * A stand-in for the Deployment, StatefulSet and DaemonSet controllers plus
 * kubelet, reduced to what rollout logic observes: `status`.
 *
 * After `rolloutDelayMs` from a spec (generation) change it writes the status a
 * real controller converges to. A new pod template "rolls out" unless it fails:
 * marked failing (setFailing / annotation / predicate), or referencing a Secret
 * or ConfigMap (or a key of one) that does not exist, without `optional: true`,
 * like kubelet's CreateContainerConfigError / FailedMount. A failing rollout is
 * left half-done the way a RollingUpdate gets stuck (new pods never ready, old
 * pods kept by maxUnavailable/maxSurge), and after the progress deadline a
 * Deployment reports Progressing=False / ProgressDeadlineExceeded. A stuck
 * rollout is re-evaluated when Secrets/ConfigMaps of its namespace change (a
 * real kubelet retries), so creating the missing Secret completes it.
 * Paused Deployments only get observedGeneration and a DeploymentPaused condition.
 */
import { createHash } from 'node:crypto';
import { KubeApiError } from './errors.js';
import type { Registry } from './registry.js';
import { rfc3339 } from './registry.js';
import type { ResourceType } from './resources.js';
import { findByPlural } from './resources.js';
import type { StoreEvent } from './store.js';
import type { JsonObject, KubeObject, StoredKubeObject } from './types.js';
import { cloneJson, deepEqual, isObject } from './types.js';

/** Kinds the controller manages (Rollout: the Argo Rollouts controller, served with the CRD only). */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Rollout';

/** Annotation that makes every rollout of a workload fail. */
export const FAIL_ROLLOUT_ANNOTATION = 'emulator.secret-steward.io/fail-rollout';

/** One observed pod-template rollout. `outcome` changes from 'stuck' to 'complete' if it later succeeds. */
export interface RolloutRecord {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** metadata.generation that carried the new template. */
  generation: number;
  /** Revision number the controller gave the template (1, 2, ...). */
  revision: number;
  /** spec.template.metadata.annotations at that generation (e.g. kubectl.kubernetes.io/restartedAt). */
  templateAnnotations: Record<string, string>;
  time: Date;
  outcome: 'complete' | 'stuck';
  /** Why it is stuck (kubelet-style message), when it is. */
  failureReason?: string;
}

/** One restart of an Argo Rollout's pods through `spec.restartAt`, once it is done. */
export interface RestartRecord {
  namespace: string;
  name: string;
  /** The `spec.restartAt` the pods were recreated for. */
  restartAt: string;
  time: Date;
}

/** What the StatefulSet controller did to one pod, in order (the test's view of the pod churn). */
export interface PodAction {
  action: 'create' | 'ready' | 'delete';
  namespace: string;
  pod: string;
  /** controller-revision-hash of the pod. */
  revision: string;
}

/** The kubelet stand-in's view of one running pod, per container. */
interface PodView {
  namespace: string;
  pod: string;
  containers: Record<string, { env: Record<string, string>; files: Record<string, string>; subPathFiles: Record<string, string> }>;
}

/** Content-based failure hook: return true to make the rollout of `workload` fail. */
export type FailurePredicate<E = unknown> = (workload: KubeObject, emulator: E) => boolean;

interface WorkloadState {
  /** Template of the last completed rollout (old pods run this). */
  rolledTemplate?: unknown;
  revision: number;
  /** Template currently failing to roll out. */
  stuckTemplate?: unknown;
  stuckRecord?: RolloutRecord;
  deadlineTimer?: NodeJS.Timeout;
  deadlineExceeded: boolean;
  /** StatefulSets: the revisions seen (ControllerRevision stand-ins) and status.currentRevision. */
  sts?: { templates: Map<string, unknown>; currentRevision?: string };
  /**
   * Deployments and DaemonSets: how far the rollout of the template with this hash has come
   * before its final status: `updated` (new pods not all ready, an old one still terminating),
   * `ready` (all ready, not yet available for minReadySeconds, since `readySince`).
   */
  progress?: { hash: string; phase: 'updated' | 'ready'; readySince?: number };
  /** Rollouts: the `spec.restartAt` being restarted for, and whether a pod of it fails to start. */
  restart?: { restartAt: string; stuck: boolean };
}

/** Labels the StatefulSet controller puts on its pods (pkg/controller/statefulset/stateful_set_utils.go). */
export const REVISION_LABEL = 'controller-revision-hash';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

const KINDS: Record<WorkloadKind, [group: string, version: string, plural: string]> = {
  Deployment: ['apps', 'v1', 'deployments'],
  StatefulSet: ['apps', 'v1', 'statefulsets'],
  DaemonSet: ['apps', 'v1', 'daemonsets'],
  Rollout: ['argoproj.io', 'v1alpha1', 'rollouts'],
};

function rtOf(kind: WorkloadKind): ResourceType {
  return findByPlural(...KINDS[kind]) as ResourceType;
}

const podRt = (): ResourceType => findByPlural('', 'v1', 'pods') as ResourceType;

function podCondition(pod: KubeObject, type: string): JsonObject | undefined {
  const status = isObject(pod.status) ? pod.status : {};
  return Array.isArray(status.conditions) ? status.conditions.filter(isObject).find((c) => c.type === type) : undefined;
}

/** Running and Ready, as the StatefulSet controller's isRunningAndReady. */
export function podReady(pod: KubeObject): boolean {
  return isObject(pod.status) && pod.status.phase === 'Running' && podCondition(pod, 'Ready')?.status === 'True';
}

function templateHash(template: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(template ?? null))
    .digest('hex')
    .slice(0, 10);
}

/** Resolves maxSurge / maxUnavailable (int or percentage) against `total`. */
function intOrPercent(value: unknown, total: number, roundUp: boolean, fallback: number): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d+%$/.test(value)) {
    const exact = (Number(value.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  }
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return fallback;
}

function withoutZeros(status: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(status)) if (v !== 0 && v !== undefined) out[k] = v;
  return out;
}

type Lookup = (plural: 'secrets' | 'configmaps', name: string) => JsonObject | undefined;

/** Keys of a Secret (data) or ConfigMap (data + binaryData). */
function keysOf(obj: JsonObject): Set<string> {
  return new Set([...Object.keys(isObject(obj.data) ? obj.data : {}), ...Object.keys(isObject(obj.binaryData) ? obj.binaryData : {})]);
}

/** kubelet's error for a missing reference, or undefined when it resolves. */
function checkRef(
  lookup: Lookup,
  plural: 'secrets' | 'configmaps',
  name: unknown,
  keys: string[],
  optional: unknown,
  namespace: string,
): string | undefined {
  if (optional === true || typeof name !== 'string') return undefined;
  const kind = plural === 'secrets' ? 'secret' : 'configmap';
  const obj = lookup(plural, name);
  if (!obj) return `${kind} "${name}" not found`;
  const have = keysOf(obj);
  const missing = keys.find((k) => !have.has(k));
  return missing ? `couldn't find key ${missing} in ${plural === 'secrets' ? 'Secret' : 'ConfigMap'} ${namespace}/${name}` : undefined;
}

function itemKeys(items: unknown): string[] {
  return Array.isArray(items) ? items.filter(isObject).map((i) => String(i.key)) : [];
}

/** First unresolvable Secret/ConfigMap reference in a pod template (imagePullSecrets excluded). */
export function missingReference(template: unknown, namespace: string, lookup: Lookup): string | undefined {
  const spec = isObject(template) && isObject(template.spec) ? template.spec : {};
  const containers = [
    ...(Array.isArray(spec.initContainers) ? spec.initContainers : []),
    ...(Array.isArray(spec.containers) ? spec.containers : []),
  ].filter(isObject);
  for (const c of containers) {
    for (const env of Array.isArray(c.env) ? c.env.filter(isObject) : []) {
      const from = isObject(env.valueFrom) ? env.valueFrom : {};
      const s = isObject(from.secretKeyRef) ? from.secretKeyRef : undefined;
      const m = isObject(from.configMapKeyRef) ? from.configMapKeyRef : undefined;
      const err =
        (s && checkRef(lookup, 'secrets', s.name, [String(s.key)], s.optional, namespace)) ||
        (m && checkRef(lookup, 'configmaps', m.name, [String(m.key)], m.optional, namespace));
      if (err) return err;
    }
    for (const envFrom of Array.isArray(c.envFrom) ? c.envFrom.filter(isObject) : []) {
      const s = isObject(envFrom.secretRef) ? envFrom.secretRef : undefined;
      const m = isObject(envFrom.configMapRef) ? envFrom.configMapRef : undefined;
      const err =
        (s && checkRef(lookup, 'secrets', s.name, [], s.optional, namespace)) ||
        (m && checkRef(lookup, 'configmaps', m.name, [], m.optional, namespace));
      if (err) return err;
    }
  }
  for (const volume of Array.isArray(spec.volumes) ? spec.volumes.filter(isObject) : []) {
    const s = isObject(volume.secret) ? volume.secret : undefined;
    const m = isObject(volume.configMap) ? volume.configMap : undefined;
    let err =
      (s && checkRef(lookup, 'secrets', s.secretName, itemKeys(s.items), s.optional, namespace)) ||
      (m && checkRef(lookup, 'configmaps', m.name, itemKeys(m.items), m.optional, namespace));
    if (err) return err;
    const sources = isObject(volume.projected) && Array.isArray(volume.projected.sources) ? volume.projected.sources.filter(isObject) : [];
    for (const source of sources) {
      const ps = isObject(source.secret) ? source.secret : undefined;
      const pm = isObject(source.configMap) ? source.configMap : undefined;
      err =
        (ps && checkRef(lookup, 'secrets', ps.name, itemKeys(ps.items), ps.optional, namespace)) ||
        (pm && checkRef(lookup, 'configmaps', pm.name, itemKeys(pm.items), pm.optional, namespace));
      if (err) return err;
    }
  }
  return undefined;
}

/** See the module documentation. */
export class WorkloadController<E = unknown> {
  /** Delay between a spec change and the status update. Can be changed at any time. */
  rolloutDelayMs: number;
  /** Overrides spec.progressDeadlineSeconds (default 600 s) for failing Deployments, in ms. */
  progressDeadlineMs?: number;
  /** Nodes a DaemonSet schedules on. @default 3 */
  nodeCount = 3;
  /** Every rollout observed, oldest first. */
  readonly rollouts: RolloutRecord[] = [];
  /** Every restart of an Argo Rollout's pods (`spec.restartAt`) completed, oldest first. */
  readonly restarts: RestartRecord[] = [];
  /** Every pod the StatefulSet controller created, made ready or deleted, oldest first. */
  readonly podActions: PodAction[] = [];
  /**
   * Kubelet stand-in: how long after a Secret changes the Secret volumes of running pods show it
   * (a real kubelet: within its sync period plus the Secret cache TTL, about a minute). @default 20
   */
  kubeletSyncDelayMs = 20;
  private readonly views = new Map<string, PodView>();
  private readonly kubeletTimers = new Set<NodeJS.Timeout>();

  private readonly failing = new Set<string>();
  private predicate?: FailurePredicate<E>;
  private readonly states = new Map<string, WorkloadState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly unsubscribers: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly registry: Registry,
    private readonly emulator: E,
    private readonly now: () => Date,
    rolloutDelayMs: number,
  ) {
    this.rolloutDelayMs = rolloutDelayMs;
    for (const kind of Object.keys(KINDS) as WorkloadKind[]) {
      this.unsubscribers.push(registry.store.subscribe(rtOf(kind).key, (ev) => this.onWorkloadEvent(kind, ev)));
    }
    this.unsubscribers.push(registry.store.subscribe(podRt().key, (ev) => this.onPodEvent(ev)));
    for (const storage of ['/secrets', '/configmaps']) {
      this.unsubscribers.push(registry.store.subscribe(storage, (ev) => this.onReferencedChange(ev.entry.namespace)));
    }
    this.unsubscribers.push(registry.store.subscribe('/secrets', (ev) => this.syncVolumesLater(ev.entry.namespace)));
  }

  /** Marks (or unmarks) one workload as failing its rollouts. */
  setFailing(kind: WorkloadKind, namespace: string, name: string, failing: boolean): void {
    const key = `${kind}/${namespace}/${name}`;
    if (failing) this.failing.add(key);
    else this.failing.delete(key);
    this.schedule(kind, namespace, name);
  }

  /** Installs (or removes, with undefined) a content-based failure predicate. */
  setFailurePredicate(predicate: FailurePredicate<E> | undefined): void {
    this.predicate = predicate;
  }

  /** Resolves once no status update is pending. */
  idle(): Promise<void> {
    if (this.timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels every timer and stops watching. */
  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const t of this.kubeletTimers) clearTimeout(t);
    this.kubeletTimers.clear();
    for (const s of this.states.values()) if (s.deadlineTimer) clearTimeout(s.deadlineTimer);
    for (const u of this.unsubscribers) u();
    this.unsubscribers.length = 0;
    this.notifyIdle();
  }

  private onWorkloadEvent(kind: WorkloadKind, ev: StoreEvent): void {
    const obj = ev.entry.obj;
    if (ev.type === 'DELETED') {
      const state = this.states.get(obj.metadata.uid);
      if (state?.deadlineTimer) clearTimeout(state.deadlineTimer);
      this.states.delete(obj.metadata.uid);
      return;
    }
    const status = isObject(obj.status) ? obj.status : {};
    // Argo Rollouts write observedGeneration as a string.
    if (ev.type === 'ADDED' || String(status.observedGeneration) !== String(obj.metadata.generation))
      this.schedule(kind, ev.entry.namespace, ev.entry.name);
  }

  /**
   * What a container of a running pod sees now (kubelet stand-in): its environment variables from
   * Secrets, fixed when the pod started, and the files of its Secret volumes (`secret` and
   * `projected` sources, `items` honoured), which follow the Secret `kubeletSyncDelayMs` after
   * it changes, except subPath mounts, which keep what they had at start. Undefined for a pod
   * the controllers did not start. Values are decoded to text.
   */
  podView(namespace: string, pod: string, container?: string): { env: Record<string, string>; files: Record<string, string> } | undefined {
    const view = [...this.views.values()].find((v) => v.namespace === namespace && v.pod === pod);
    if (!view) return undefined;
    const name = container ?? Object.keys(view.containers)[0];
    const c = view.containers[name];
    return c ? { env: { ...c.env }, files: { ...c.files, ...c.subPathFiles } } : undefined;
  }

  private secretData(namespace: string, name: string): Record<string, string> | undefined {
    try {
      const obj = this.registry.get(findByPlural('', 'v1', 'secrets') as ResourceType, namespace, name).obj;
      const data = isObject(obj.data) ? obj.data : {};
      return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString()]));
    } catch {
      return undefined;
    }
  }

  /** Files of one volume (path relative to the mount -> content), from the Secrets as they are now. */
  private volumeFiles(namespace: string, volume: JsonObject): Record<string, string> {
    const out: Record<string, string> = {};
    const add = (name: unknown, items: unknown) => {
      const data = typeof name === 'string' ? this.secretData(namespace, name) : undefined;
      if (!data) return;
      const mapped = Array.isArray(items) ? items.filter(isObject) : undefined;
      if (mapped) for (const i of mapped) out[String(i.path)] = data[String(i.key)] ?? '';
      else Object.assign(out, data);
    };
    if (isObject(volume.secret)) add(volume.secret.secretName, volume.secret.items);
    const sources = isObject(volume.projected) && Array.isArray(volume.projected.sources) ? volume.projected.sources.filter(isObject) : [];
    for (const src of sources) if (isObject(src.secret)) add(src.secret.name, src.secret.items);
    return out;
  }

  /** A container's files now: every non-subPath mount of a Secret volume. */
  private mountedFiles(namespace: string, spec: JsonObject, container: JsonObject, subPath: boolean): Record<string, string> {
    const volumes = Array.isArray(spec.volumes) ? spec.volumes.filter(isObject) : [];
    const out: Record<string, string> = {};
    for (const m of Array.isArray(container.volumeMounts) ? container.volumeMounts.filter(isObject) : []) {
      const volume = volumes.find((v) => v.name === m.name);
      if (!volume || (typeof m.subPath === 'string' && m.subPath !== '') !== subPath) continue;
      const files = this.volumeFiles(namespace, volume);
      if (subPath) {
        if (files[String(m.subPath)] !== undefined) out[String(m.mountPath)] = files[String(m.subPath)];
      } else for (const [path, content] of Object.entries(files)) out[`${String(m.mountPath).replace(/\/$/, '')}/${path}`] = content;
    }
    return out;
  }

  /** The kubelet starting a pod: env vars and subPath files fixed now, volumes followed from now on. */
  private startPod(pod: StoredKubeObject): void {
    const ns = pod.metadata.namespace ?? '';
    const spec = isObject(pod.spec) ? pod.spec : {};
    const containers: PodView['containers'] = {};
    for (const c of Array.isArray(spec.containers) ? spec.containers.filter(isObject) : []) {
      const env: Record<string, string> = {};
      for (const from of Array.isArray(c.envFrom) ? c.envFrom.filter(isObject) : []) {
        const data = isObject(from.secretRef) ? this.secretData(ns, String(from.secretRef.name)) : undefined;
        if (data) for (const [k, v] of Object.entries(data)) env[`${typeof from.prefix === 'string' ? from.prefix : ''}${k}`] = v;
      }
      for (const e of Array.isArray(c.env) ? c.env.filter(isObject) : []) {
        const ref = isObject(e.valueFrom) && isObject(e.valueFrom.secretKeyRef) ? e.valueFrom.secretKeyRef : undefined;
        if (ref) {
          const v = this.secretData(ns, String(ref.name))?.[String(ref.key)];
          if (v !== undefined) env[String(e.name)] = v;
        } else if (typeof e.value === 'string') env[String(e.name)] = e.value;
      }
      containers[String(c.name)] = {
        env,
        files: this.mountedFiles(ns, spec, c, false),
        subPathFiles: this.mountedFiles(ns, spec, c, true),
      };
    }
    this.views.set(pod.metadata.uid, { namespace: ns, pod: pod.metadata.name, containers });
  }

  /** After a Secret change: the Secret volumes of the namespace's running pods follow, `kubeletSyncDelayMs` later. */
  private syncVolumesLater(namespace: string): void {
    const timer = setTimeout(() => {
      this.kubeletTimers.delete(timer);
      for (const [uid, view] of this.views) {
        if (view.namespace !== namespace) continue;
        let pod: StoredKubeObject;
        try {
          pod = this.registry.get(podRt(), namespace, view.pod).obj;
        } catch {
          this.views.delete(uid);
          continue;
        }
        if (pod.metadata.uid !== uid) {
          this.views.delete(uid);
          continue;
        }
        const spec = isObject(pod.spec) ? pod.spec : {};
        for (const c of Array.isArray(spec.containers) ? spec.containers.filter(isObject) : []) {
          const current = view.containers[String(c.name)];
          if (current) current.files = this.mountedFiles(namespace, spec, c, false);
        }
      }
    }, this.kubeletSyncDelayMs);
    timer.unref();
    this.kubeletTimers.add(timer);
  }

  /** A deleted pod of a StatefulSet: its controller recreates it (at the update revision). */
  private onPodEvent(ev: StoreEvent): void {
    if (ev.type === 'DELETED') this.views.delete(ev.entry.obj.metadata.uid);
    if (ev.type !== 'DELETED') return;
    const owner = (ev.entry.obj.metadata.ownerReferences ?? []).find((r) => r.controller === true && r.kind === 'StatefulSet');
    if (owner) this.schedule('StatefulSet', ev.entry.namespace, owner.name);
  }

  private onReferencedChange(namespace: string): void {
    for (const kind of Object.keys(KINDS) as WorkloadKind[]) {
      for (const view of this.registry.list(rtOf(kind), { namespace }).items) {
        const state = this.states.get(view.obj.metadata.uid);
        if (state?.stuckTemplate !== undefined || state?.restart?.stuck) this.schedule(kind, namespace, view.obj.metadata.name);
      }
    }
  }

  private schedule(kind: WorkloadKind, namespace: string, name: string, delayMs = this.rolloutDelayMs): void {
    const key = `${kind}/${namespace}/${name}`;
    const existing = this.timers.get(key);
    if (existing) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      try {
        this.reconcile(kind, namespace, name);
      } finally {
        if (this.timers.size === 0) this.notifyIdle();
      }
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private failureReason(kind: WorkloadKind, obj: StoredKubeObject, template: unknown): string | undefined {
    const ns = obj.metadata.namespace ?? '';
    if (this.failing.has(`${kind}/${ns}/${obj.metadata.name}`)) return 'marked failing by the test';
    const annotations = obj.metadata.annotations ?? {};
    const templateAnnotations =
      isObject(template) && isObject(template.metadata) && isObject(template.metadata.annotations) ? template.metadata.annotations : {};
    if (annotations[FAIL_ROLLOUT_ANNOTATION] === 'true' || templateAnnotations[FAIL_ROLLOUT_ANNOTATION] === 'true')
      return `annotation ${FAIL_ROLLOUT_ANNOTATION}=true`;
    if (this.predicate?.(cloneJson(obj), this.emulator)) return 'failure predicate';
    const lookup: Lookup = (plural, refName) => {
      const rt = findByPlural('', 'v1', plural) as ResourceType;
      try {
        return this.registry.get(rt, ns, refName).obj;
      } catch {
        return undefined;
      }
    };
    const missing = missingReference(template, ns, lookup);
    return missing ? `CreateContainerConfigError: ${missing}` : undefined;
  }

  private reconcile(kind: WorkloadKind, namespace: string, name: string): void {
    let obj: StoredKubeObject;
    try {
      obj = this.registry.get(rtOf(kind), namespace, name).obj;
    } catch {
      return;
    }
    const uid = obj.metadata.uid;
    const state = this.states.get(uid) ?? { revision: 0, deadlineExceeded: false };
    this.states.set(uid, state);
    const spec = isObject(obj.spec) ? obj.spec : {};
    const template = spec.template;
    if (kind === 'StatefulSet') {
      this.reconcileStatefulSet(obj, state);
      return;
    }
    if (kind === 'Rollout') {
      this.reconcileRollout(obj, state);
      return;
    }
    if (kind === 'Deployment' && spec.paused === true) {
      this.writeStatus(kind, obj, this.pausedStatus(obj));
      return;
    }
    if (state.rolledTemplate !== undefined && deepEqual(state.rolledTemplate, template)) {
      this.clearStuck(state);
      this.writeStatus(kind, obj, this.completeStatus(kind, obj, state));
      return;
    }
    const reason = this.failureReason(kind, obj, template);
    const record = this.recordFor(kind, obj, state, template);
    if (!reason) {
      if (this.inProgress(kind, obj, state, template)) {
        // Not stuck, but not complete either: keep this record for the next step.
        this.clearStuck(state);
        state.stuckTemplate = cloneJson(template);
        state.stuckRecord = record;
        return;
      }
      this.clearStuck(state);
      state.rolledTemplate = cloneJson(template);
      record.outcome = 'complete';
      delete record.failureReason;
      this.writeStatus(kind, obj, this.completeStatus(kind, obj, state));
      return;
    }
    record.outcome = 'stuck';
    record.failureReason = reason;
    if (!deepEqual(state.stuckTemplate, template)) {
      this.clearStuck(state);
      state.stuckTemplate = cloneJson(template);
      state.stuckRecord = record;
      this.armDeadline(kind, obj, state);
    }
    this.writeStatus(kind, obj, this.stuckStatus(kind, obj, state));
  }

  /**
   * One sync of the StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go
   * updateStatefulSet), one step per `rolloutDelayMs` so that intermediate states are seen: with
   * the default OrderedReady policy, ordinals are created in order, each one waited for until it is
   * Running and Ready; a pod that never becomes ready blocks everything behind it (it is never
   * replaced, even by a reverted template: upstream's "forced rollback"). A RollingUpdate deletes
   * the highest-ordinal pod not on the update revision (ordinals >= partition only, each available
   * for minReadySeconds first), which the next step recreates on the update revision. currentRevision
   * becomes the update revision once every replica is updated and ready.
   */
  private reconcileStatefulSet(obj: StoredKubeObject, state: WorkloadState): void {
    const spec = isObject(obj.spec) ? obj.spec : {};
    const name = obj.metadata.name;
    const template = spec.template;
    const updateRevision = `${name}-${templateHash(template)}`;
    const sts = state.sts ?? { templates: new Map<string, unknown>() };
    state.sts = sts;
    sts.templates.set(updateRevision, cloneJson(template));
    sts.currentRevision ??= updateRevision;
    const rolledRevision = state.rolledTemplate === undefined ? undefined : `${name}-${templateHash(state.rolledTemplate)}`;
    const record = updateRevision === rolledRevision ? undefined : this.recordFor('StatefulSet', obj, state, template);
    if (record && !deepEqual(state.stuckTemplate, template)) {
      this.clearStuck(state);
      state.stuckTemplate = cloneJson(template);
      state.stuckRecord = record;
    }
    if (!record) this.clearStuck(state);
    const replicas = this.desired('StatefulSet', obj);
    const strategy = isObject(spec.updateStrategy) ? spec.updateStrategy : {};
    const onDelete = strategy.type === 'OnDelete';
    const rolling = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : {};
    const partition = typeof rolling.partition === 'number' ? rolling.partition : 0;
    const parallel = spec.podManagementPolicy === 'Parallel';
    const minReadyMs = (typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0) * 1000;
    const failure = (revision: string) =>
      revision === rolledRevision ? undefined : this.failureReason('StatefulSet', obj, sts.templates.get(revision));

    let pods = this.podsOf(obj);
    let acted = false;
    let blockedBy: string | undefined;
    let waitMs: number | undefined;
    for (let i = 0; i < replicas; i++) {
      const pod = pods.get(i);
      if (!pod) {
        const revision = i < partition && !onDelete ? sts.currentRevision : updateRevision;
        this.createPod(obj, i, revision, sts.templates.get(revision));
        acted = true;
        if (parallel) continue;
        break;
      }
      if (podReady(pod)) {
        // Running and Available (isRunningAndAvailable with minReadySeconds) before the next ordinal.
        const left = this.availableIn(pod, minReadyMs);
        if (left === 0 || parallel) continue;
        waitMs = left;
        break;
      }
      const revision = pod.metadata.labels?.[REVISION_LABEL] ?? '';
      const reason = failure(revision);
      if (reason === undefined) {
        this.setPodStatus(pod, true);
        acted = true;
      } else {
        blockedBy ??= reason;
        this.setPodStatus(pod, false, reason);
      }
      if (!parallel) break;
    }
    if (!acted && blockedBy === undefined && waitMs === undefined) {
      const extra = [...pods.keys()].filter((i) => i >= replicas).sort((a, b) => b - a);
      if (extra.length > 0) {
        this.deletePod(pods.get(extra[0])!);
        acted = true;
      } else if (!onDelete) {
        for (let i = replicas - 1; i >= partition; i--) {
          const pod = pods.get(i)!;
          if (pod.metadata.labels?.[REVISION_LABEL] === updateRevision) continue;
          const left = this.availableIn(pod, minReadyMs);
          if (left > 0) waitMs = left;
          else {
            this.deletePod(pod);
            acted = true;
          }
          break;
        }
      }
    }
    pods = this.podsOf(obj);
    const all = [...pods.values()];
    const ready = all.filter(podReady);
    const available = ready.filter((p) => this.availableIn(p, minReadyMs) === 0);
    if (waitMs === undefined && available.length < ready.length)
      waitMs = Math.min(...ready.map((p) => this.availableIn(p, minReadyMs)).filter((ms) => ms > 0));
    const updated = all.filter((p) => p.metadata.labels?.[REVISION_LABEL] === updateRevision).length;
    if (updated === replicas && ready.length === replicas && all.length === replicas) {
      sts.currentRevision = updateRevision;
      state.rolledTemplate = cloneJson(template);
      if (record) {
        record.outcome = 'complete';
        delete record.failureReason;
      }
      this.clearStuck(state);
    } else if (record) {
      record.outcome = 'stuck';
      if (blockedBy !== undefined) record.failureReason = blockedBy;
    }
    const current = all.filter((p) => p.metadata.labels?.[REVISION_LABEL] === sts.currentRevision).length;
    this.writeStatus('StatefulSet', obj, {
      observedGeneration: obj.metadata.generation,
      replicas: all.length,
      ...withoutZeros({ readyReplicas: ready.length, currentReplicas: current, updatedReplicas: updated }),
      availableReplicas: available.length,
      currentRevision: sts.currentRevision,
      updateRevision,
      collisionCount: 0,
    });
    if (acted) this.schedule('StatefulSet', obj.metadata.namespace ?? '', name);
    else if (waitMs !== undefined) this.schedule('StatefulSet', obj.metadata.namespace ?? '', name, waitMs);
  }

  /**
   * One sync of the Argo Rollouts controller, reduced to the status it converges to (status fields:
   * argo-rollouts pkg/apis/rollouts/v1alpha1/types.go; phase and message as its
   * utils/rollout/rolloututil.go CalculateRolloutPhase computes them). `observedGeneration` is a
   * string. A new pod template (`currentPodHash`) first shows every replica updated but one not yet
   * available (Progressing), then Healthy with `stableRS` = `currentPodHash`; one that fails stays
   * Progressing with the old ReplicaSet stable until the progress deadline, then is Degraded
   * (ProgressDeadlineExceeded). A template equal to the stable one is back at once (no new
   * revision). `spec.restartAt` at or before now, differing from `status.restartedAt`, recreates
   * the pods (docs/features/restart.md): one step Progressing "rollout is restarting", then
   * `status.restartedAt` = `spec.restartAt`; a restart whose new pods fail stays restarting (until
   * the failure clears), and a template change cancels a restart in flight by setting
   * `status.restartedAt` to `spec.restartAt`. Canary steps, blue-green services, analysis and
   * workloadRef are not modelled.
   */
  private reconcileRollout(obj: StoredKubeObject, state: WorkloadState): void {
    const spec = isObject(obj.spec) ? obj.spec : {};
    const prev = isObject(obj.status) ? obj.status : {};
    const template = spec.template;
    const hash = templateHash(template);
    const d = this.desired('Rollout', obj);
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    const restartAt = typeof spec.restartAt === 'string' ? spec.restartAt : undefined;
    let restartedAt = typeof prev.restartedAt === 'string' ? prev.restartedAt : undefined;
    const stableHash = state.rolledTemplate === undefined ? undefined : templateHash(state.rolledTemplate);
    const conditions = (progressing: JsonObject, available: boolean): JsonObject[] => [
      this.condition(
        prev.conditions,
        'Available',
        available ? 'True' : 'False',
        'AvailableReason',
        available ? 'Rollout has minimum availability' : 'Rollout does not have minimum availability',
      ),
      progressing,
    ];
    const status = (fields: JsonObject, phase: string, message: string, progressing: JsonObject): JsonObject => ({
      observedGeneration: String(obj.metadata.generation ?? 1),
      replicas: d,
      ...fields,
      currentPodHash: hash,
      ...(restartedAt === undefined ? {} : { restartedAt }),
      phase,
      ...(message === '' ? {} : { message }),
      conditions: conditions(progressing, (fields.availableReplicas as number | undefined) !== 0),
    });
    const rsName = `${name}-${hash}`;
    const healthy = () =>
      status(
        { updatedReplicas: d, readyReplicas: d, availableReplicas: d, stableRS: hash },
        'Healthy',
        '',
        this.condition(
          prev.conditions,
          'Progressing',
          'True',
          'NewReplicaSetAvailable',
          `ReplicaSet "${rsName}" has successfully progressed.`,
        ),
      );
    if (spec.paused === true) {
      this.writeStatus('Rollout', obj, {
        ...prev,
        observedGeneration: String(obj.metadata.generation ?? 1),
        phase: 'Paused',
        message: 'manually paused',
      });
      return;
    }
    if (stableHash !== hash) {
      // A new revision: a restart in flight is cancelled, the new ReplicaSet brings up new pods anyway.
      if (restartAt !== undefined) restartedAt = restartAt;
      state.restart = undefined;
      const reason = this.failureReason('Rollout', obj, template);
      const record = this.recordFor('Rollout', obj, state, template);
      if (reason) {
        record.outcome = 'stuck';
        record.failureReason = reason;
        if (!deepEqual(state.stuckTemplate, template)) {
          this.clearStuck(state);
          state.stuckTemplate = cloneJson(template);
          state.stuckRecord = record;
          this.armDeadline('Rollout', obj, state);
        }
        this.writeStatus('Rollout', obj, this.rolloutStuckStatus(obj, state, status));
        return;
      }
      if (state.progress?.hash !== hash) {
        this.clearStuck(state);
        state.stuckTemplate = cloneJson(template);
        state.stuckRecord = record;
        state.progress = { hash, phase: 'updated' };
        this.writeStatus(
          'Rollout',
          obj,
          status(
            {
              updatedReplicas: d,
              readyReplicas: Math.max(0, d - 1),
              availableReplicas: Math.max(0, d - 1),
              ...(stableHash === undefined ? {} : { stableRS: stableHash }),
            },
            'Progressing',
            'updated replicas are still becoming available',
            this.condition(
              prev.conditions,
              'Progressing',
              'True',
              'ReplicaSetUpdated',
              `Rollout is progressing with ReplicaSet "${rsName}".`,
            ),
          ),
        );
        this.schedule('Rollout', ns, name);
        return;
      }
      this.clearStuck(state);
      state.rolledTemplate = cloneJson(template);
      record.outcome = 'complete';
      delete record.failureReason;
      this.writeStatus('Rollout', obj, healthy());
      return;
    }
    this.clearStuck(state);
    const restartPending = restartAt !== undefined && (restartedAt === undefined || Date.parse(restartedAt) !== Date.parse(restartAt));
    if (restartAt !== undefined && restartPending) {
      const restarting = (available: number, stuck: boolean) => {
        state.restart = { restartAt, stuck };
        return status(
          { updatedReplicas: d, readyReplicas: available, availableReplicas: available, stableRS: hash },
          'Progressing',
          'rollout is restarting',
          this.condition(
            prev.conditions,
            'Progressing',
            'True',
            'RolloutRestart',
            `Rollout is restarting the pods created before ${restartAt}`,
          ),
        );
      };
      const wait = Date.parse(restartAt) - this.now().getTime();
      if (wait > 0) {
        // Not yet due: the controller restarts once the current time is past restartAt.
        this.writeStatus('Rollout', obj, restarting(d, false));
        this.schedule('Rollout', ns, name, wait);
        return;
      }
      const reason = this.failureReason('Rollout', obj, template);
      if (reason) {
        // The first recreated pod never becomes ready: the controller waits for the ReplicaSet to be available.
        this.writeStatus('Rollout', obj, restarting(Math.max(0, d - 1), true));
        return;
      }
      if (state.restart?.restartAt !== restartAt || state.restart.stuck) {
        this.writeStatus('Rollout', obj, restarting(Math.max(0, d - 1), false));
        this.schedule('Rollout', ns, name);
        return;
      }
      restartedAt = restartAt;
      state.restart = undefined;
      this.restarts.push({ namespace: ns, name, restartAt, time: this.now() });
    }
    this.writeStatus('Rollout', obj, healthy());
  }

  /** A Rollout whose new pods never become ready: the stable ReplicaSet keeps serving, Degraded after the deadline. */
  private rolloutStuckStatus(
    obj: StoredKubeObject,
    state: WorkloadState,
    status: (fields: JsonObject, phase: string, message: string, progressing: JsonObject) => JsonObject,
  ): JsonObject {
    const d = this.desired('Rollout', obj);
    const prev = isObject(obj.status) ? obj.status.conditions : undefined;
    const stableHash = state.rolledTemplate === undefined ? undefined : templateHash(state.rolledTemplate);
    const rsName = `${obj.metadata.name}-${templateHash(state.stuckTemplate)}`;
    const old = stableHash === undefined ? 0 : d;
    const fields: JsonObject = {
      replicas: old + 1,
      updatedReplicas: 1,
      readyReplicas: old,
      availableReplicas: old,
      ...(stableHash === undefined ? {} : { stableRS: stableHash }),
    };
    if (state.deadlineExceeded) {
      const message = `ReplicaSet "${rsName}" has timed out progressing.`;
      return status(
        fields,
        'Degraded',
        `ProgressDeadlineExceeded: ${message}`,
        this.condition(prev, 'Progressing', 'False', 'ProgressDeadlineExceeded', message),
      );
    }
    return status(
      fields,
      'Progressing',
      'more replicas need to be updated',
      this.condition(prev, 'Progressing', 'True', 'ReplicaSetUpdated', `Rollout is progressing with ReplicaSet "${rsName}".`),
    );
  }

  /** The pods the StatefulSet controls, by ordinal. */
  private podsOf(obj: StoredKubeObject): Map<number, StoredKubeObject> {
    const out = new Map<number, StoredKubeObject>();
    for (const view of this.registry.list(podRt(), { namespace: obj.metadata.namespace }).items) {
      const pod = view.obj;
      if (!(pod.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === obj.metadata.uid)) continue;
      const m = new RegExp(`^${obj.metadata.name}-(\\d+)$`).exec(pod.metadata.name);
      if (m) out.set(Number(m[1]), pod);
    }
    return out;
  }

  /** ms until the ready pod has been ready for minReadySeconds (0: available now). */
  private availableIn(pod: KubeObject, minReadyMs: number): number {
    if (minReadyMs === 0) return 0;
    const since = Date.parse(String(podCondition(pod, 'Ready')?.lastTransitionTime ?? ''));
    return Number.isNaN(since) ? 0 : Math.max(0, since + minReadyMs - this.now().getTime());
  }

  /** A pod as newVersionedStatefulSetPod builds it: name-<ordinal>, the revision's template, labels, owner. */
  private createPod(obj: StoredKubeObject, ordinal: number, revision: string, template: unknown): void {
    const tpl = isObject(template) ? template : {};
    const meta = isObject(tpl.metadata) ? tpl.metadata : {};
    const spec = isObject(obj.spec) ? obj.spec : {};
    const podName = `${obj.metadata.name}-${ordinal}`;
    const body: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: podName,
        namespace: obj.metadata.namespace,
        labels: {
          ...(isObject(meta.labels) ? (meta.labels as Record<string, string>) : {}),
          [REVISION_LABEL]: revision,
          [POD_NAME_LABEL]: podName,
          [POD_INDEX_LABEL]: String(ordinal),
        },
        ...(isObject(meta.annotations) ? { annotations: cloneJson(meta.annotations) as Record<string, string> } : {}),
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'StatefulSet',
            name: obj.metadata.name,
            uid: obj.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        ...(isObject(tpl.spec) ? cloneJson(tpl.spec) : {}),
        hostname: podName,
        ...(typeof spec.serviceName === 'string' && spec.serviceName !== '' ? { subdomain: spec.serviceName } : {}),
      },
    };
    try {
      const created = this.registry.create(podRt(), obj.metadata.namespace, body).obj;
      this.podActions.push({ action: 'create', namespace: obj.metadata.namespace ?? '', pod: podName, revision });
      this.startPod(created);
      this.setPodStatus(created, false, 'ContainersNotReady: containers with unready status');
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
    }
  }

  /** kubelet's status: Running (Pending on a CreateContainerConfigError), Ready or not with why. */
  private setPodStatus(pod: StoredKubeObject, ready: boolean, reason?: string): void {
    const previous = podCondition(pod, 'Ready');
    const status = ready ? 'True' : 'False';
    const now = rfc3339(this.now());
    const phase = !ready && reason?.startsWith('CreateContainerConfigError') ? 'Pending' : 'Running';
    const condition: JsonObject = {
      type: 'Ready',
      status,
      lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now,
      ...(ready ? {} : { reason: 'ContainersNotReady', message: reason ?? 'containers with unready status' }),
    };
    const prevStatus = isObject(pod.status) ? pod.status : {};
    if (prevStatus.phase === phase && deepEqual(previous, condition)) return;
    if (ready)
      this.podActions.push({
        action: 'ready',
        namespace: pod.metadata.namespace ?? '',
        pod: pod.metadata.name,
        revision: pod.metadata.labels?.[REVISION_LABEL] ?? '',
      });
    try {
      this.registry.update(
        podRt(),
        pod.metadata.namespace,
        pod.metadata.name,
        { ...cloneJson(pod), status: { phase, conditions: [condition], startTime: prevStatus.startTime ?? now } },
        { subresource: 'status' },
      );
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
    }
  }

  private deletePod(pod: StoredKubeObject): void {
    this.podActions.push({
      action: 'delete',
      namespace: pod.metadata.namespace ?? '',
      pod: pod.metadata.name,
      revision: pod.metadata.labels?.[REVISION_LABEL] ?? '',
    });
    try {
      this.registry.delete(podRt(), pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
    }
  }

  /**
   * Deployments and DaemonSets show what a real rollout goes through before its final status,
   * one step per `rolloutDelayMs`: first every replica updated but not all ready, with an old pod
   * still terminating (Deployments: status.replicas > updatedReplicas); then, with
   * `spec.minReadySeconds`, all ready but not all available until minReadySeconds passed
   * (the Deployment and DaemonSet controllers count a pod available only then). True while the
   * rollout is still in one of those states (the status was written and the next step scheduled).
   */
  private inProgress(kind: WorkloadKind, obj: StoredKubeObject, state: WorkloadState, template: unknown): boolean {
    const hash = templateHash(template);
    const spec = isObject(obj.spec) ? obj.spec : {};
    const minReadyMs = (typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0) * 1000;
    const ns = obj.metadata.namespace ?? '';
    const d = this.desired(kind, obj);
    const hadOld = state.rolledTemplate !== undefined;
    const generation = obj.metadata.generation;
    if (state.progress?.hash !== hash) {
      state.progress = { hash, phase: 'updated' };
      const terminating = hadOld ? 1 : 0;
      const ready = Math.max(0, d - 1);
      this.writeStatus(
        kind,
        obj,
        kind === 'Deployment'
          ? {
              ...withoutZeros({
                observedGeneration: generation,
                replicas: d + terminating,
                updatedReplicas: d,
                readyReplicas: ready + terminating,
                availableReplicas: ready + terminating,
                unavailableReplicas: d - ready,
              }),
              conditions: [
                this.condition(
                  isObject(obj.status) ? obj.status.conditions : undefined,
                  'Progressing',
                  'True',
                  'ReplicaSetUpdated',
                  `ReplicaSet "${this.rsName(obj)}" is progressing.`,
                ),
              ],
            }
          : {
              ...withoutZeros({
                observedGeneration: generation,
                desiredNumberScheduled: d,
                currentNumberScheduled: d,
                updatedNumberScheduled: d,
                numberReady: ready,
                numberAvailable: ready,
                numberUnavailable: d - ready,
              }),
              numberMisscheduled: 0,
            },
      );
      this.schedule(kind, ns, obj.metadata.name);
      return true;
    }
    if (minReadyMs === 0) return false;
    if (state.progress.phase === 'updated') {
      state.progress = { hash, phase: 'ready', readySince: this.now().getTime() };
      const complete = this.completeStatus(kind, obj, state);
      const available = Math.max(0, d - 1);
      this.writeStatus(kind, obj, {
        ...complete,
        ...(kind === 'Deployment' ? { availableReplicas: available } : { numberAvailable: available, numberUnavailable: d - available }),
      });
      this.schedule(kind, ns, obj.metadata.name, minReadyMs);
      return true;
    }
    const left = (state.progress.readySince ?? 0) + minReadyMs - this.now().getTime();
    if (left <= 0) return false;
    this.schedule(kind, ns, obj.metadata.name, left);
    return true;
  }

  /** The record of this template's rollout, created on first sight. */
  private recordFor(kind: WorkloadKind, obj: StoredKubeObject, state: WorkloadState, template: unknown): RolloutRecord {
    if (state.stuckRecord && deepEqual(state.stuckTemplate, template)) return state.stuckRecord;
    state.revision++;
    const templateMeta = isObject(template) && isObject(template.metadata) ? template.metadata : {};
    const record: RolloutRecord = {
      kind,
      namespace: obj.metadata.namespace ?? '',
      name: obj.metadata.name,
      generation: obj.metadata.generation ?? 0,
      revision: state.revision,
      templateAnnotations: { ...(isObject(templateMeta.annotations) ? (templateMeta.annotations as Record<string, string>) : {}) },
      time: this.now(),
      outcome: 'stuck',
    };
    this.rollouts.push(record);
    return record;
  }

  private clearStuck(state: WorkloadState): void {
    if (state.deadlineTimer) clearTimeout(state.deadlineTimer);
    state.deadlineTimer = undefined;
    state.stuckTemplate = undefined;
    state.stuckRecord = undefined;
    state.deadlineExceeded = false;
  }

  private armDeadline(kind: WorkloadKind, obj: StoredKubeObject, state: WorkloadState): void {
    if (kind !== 'Deployment' && kind !== 'Rollout') return;
    const spec = isObject(obj.spec) ? obj.spec : {};
    const seconds = typeof spec.progressDeadlineSeconds === 'number' ? spec.progressDeadlineSeconds : 600;
    const ms = this.progressDeadlineMs ?? seconds * 1000;
    state.deadlineTimer = setTimeout(() => {
      state.deadlineExceeded = true;
      state.deadlineTimer = undefined;
      try {
        const current = this.registry.get(rtOf(kind), obj.metadata.namespace, obj.metadata.name).obj;
        if (current.metadata.uid !== obj.metadata.uid || state.stuckTemplate === undefined) return;
        if (kind === 'Rollout') this.reconcile(kind, current.metadata.namespace ?? '', current.metadata.name);
        else this.writeStatus(kind, current, this.stuckStatus(kind, current, state));
      } catch {
        // deleted meanwhile
      }
    }, ms);
    state.deadlineTimer.unref();
  }

  private desired(kind: WorkloadKind, obj: StoredKubeObject): number {
    if (kind === 'DaemonSet') return this.nodeCount;
    const spec = isObject(obj.spec) ? obj.spec : {};
    return typeof spec.replicas === 'number' ? spec.replicas : 1;
  }

  private condition(previous: unknown, type: string, status: string, reason: string, message: string): JsonObject {
    const now = rfc3339(this.now());
    const old = Array.isArray(previous) ? previous.filter(isObject).find((c) => c.type === type) : undefined;
    const transition = old && old.status === status ? old.lastTransitionTime : now;
    return { type, status, lastUpdateTime: now, lastTransitionTime: transition, reason, message };
  }

  private rsName(obj: StoredKubeObject): string {
    return `${obj.metadata.name}-${templateHash((obj.spec as JsonObject | undefined)?.template)}`;
  }

  private completeStatus(kind: WorkloadKind, obj: StoredKubeObject, state: WorkloadState): JsonObject {
    const d = this.desired(kind, obj);
    const generation = obj.metadata.generation;
    const prev = isObject(obj.status) ? obj.status.conditions : undefined;
    if (kind === 'Deployment') {
      return {
        ...withoutZeros({ observedGeneration: generation, replicas: d, updatedReplicas: d, readyReplicas: d, availableReplicas: d }),
        conditions: [
          this.condition(prev, 'Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'),
          this.condition(
            prev,
            'Progressing',
            'True',
            'NewReplicaSetAvailable',
            `ReplicaSet "${this.rsName(obj)}" has successfully progressed.`,
          ),
        ],
      };
    }
    if (kind === 'StatefulSet') {
      const revision = `${obj.metadata.name}-${templateHash(state.rolledTemplate)}`;
      return {
        ...withoutZeros({
          observedGeneration: generation,
          replicas: d,
          readyReplicas: d,
          currentReplicas: d,
          updatedReplicas: d,
          availableReplicas: d,
        }),
        currentRevision: revision,
        updateRevision: revision,
        collisionCount: 0,
      };
    }
    return {
      ...withoutZeros({
        observedGeneration: generation,
        desiredNumberScheduled: d,
        currentNumberScheduled: d,
        updatedNumberScheduled: d,
        numberReady: d,
        numberAvailable: d,
      }),
      numberMisscheduled: 0,
    };
  }

  private stuckStatus(kind: WorkloadKind, obj: StoredKubeObject, state: WorkloadState): JsonObject {
    const d = this.desired(kind, obj);
    const hadOld = state.rolledTemplate !== undefined;
    const spec = isObject(obj.spec) ? obj.spec : {};
    const generation = obj.metadata.generation;
    const prev = isObject(obj.status) ? obj.status.conditions : undefined;
    if (kind === 'Deployment') {
      const strategy = isObject(spec.strategy) ? spec.strategy : {};
      const rolling = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : {};
      const surge = intOrPercent(rolling.maxSurge, d, true, 1);
      let unavailable = intOrPercent(rolling.maxUnavailable, d, false, 0);
      if (surge === 0 && unavailable === 0) unavailable = 1;
      const recreate = strategy.type === 'Recreate';
      const oldPods = hadOld && !recreate ? Math.max(0, d - unavailable) : 0;
      const newPods = hadOld && !recreate ? Math.min(d, surge + unavailable) : d;
      const progressing = state.deadlineExceeded
        ? this.condition(
            prev,
            'Progressing',
            'False',
            'ProgressDeadlineExceeded',
            `ReplicaSet "${this.rsName(obj)}" has timed out progressing.`,
          )
        : this.condition(prev, 'Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${this.rsName(obj)}" is progressing.`);
      const available = oldPods >= d - unavailable && oldPods > 0;
      return {
        ...withoutZeros({
          observedGeneration: generation,
          replicas: oldPods + newPods,
          updatedReplicas: newPods,
          readyReplicas: oldPods,
          availableReplicas: oldPods,
          unavailableReplicas: oldPods + newPods - oldPods,
        }),
        conditions: [
          available
            ? this.condition(prev, 'Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
            : this.condition(prev, 'Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
          progressing,
        ],
      };
    }
    if (kind === 'StatefulSet') {
      const current = `${obj.metadata.name}-${templateHash(state.rolledTemplate ?? state.stuckTemplate)}`;
      const update = `${obj.metadata.name}-${templateHash(state.stuckTemplate)}`;
      if (!hadOld) {
        const pods = spec.podManagementPolicy === 'Parallel' ? d : Math.min(1, d);
        return {
          ...withoutZeros({ observedGeneration: generation, replicas: pods, currentReplicas: pods, updatedReplicas: pods }),
          currentRevision: update,
          updateRevision: update,
          collisionCount: 0,
        };
      }
      const updated = Math.min(1, d);
      return {
        ...withoutZeros({
          observedGeneration: generation,
          replicas: d,
          readyReplicas: d - updated,
          currentReplicas: d - updated,
          updatedReplicas: updated,
          availableReplicas: d - updated,
        }),
        currentRevision: current,
        updateRevision: update,
        collisionCount: 0,
      };
    }
    const strategy = isObject(spec.updateStrategy) ? spec.updateStrategy : {};
    const rolling = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : {};
    const maxUnavailable = Math.max(1, intOrPercent(rolling.maxUnavailable, d, false, 1));
    const updated = hadOld ? Math.min(d, maxUnavailable) : d;
    return {
      ...withoutZeros({
        observedGeneration: generation,
        desiredNumberScheduled: d,
        currentNumberScheduled: d,
        updatedNumberScheduled: updated,
        numberReady: d - updated,
        numberAvailable: d - updated,
        numberUnavailable: updated,
      }),
      numberMisscheduled: 0,
    };
  }

  private pausedStatus(obj: StoredKubeObject): JsonObject {
    const status = isObject(obj.status) ? cloneJson(obj.status) : {};
    const others = (Array.isArray(status.conditions) ? status.conditions.filter(isObject) : []).filter((c) => c.type !== 'Progressing');
    return {
      ...status,
      observedGeneration: obj.metadata.generation,
      conditions: [...others, this.condition(status.conditions, 'Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused')],
    };
  }

  private writeStatus(kind: WorkloadKind, obj: StoredKubeObject, status: JsonObject): void {
    const rt = rtOf(kind);
    const state = this.states.get(obj.metadata.uid);
    const body: KubeObject = { ...cloneJson(obj), status };
    if (kind === 'Deployment' && state && state.revision > 0) {
      body.metadata = {
        ...obj.metadata,
        annotations: { ...(obj.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(state.revision) },
      };
    }
    try {
      this.registry.update(rt, obj.metadata.namespace, obj.metadata.name, body, { subresource: 'status' });
    } catch (err) {
      // A concurrent write won; its event reschedules us.
      if (!(err instanceof KubeApiError)) throw err;
    }
  }
}
