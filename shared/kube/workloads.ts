import {
  type AppsV1Api,
  type BatchV1Api,
  type CoreV1Api,
  type CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
  type V1PodTemplateSpec,
  Watch,
} from '@kubernetes/client-node';
import type { KubeCaller } from './kube-call.js';
import { KubeError } from './kube-error.js';
import { listPages } from './list-pages.js';

/**
 * The workload kinds that carry a pod template, behind one narrow seam (like Reloader's
 * table of callbacks): list, get, JSON-patch, watch, and a kind-independent view with the pod
 * template and rollout status. Deployments, StatefulSets and DaemonSets roll out when their
 * template changes; CronJobs only use the new template for their next Job. Argo Rollouts
 * (`argoproj.io/v1alpha1`, a CRD that may be absent) roll out on a template change too, and
 * restart their pods without a new revision when `spec.restartAt` moves.
 */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Rollout'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Where each kind is served: API group, version and plural. */
export const WORKLOAD_RESOURCES: Record<WorkloadKind, { group: string; version: string; plural: string }> = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments' },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets' },
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs' },
  Rollout: { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' },
};

/** `apps/v1`, `argoproj.io/v1alpha1`: the apiVersion of a kind's objects. */
export const apiVersionOf = (kind: WorkloadKind) => `${WORKLOAD_RESOURCES[kind].group}/${WORKLOAD_RESOURCES[kind].version}`;

/** One RFC 6902 operation. */
export type JsonPatchOp = { op: 'add' | 'replace' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

/** A workload as the rest of the code sees it, whatever its kind. */
export interface Workload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  /** The object's own annotations. */
  annotations: Record<string, string>;
  /** JSON pointer of the pod template: `/spec/template` or `/spec/jobTemplate/spec/template`. */
  templatePath: string;
  template: V1PodTemplateSpec;
  /** A paused Deployment or Rollout (`spec.paused`): rollouts wait until it is resumed. */
  paused: boolean;
  /**
   * Rollouts: `spec.restartAt` (RFC 3339), the restart the controller is asked for; the restart is
   * done once `status.restartedAt` equals it (argo-rollouts docs/features/restart.md).
   */
  restartAt?: string;
  /** Rollouts whose pod template comes from `spec.workloadRef` (not supported: no template here). */
  workloadRef?: string;
  /** `OnDelete` StatefulSets and DaemonSets replace pods only when they are deleted. */
  onDelete: boolean;
  /** Restarting means changing the pod template (false for CronJobs). */
  rollsOut: boolean;
  status: WorkloadStatus;
  /** Desired replicas (Deployment, StatefulSet; default 1). */
  replicas: number;
  /** StatefulSet rolling-update partition. */
  partition: number;
  /** A StatefulSet with the default OrderedReady podManagementPolicy (not Parallel). */
  orderedReady: boolean;
  /** `spec.selector.matchLabels` (Deployment, StatefulSet, DaemonSet). */
  selector: Record<string, string>;
}

/** StatefulSet pods name their revision in this label (the ControllerRevision's name). */
export const REVISION_LABEL = 'controller-revision-hash';

/** A pod as forced rollback reads it (shared/rotate/forced-rollback.ts). */
export interface WorkloadPod {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** uid of the controller in ownerReferences (`controller: true`). */
  controllerUid?: string;
  /** Running with condition Ready=True, as the StatefulSet controller's isRunningAndReady. */
  ready: boolean;
  /** Why not ready: the Ready condition's reason and message, or the phase. */
  notReadyReason?: string;
}

/** The fields of a pod {@link toWorkloadPod} reads. */
export function toWorkloadPod(pod: V1Pod): WorkloadPod {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const isReady = pod.status?.phase === 'Running' && ready?.status === 'True';
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    labels: { ...(pod.metadata?.labels ?? {}) },
    annotations: { ...(pod.metadata?.annotations ?? {}) },
    controllerUid: pod.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid,
    ready: isReady,
    notReadyReason: isReady
      ? undefined
      : [pod.status?.phase, ready?.reason, ready?.message].filter((x) => x !== undefined && x !== '').join(': ') || 'not ready',
  };
}

/** The status fields rollout checks read (a union over the kinds). */
export interface WorkloadStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  desiredNumberScheduled?: number;
  updatedNumberScheduled?: number;
  numberReady?: number;
  numberAvailable?: number;
  /** Rollouts: Healthy, Progressing, Degraded or Paused, with its message (computed by the Argo controller). */
  phase?: string;
  message?: string;
  /** Rollouts: the pod-template hash of the stable ReplicaSet and of the desired one. */
  stableRS?: string;
  currentPodHash?: string;
  /** Rollouts: the `spec.restartAt` the controller finished restarting for. */
  restartedAt?: string;
  conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
}

/** Where a rollout stands, as `kubectl rollout status` would say. */
export type RolloutState =
  | { state: 'done'; message: string }
  | { state: 'progressing'; message: string }
  | { state: 'failed'; message: string };

/** A change seen by {@link WorkloadStore.watch}. */
export interface WorkloadEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  workload: Workload;
}

export interface WorkloadStore {
  /** Every workload of a kind in a namespace (paginated underneath). */
  list(namespace: string, kind: WorkloadKind): Promise<Workload[]>;
  /** The workload, or undefined when it does not exist. */
  get(kind: WorkloadKind, namespace: string, name: string): Promise<Workload | undefined>;
  /**
   * Applies a JSON patch (RFC 6902); use `test` operations as preconditions (a failed test is 422).
   * A patch that fails with a 5xx or a network error is sent again, as the first one may or may
   * not have been applied: send only patches for which that is safe, i.e. ones that set fixed
   * values (applied twice, they change nothing more) or are guarded by `test` operations that
   * fail once they have applied (then re-read on 422, as after any failed precondition).
   */
  patch(kind: WorkloadKind, namespace: string, name: string, ops: readonly JsonPatchOp[]): Promise<Workload>;
  /** The pods of a namespace matching `selector` (equality labels), paginated underneath. */
  listPods(namespace: string, selector: Record<string, string>): Promise<WorkloadPod[]>;
  /**
   * Deletes a pod if it is still the one read (uid precondition). False when it is gone or was
   * replaced meanwhile (404, or 409 on the precondition): either way that pod no longer exists.
   */
  deletePod(pod: Pick<WorkloadPod, 'namespace' | 'name' | 'uid'>): Promise<boolean>;
  /**
   * Watches a kind in a namespace (one object when `name` is given) from `resourceVersion`;
   * `onEvent` gets every change and `onEnd` is called once when the watch ends (error or
   * server close; an HTTP error carries `statusCode`). Returns a stop function. Undefined when
   * this store cannot watch; callers poll with `get` instead. A kind whose watch was refused
   * (403) is not asked again: its watches end at once, so callers fall back to polling.
   */
  watch?(
    kind: WorkloadKind,
    namespace: string,
    name: string | undefined,
    resourceVersion: string,
    onEvent: (e: WorkloadEvent) => void,
    onEnd: (err?: unknown) => void,
  ): Promise<() => void>;
}

/** The fields of any of the four kinds that {@link toWorkload} reads (typed models and raw JSON alike). */
interface AnyWorkloadObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
  spec?: {
    replicas?: number;
    paused?: boolean;
    template?: V1PodTemplateSpec;
    jobTemplate?: { spec?: { template?: V1PodTemplateSpec } };
    restartAt?: string;
    workloadRef?: { kind?: string; name?: string };
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number; maxUnavailable?: unknown } };
    podManagementPolicy?: string;
    selector?: { matchLabels?: Record<string, string> };
  };
  /** Typed as `object` so every kind's status fits; read as {@link WorkloadStatus}. */
  status?: object;
}

/** The kind-independent view of a workload object. */
export function toWorkload(kind: WorkloadKind, obj: AnyWorkloadObject): Workload {
  const spec = obj.spec ?? {};
  const cron = kind === 'CronJob';
  const status = { ...(obj.status ?? {}) } as WorkloadStatus & { observedGeneration?: number | string };
  // Argo Rollouts write status.observedGeneration as a string (pkg/apis/rollouts/v1alpha1/types.go);
  // a non-numeric one (v0.9 and older: a hash of the spec) counts as observed, as GetRolloutPhase says.
  if (typeof status.observedGeneration === 'string') {
    const n = Number(status.observedGeneration);
    status.observedGeneration = /^\d+$/.test(status.observedGeneration) ? n : (obj.metadata?.generation ?? 0);
  }
  return {
    kind,
    namespace: obj.metadata?.namespace ?? '',
    name: obj.metadata?.name ?? '',
    uid: obj.metadata?.uid ?? '',
    resourceVersion: obj.metadata?.resourceVersion ?? '',
    generation: obj.metadata?.generation ?? 0,
    annotations: { ...(obj.metadata?.annotations ?? {}) },
    templatePath: cron ? '/spec/jobTemplate/spec/template' : '/spec/template',
    template: (cron ? spec.jobTemplate?.spec?.template : spec.template) ?? {},
    paused: (kind === 'Deployment' || kind === 'Rollout') && spec.paused === true,
    restartAt: kind === 'Rollout' ? spec.restartAt : undefined,
    workloadRef:
      kind === 'Rollout' && spec.workloadRef !== undefined ? `${spec.workloadRef.kind ?? ''}/${spec.workloadRef.name ?? ''}` : undefined,
    onDelete: (kind === 'StatefulSet' || kind === 'DaemonSet') && spec.updateStrategy?.type === 'OnDelete',
    rollsOut: !cron,
    status: status as WorkloadStatus,
    replicas: spec.replicas ?? 1,
    partition: spec.updateStrategy?.rollingUpdate?.partition ?? 0,
    orderedReady: kind === 'StatefulSet' && spec.podManagementPolicy !== 'Parallel',
    selector: { ...(spec.selector?.matchLabels ?? {}) },
  };
}

/**
 * Whether the workload finished rolling out the template of `generation` (the generation
 * our patch produced): the controller observed it, and every desired replica is updated,
 * ready and available with no old replica left. A Deployment whose Progressing condition
 * says ProgressDeadlineExceeded has failed.
 */
export function rolloutState(w: Workload, generation: number): RolloutState {
  const s = w.status;
  const observed = s.observedGeneration ?? 0;
  if (observed < generation)
    return { state: 'progressing', message: `waiting for the controller to observe generation ${generation} (observed ${observed})` };
  switch (w.kind) {
    case 'Deployment': {
      const progressing = s.conditions?.find((c) => c.type === 'Progressing');
      if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
        return { state: 'failed', message: `progress deadline exceeded: ${progressing.message ?? 'no progress'}` };
      }
      const want = w.replicas;
      const updated = s.updatedReplicas ?? 0;
      if (updated < want) return { state: 'progressing', message: `${updated} of ${want} replicas updated` };
      if ((s.replicas ?? 0) > updated)
        return { state: 'progressing', message: `${(s.replicas ?? 0) - updated} old replicas pending termination` };
      if ((s.readyReplicas ?? 0) < want) return { state: 'progressing', message: `${s.readyReplicas ?? 0} of ${want} replicas ready` };
      if ((s.availableReplicas ?? 0) < want)
        return { state: 'progressing', message: `${s.availableReplicas ?? 0} of ${want} replicas available` };
      return { state: 'done', message: `${want} of ${want} replicas updated and available` };
    }
    case 'StatefulSet': {
      const want = w.replicas;
      const mustUpdate = Math.max(0, want - w.partition);
      if ((s.updatedReplicas ?? 0) < mustUpdate)
        return { state: 'progressing', message: `${s.updatedReplicas ?? 0} of ${mustUpdate} replicas updated` };
      if ((s.readyReplicas ?? 0) < want) return { state: 'progressing', message: `${s.readyReplicas ?? 0} of ${want} replicas ready` };
      if (s.availableReplicas !== undefined && s.availableReplicas < want)
        return { state: 'progressing', message: `${s.availableReplicas} of ${want} replicas available` };
      if (w.partition === 0 && s.updateRevision !== undefined && s.currentRevision !== s.updateRevision) {
        return {
          state: 'progressing',
          message: `waiting for revision ${s.updateRevision} to replace ${s.currentRevision ?? 'the old one'}`,
        };
      }
      return { state: 'done', message: `${want} of ${want} replicas updated and ready` };
    }
    case 'DaemonSet': {
      const want = s.desiredNumberScheduled ?? 0;
      if ((s.updatedNumberScheduled ?? 0) < want)
        return { state: 'progressing', message: `${s.updatedNumberScheduled ?? 0} of ${want} pods updated` };
      if ((s.numberReady ?? 0) < want) return { state: 'progressing', message: `${s.numberReady ?? 0} of ${want} pods ready` };
      if ((s.numberAvailable ?? 0) < want) return { state: 'progressing', message: `${s.numberAvailable ?? 0} of ${want} pods available` };
      return { state: 'done', message: `${want} of ${want} pods updated and available` };
    }
    case 'CronJob':
      return { state: 'done', message: 'CronJobs use the new template for their next Job' };
    case 'Rollout':
      return argoRolloutState(w);
  }
}

/**
 * A Rollout whose controller observed its generation, judged as argo-rollouts' own
 * `GetRolloutPhase` / `CalculateRolloutPhase` (utils/rollout/rolloututil.go) do: Degraded
 * (aborted, progress deadline exceeded, invalid spec) has failed; Paused (a canary pause step,
 * `spec.paused`) and a restart not yet done (`status.restartedAt` != `spec.restartAt`) are in
 * progress; otherwise every replica must be updated and available and the stable ReplicaSet
 * must be the desired one (`stableRS == currentPodHash`: every canary step done, blue-green
 * promoted), and the controller must say Healthy.
 */
function argoRolloutState(w: Workload): RolloutState {
  const s = w.status;
  const said = s.message ? `: ${s.message}` : '';
  if (s.phase === 'Degraded') return { state: 'failed', message: `Rollout Degraded${said}` };
  if (s.phase === 'Paused') return { state: 'progressing', message: `Rollout paused${said}` };
  if (w.restartAt !== undefined && (s.restartedAt === undefined || Date.parse(s.restartedAt) !== Date.parse(w.restartAt)))
    return { state: 'progressing', message: `restarting the pods created before ${w.restartAt}` };
  const want = w.replicas;
  if ((s.updatedReplicas ?? 0) < want) return { state: 'progressing', message: `${s.updatedReplicas ?? 0} of ${want} replicas updated` };
  if ((s.availableReplicas ?? 0) < want)
    return { state: 'progressing', message: `${s.availableReplicas ?? 0} of ${want} replicas available` };
  if (s.stableRS === undefined || s.stableRS !== s.currentPodHash)
    return { state: 'progressing', message: 'waiting for every step to complete (stable ReplicaSet not yet the desired one)' };
  if (s.phase !== undefined && s.phase !== 'Healthy') return { state: 'progressing', message: `Rollout ${s.phase}${said}` };
  return { state: 'done', message: `${want} of ${want} replicas updated and available, Rollout Healthy` };
}

/** What {@link KubeWorkloadStore} needs besides the typed clients. */
export interface KubeWorkloadStoreOptions {
  /** Reads and patches Argo Rollouts (a CRD); without it Rollouts are never listed. */
  custom?: CustomObjectsApi;
  /**
   * Told once when Rollouts cannot be listed because RBAC refuses it: the run goes on without
   * them. Not told when the cluster does not serve them (no CRD: discovery answers 404).
   */
  onNote?: (message: string) => void;
}

/** {@link WorkloadStore} on the Kubernetes API; watches need the KubeConfig. */
export class KubeWorkloadStore implements WorkloadStore {
  /** Kinds whose watch was refused (403) or is not served (404/405): not asked again. */
  private readonly unwatchable = new Set<WorkloadKind>();
  private readonly custom?: CustomObjectsApi;
  private readonly onNote?: (message: string) => void;

  constructor(
    private readonly apps: AppsV1Api,
    private readonly batch: BatchV1Api,
    private readonly core: CoreV1Api,
    private readonly caller: KubeCaller,
    private readonly kubeConfig?: KubeConfig,
    options: KubeWorkloadStoreOptions = {},
  ) {
    this.custom = options.custom;
    this.onNote = options.onNote;
    if (kubeConfig === undefined) this.watch = undefined;
  }

  /** The custom-object arguments of a Rollout call. */
  private rolloutArgs(namespace: string) {
    const r = WORKLOAD_RESOURCES.Rollout;
    return { group: r.group, version: r.version, plural: r.plural, namespace };
  }

  async list(namespace: string, kind: WorkloadKind): Promise<Workload[]> {
    if (kind === 'Rollout' && !(await this.rolloutsServed())) return [];
    try {
      return await this.listAll(namespace, kind);
    } catch (e) {
      // A job without the opt-in argo-rollouts component is refused (403): that does not fail the run.
      if (kind !== 'Rollout' || !(e instanceof KubeError) || !(e.notFound || e.forbidden)) throw e;
      this.rolloutsCheck = Promise.resolve(false);
      if (e.forbidden)
        this.onNote?.(
          'Argo Rollouts not checked as consumers: listing rollouts.argoproj.io is forbidden (add the argo-rollouts component to use them)',
        );
      return [];
    }
  }

  /** Once per store: is the Rollout CRD installed? Asked by discovery, which every authenticated identity may read. */
  private rolloutsCheck?: Promise<boolean>;

  /**
   * Whether the cluster serves Rollouts: `GET /apis/argoproj.io/v1alpha1` names `rollouts`. A
   * cluster without the CRD answers 404 there, and is then never asked about Rollouts again, without
   * a word (the list itself would be refused by RBAC first, 403, on a cluster without the component).
   */
  private rolloutsServed(): Promise<boolean> {
    if (this.custom === undefined) return Promise.resolve(false);
    const custom = this.custom;
    this.rolloutsCheck ??= (async () => {
      const r = WORKLOAD_RESOURCES.Rollout;
      try {
        const list = await this.caller.call({ verb: 'get', kind: 'APIResourceList', name: `${r.group}/${r.version}` }, () =>
          custom.getAPIResources({ group: r.group, version: r.version }),
        );
        return list.resources.some((x) => x.name === r.plural);
      } catch (e) {
        if (e instanceof KubeError && e.notFound) return false;
        this.rolloutsCheck = undefined;
        throw e;
      }
    })();
    return this.rolloutsCheck;
  }

  private async listAll(namespace: string, kind: WorkloadKind): Promise<Workload[]> {
    const out: Workload[] = [];
    const fetchPage = (req: {
      limit: number;
      _continue?: string;
    }): Promise<{ items: AnyWorkloadObject[]; metadata?: { _continue?: string; resourceVersion?: string } }> => {
      const args = { namespace, limit: req.limit, _continue: req._continue };
      switch (kind) {
        case 'Deployment':
          return this.apps.listNamespacedDeployment(args);
        case 'StatefulSet':
          return this.apps.listNamespacedStatefulSet(args);
        case 'DaemonSet':
          return this.apps.listNamespacedDaemonSet(args);
        case 'CronJob':
          return this.batch.listNamespacedCronJob(args);
        case 'Rollout':
          return this.custom!.listNamespacedCustomObject({ ...this.rolloutArgs(namespace), limit: req.limit, _continue: req._continue });
      }
    };
    for await (const page of listPages(this.caller, { verb: 'list', kind, namespace }, fetchPage)) {
      if (page.restarted) out.length = 0;
      for (const item of page.items) out.push(toWorkload(kind, item));
    }
    return out;
  }

  async get(kind: WorkloadKind, namespace: string, name: string): Promise<Workload | undefined> {
    try {
      const obj = await this.caller.call({ verb: 'get', kind, namespace, name }, (): Promise<AnyWorkloadObject> => {
        switch (kind) {
          case 'Deployment':
            return this.apps.readNamespacedDeployment({ namespace, name });
          case 'StatefulSet':
            return this.apps.readNamespacedStatefulSet({ namespace, name });
          case 'DaemonSet':
            return this.apps.readNamespacedDaemonSet({ namespace, name });
          case 'CronJob':
            return this.batch.readNamespacedCronJob({ namespace, name });
          case 'Rollout':
            return this.customApi().getNamespacedCustomObject({ ...this.rolloutArgs(namespace), name });
        }
      });
      return toWorkload(kind, obj);
    } catch (e) {
      if (e instanceof KubeError && e.notFound) return undefined;
      throw e;
    }
  }

  private customApi(): CustomObjectsApi {
    if (this.custom === undefined) throw new Error('Rollouts need the custom-objects client (KubeWorkloadStoreOptions.custom)');
    return this.custom;
  }

  async patch(kind: WorkloadKind, namespace: string, name: string, ops: readonly JsonPatchOp[]): Promise<Workload> {
    const body = [...ops];
    // The default content type of client-node patches is application/json-patch+json.
    // Retried on 5xx and network errors: see the contract of WorkloadStore.patch.
    const obj = await this.caller.call(
      { verb: 'patch', kind, namespace, name },
      (): Promise<AnyWorkloadObject> => {
        switch (kind) {
          case 'Deployment':
            return this.apps.patchNamespacedDeployment({ namespace, name, body });
          case 'StatefulSet':
            return this.apps.patchNamespacedStatefulSet({ namespace, name, body });
          case 'DaemonSet':
            return this.apps.patchNamespacedDaemonSet({ namespace, name, body });
          case 'CronJob':
            return this.batch.patchNamespacedCronJob({ namespace, name, body });
          case 'Rollout':
            return this.customApi().patchNamespacedCustomObject({ ...this.rolloutArgs(namespace), name, body });
        }
      },
      { idempotent: true },
    );
    return toWorkload(kind, obj);
  }

  async listPods(namespace: string, selector: Record<string, string>): Promise<WorkloadPod[]> {
    const labelSelector = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const out: WorkloadPod[] = [];
    const fetchPage = (req: { limit: number; _continue?: string }) =>
      this.core.listNamespacedPod({ namespace, labelSelector, limit: req.limit, _continue: req._continue });
    for await (const page of listPages(this.caller, { verb: 'list', kind: 'Pod', namespace }, fetchPage)) {
      if (page.restarted) out.length = 0;
      for (const item of page.items) out.push(toWorkloadPod(item));
    }
    return out;
  }

  async deletePod(pod: Pick<WorkloadPod, 'namespace' | 'name' | 'uid'>): Promise<boolean> {
    try {
      await this.caller.call(
        { verb: 'delete', kind: 'Pod', namespace: pod.namespace, name: pod.name },
        () => this.core.deleteNamespacedPod({ namespace: pod.namespace, name: pod.name, body: { preconditions: { uid: pod.uid } } }),
        { idempotent: true },
      );
      return true;
    } catch (e) {
      if (e instanceof KubeError && (e.notFound || e.conflict)) return false;
      throw e;
    }
  }

  watch?: WorkloadStore['watch'] = async (kind, namespace, name, resourceVersion, onEvent, onEnd) => {
    if (this.unwatchable.has(kind)) {
      onEnd(Object.assign(new Error(`watching ${kind}s is not permitted or not served`), { statusCode: 403 }));
      return () => {};
    }
    const r = WORKLOAD_RESOURCES[kind];
    const path = `/apis/${r.group}/${r.version}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`;
    let ended = false;
    const end = (err?: unknown) => {
      if (ended) return;
      ended = true;
      onEnd(err ?? undefined);
    };
    const controller = await new Watch(this.kubeConfig!).watch(
      path,
      { resourceVersion, allowWatchBookmarks: true, fieldSelector: name === undefined ? undefined : `metadata.name=${name}` },
      (phase: string, obj: AnyWorkloadObject & { code?: number }) => {
        if (phase === 'ERROR') {
          end(new Error(`watch ${kind}s in namespace ${namespace} ended: ${obj.code ?? 'error'}`));
          return;
        }
        if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') onEvent({ type: phase, workload: toWorkload(kind, obj) });
      },
      (err: unknown) => {
        const status = (err as { statusCode?: unknown } | null)?.statusCode;
        if (status === 403 || status === 404 || status === 405) this.unwatchable.add(kind);
        end(err);
      },
    );
    return () => {
      ended = true;
      controller.abort();
    };
  };
}
