/**
 * A stand-in for the Job controller plus kubelet, for Jobs whose container is secret-steward
 * itself. Off until `enable({ repoRoot })` (`emulator.jobs`), so that tests which only store
 * Jobs see no pods appear.
 *
 * For each new Job it runs pods one after another until `completions` succeeded or the Job
 * failed. A pod is created as the Job controller creates it (`<job>-<5 chars>`, the template's
 * labels plus job-name/controller-uid, `batch.kubernetes.io/job-completion-index` when Indexed,
 * a controller ownerReference to the Job), then "runs": its one container's `args` are given to
 * `node --import tsx jobs/cli.ts` of the repository, as a local child process, with:
 *  - the environment of the pod spec (`env` with value, fieldRef, configMapKeyRef, secretKeyRef;
 *    `envFrom` ConfigMaps and Secrets), plus PATH and HOME of this process;
 *  - each volume under a temporary directory (Secret volumes with their items and modes,
 *    projected service-account token, emptyDir), and every environment value that is a path
 *    under a mountPath rewritten to the same path under that directory;
 *  - KUBECONFIG pointing at this emulator with a token of the pod's ServiceAccount, when the pod
 *    mounts a projected service-account token: the process is authorized by RBAC as that
 *    ServiceAccount, like an in-cluster pod.
 * Its stdout and stderr become the container's log (`pods/log`), its exit code the container's
 * `state.terminated.exitCode`. The Job's status then follows the real controller: `succeeded` /
 * `failed` counts, `podFailurePolicy` exit-code rules (FailJob, Ignore, Count), `backoffLimit`,
 * and the terminal conditions (SuccessCriteriaMet then Complete, FailureTarget then Failed, with
 * the real reasons). Deleting the Job kills its running process and deletes its pods.
 *
 * Indexed Jobs (`completionMode: Indexed`) run up to `parallelism` pods at once, each with its
 * completion index, and keep `completedIndexes`, `failedIndexes` and `backoffLimitPerIndex` as
 * the real controller does (runIndexedJob). Other Jobs run one pod at a time.
 *
 * Not done (test/emulator/README.md): parallelism of NonIndexed Jobs, maxFailedIndexes, the exponential
 * back-off between retries (a failed pod is replaced at once), activeDeadlineSeconds, suspend,
 * ttlSecondsAfterFinished, onPodConditions rules, containers other than the first, `command`,
 * images (every image is this repository), resource limits, securityContext.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigYaml } from './kubeconfig.js';
import { PodLogs } from './pod-logs.js';
import type { Registry } from './registry.js';
import { rfc3339 } from './registry.js';
import { findByPlural, type ResourceType } from './resources.js';
import type { StoreEvent } from './store.js';
import type { JsonObject, StoredKubeObject } from './types.js';
import { cloneJson, isObject } from './types.js';

export interface JobControllerOptions {
  /** The repository whose `jobs/cli.ts` every container runs. */
  repoRoot: string;
}

/** What the controller needs of the emulator: its address and ServiceAccount tokens. */
export interface JobControllerHost {
  readonly url: string;
  serviceAccountToken(namespace: string, name: string): string;
}

const JOBS = (): ResourceType => findByPlural('batch', 'v1', 'jobs') as ResourceType;
const PODS = (): ResourceType => findByPlural('', 'v1', 'pods') as ResourceType;
const CONFIGMAPS = (): ResourceType => findByPlural('', 'v1', 'configmaps') as ResourceType;
const SECRETS = (): ResourceType => findByPlural('', 'v1', 'secrets') as ResourceType;

/** The characters of generateName suffixes (k8s.io/apimachinery/pkg/util/rand). */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

type Env = Record<string, string>;

export class JobController {
  /** Container logs of the pods this controller ran (served as pods/log). */
  readonly logs = new PodLogs();
  private options?: JobControllerOptions;
  /** Running containers by Job uid (an Indexed Job runs up to `parallelism` at once). */
  private readonly running = new Map<string, Set<ChildProcess>>();
  private readonly pending = new Set<Promise<void>>();
  private readonly unsubscribers: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly registry: Registry,
    private readonly host: JobControllerHost,
    private readonly now: () => Date,
  ) {
    this.unsubscribers.push(registry.store.subscribe(JOBS().key, (ev) => this.onJobEvent(ev)));
  }

  /** Runs the pods of Jobs created from now on. */
  enable(options: JobControllerOptions): void {
    this.options = options;
  }

  /** Resolves when no Job is being run. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Kills running containers and stops watching. */
  stop(): void {
    this.stopped = true;
    for (const u of this.unsubscribers) u();
    this.unsubscribers.length = 0;
    for (const children of this.running.values()) for (const child of children) child.kill('SIGKILL');
  }

  private onJobEvent(ev: StoreEvent): void {
    const { namespace, name } = ev.entry;
    const uid = ev.entry.obj.metadata.uid;
    if (ev.type === 'DELETED') {
      for (const child of this.running.get(uid) ?? []) child.kill('SIGTERM');
      // With the garbage collector its pods go as the deletion's propagation policy says
      // (batch/v1 Jobs orphan by default, kubectl asks for Background); without it, here.
      if (!this.registry.garbageCollection) this.deletePods(namespace, uid);
      return;
    }
    if (ev.type !== 'ADDED' || this.options === undefined || this.stopped) return;
    const options = this.options;
    const run = this.runJob(namespace, name, uid, options).catch(() => {});
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
  }

  private job(namespace: string, name: string, uid: string): StoredKubeObject | undefined {
    try {
      const job = this.registry.get(JOBS(), namespace, name).obj;
      return job.metadata.uid === uid ? job : undefined;
    } catch {
      return undefined;
    }
  }

  private writeJobStatus(namespace: string, name: string, uid: string, change: (status: JsonObject) => void): void {
    const job = this.job(namespace, name, uid);
    if (!job) return;
    const copy = cloneJson(job);
    const status: JsonObject = isObject(copy.status) ? copy.status : {};
    change(status);
    copy.status = status;
    this.registry.update(JOBS(), namespace, name, copy, { subresource: 'status' });
  }

  private async runJob(namespace: string, name: string, uid: string, options: JobControllerOptions): Promise<void> {
    const first = this.job(namespace, name, uid);
    if (!first) return;
    const spec = first.spec as JsonObject;
    const completions = typeof spec.completions === 'number' ? spec.completions : 1;
    const backoffLimit = typeof spec.backoffLimit === 'number' ? spec.backoffLimit : 6;
    if (spec.completionMode === 'Indexed') return this.runIndexedJob(namespace, name, uid, options);
    this.writeJobStatus(namespace, name, uid, (s) => {
      s.startTime = rfc3339(this.now());
    });
    let succeeded = 0;
    let failed = 0;
    while (succeeded < completions && !this.stopped) {
      const job = this.job(namespace, name, uid);
      if (!job) return;
      this.writeJobStatus(namespace, name, uid, (s) => {
        s.active = 1;
      });
      const pod = this.createPod(job, undefined);
      const exit = await this.runPod(pod, options, uid);
      if (exit === undefined) return; // stopped, deleted, or stuck Pending (like a real kubelet that cannot mount)
      if (exit.code === 0) {
        succeeded++;
        this.writeJobStatus(namespace, name, uid, (s) => {
          s.active = 0;
          s.succeeded = succeeded;
        });
        continue;
      }
      const rule = matchPodFailurePolicy(spec, exit.container, exit.code);
      if (rule?.action !== 'Ignore') failed++;
      this.writeJobStatus(namespace, name, uid, (s) => {
        s.active = 0;
        s.failed = failed;
      });
      if (rule?.action === 'FailJob') {
        const message = `Container ${exit.container} for pod ${namespace}/${pod.metadata.name} failed with exit code ${exit.code} matching FailJob rule at index ${rule.index}`;
        return this.finish(namespace, name, uid, 'Failed', 'PodFailurePolicy', message);
      }
      if (failed > backoffLimit) {
        return this.finish(namespace, name, uid, 'Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      }
    }
    if (succeeded >= completions)
      this.finish(namespace, name, uid, 'Complete', 'CompletionsReached', 'Reached expected number of succeeded pods');
  }

  /**
   * An Indexed Job (pkg/controller/job/indexed_job_utils.go, job_controller.go): indexes
   * 0..completions-1, the lowest pending ones first, up to `parallelism` pods at once. Each pod
   * carries its index (annotation and label batch.kubernetes.io/job-completion-index, env
   * JOB_COMPLETION_INDEX, name `<job>-<index>-<5 chars>`). With `backoffLimitPerIndex` a failed
   * pod counts against its own index only: the index is retried until it failed more than that
   * many times (or at once on a FailIndex rule), then listed in `failedIndexes` while the other
   * indexes go on; once every index succeeded or failed, the Job fails with FailedIndexes if
   * any failed. Without it, `backoffLimit` counts the failures of all indexes together.
   */
  private async runIndexedJob(namespace: string, name: string, uid: string, options: JobControllerOptions): Promise<void> {
    const first = this.job(namespace, name, uid);
    if (!first) return;
    const spec = first.spec as JsonObject;
    const completions = typeof spec.completions === 'number' ? spec.completions : 1;
    const parallelism = Math.max(1, typeof spec.parallelism === 'number' ? spec.parallelism : 1);
    const perIndex = typeof spec.backoffLimitPerIndex === 'number' ? spec.backoffLimitPerIndex : undefined;
    // With backoffLimitPerIndex, backoffLimit defaults to MaxInt32 (pkg/apis/batch/v1/defaults.go).
    const backoffLimit = typeof spec.backoffLimit === 'number' ? spec.backoffLimit : perIndex === undefined ? 6 : 2 ** 31 - 1;
    this.writeJobStatus(namespace, name, uid, (s) => {
      s.startTime = rfc3339(this.now());
    });
    const pending = Array.from({ length: completions }, (_, i) => i);
    const succeededIndexes = new Set<number>();
    const failedIndexes = new Set<number>();
    const failuresOf = new Map<number, number>();
    const active = new Set<number>();
    let failed = 0;
    let finished: { type: 'Complete' | 'Failed'; reason: string; message: string } | undefined;
    const publish = () =>
      this.writeJobStatus(namespace, name, uid, (s) => {
        s.active = active.size;
        s.succeeded = succeededIndexes.size;
        s.failed = failed;
        s.completedIndexes = indexIntervals(succeededIndexes);
        if (perIndex !== undefined) s.failedIndexes = indexIntervals(failedIndexes);
      });
    const runIndex = async (index: number): Promise<void> => {
      const job = this.job(namespace, name, uid);
      if (!job || finished || this.stopped) return;
      const pod = this.createPod(job, index);
      const exit = await this.runPod(pod, options, uid);
      active.delete(index);
      if (exit === undefined) {
        finished ??= { type: 'Failed', reason: '', message: '' }; // stopped, deleted or stuck: no terminal condition
        return;
      }
      if (exit.code === 0) {
        succeededIndexes.add(index);
      } else {
        const rule = matchPodFailurePolicy(spec, exit.container, exit.code);
        if (rule?.action !== 'Ignore') failed++;
        if (rule?.action === 'FailJob') {
          finished ??= {
            type: 'Failed',
            reason: 'PodFailurePolicy',
            message: `Container ${exit.container} for pod ${namespace}/${pod.metadata.name} failed with exit code ${exit.code} matching FailJob rule at index ${rule.index}`,
          };
        } else if (rule?.action === 'Ignore') {
          pending.unshift(index);
        } else if (perIndex !== undefined) {
          const n = (failuresOf.get(index) ?? 0) + 1;
          failuresOf.set(index, n);
          if (rule?.action === 'FailIndex' || n > perIndex) failedIndexes.add(index);
          else pending.unshift(index);
        } else if (failed > backoffLimit) {
          finished ??= { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
        } else {
          pending.unshift(index);
        }
      }
      publish();
    };
    const workers = new Set<Promise<void>>();
    while (!finished && !this.stopped && (pending.length > 0 || workers.size > 0)) {
      while (pending.length > 0 && workers.size < parallelism && !finished) {
        pending.sort((a, b) => a - b);
        const index = pending.shift() as number;
        active.add(index);
        publish();
        const w: Promise<void> = runIndex(index).finally(() => workers.delete(w));
        workers.add(w);
      }
      if (workers.size > 0) await Promise.race(workers);
    }
    await Promise.allSettled([...workers]);
    if (this.stopped || (finished && finished.reason === '')) return;
    if (finished) return this.finish(namespace, name, uid, finished.type, finished.reason, finished.message);
    if (failedIndexes.size > 0) return this.finish(namespace, name, uid, 'Failed', 'FailedIndexes', 'Job has failed indexes');
    if (succeededIndexes.size >= completions)
      this.finish(namespace, name, uid, 'Complete', 'CompletionsReached', 'Reached expected number of succeeded pods');
  }

  /** Terminal conditions as the real controller writes them: the interim one, then the final one. */
  private finish(namespace: string, name: string, uid: string, type: 'Complete' | 'Failed', reason: string, message: string): void {
    const time = rfc3339(this.now());
    const condition = (t: string) => ({ type: t, status: 'True', lastProbeTime: time, lastTransitionTime: time, reason, message });
    this.writeJobStatus(namespace, name, uid, (s) => {
      s.active = 0;
      s.conditions = [condition(type === 'Complete' ? 'SuccessCriteriaMet' : 'FailureTarget'), condition(type)];
      if (type === 'Complete') s.completionTime = time;
    });
  }

  private createPod(job: StoredKubeObject, index: number | undefined): StoredKubeObject {
    const template = (job.spec as JsonObject).template as JsonObject;
    const meta = isObject(template.metadata) ? cloneJson(template.metadata) : {};
    const labels: Record<string, string> = { ...(isObject(meta.labels) ? (meta.labels as Record<string, string>) : {}) };
    const annotations: Record<string, string> = { ...(isObject(meta.annotations) ? (meta.annotations as Record<string, string>) : {}) };
    if (index !== undefined) {
      labels['batch.kubernetes.io/job-completion-index'] = String(index);
      annotations['batch.kubernetes.io/job-completion-index'] = String(index);
    }
    const suffix = [...randomBytes(5)].map((b) => ALPHANUMS[b % ALPHANUMS.length]).join('');
    const podSpec = cloneJson(template.spec as JsonObject);
    if (index !== undefined) {
      // addCompletionIndexEnvVariables: every container gets JOB_COMPLETION_INDEX unless it sets it.
      const label = "metadata.labels['batch.kubernetes.io/job-completion-index']";
      for (const c of (Array.isArray(podSpec.containers) ? podSpec.containers : []) as JsonObject[]) {
        const env = (Array.isArray(c.env) ? c.env : []) as JsonObject[];
        if (!env.some((e) => e.name === 'JOB_COMPLETION_INDEX'))
          c.env = [...env, { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: label } } }];
      }
    }
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        // podGenerateNameWithIndex: `<job>-<index>-` for Indexed Jobs.
        name: `${job.metadata.name}-${index === undefined ? '' : `${index}-`}${suffix}`,
        namespace: job.metadata.namespace,
        labels,
        annotations,
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: job.metadata.name,
            uid: job.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: podSpec,
    };
    return this.registry.create(PODS(), job.metadata.namespace, pod).obj;
  }

  private setPodStatus(pod: StoredKubeObject, status: JsonObject): void {
    try {
      const current = this.registry.get(PODS(), pod.metadata.namespace, pod.metadata.name).obj;
      this.registry.update(PODS(), pod.metadata.namespace, pod.metadata.name, { ...cloneJson(current), status }, { subresource: 'status' });
    } catch {
      // deleted meanwhile
    }
  }

  /** Runs the pod's first container; its container name and exit code, or undefined when it never ran to the end. */
  private async runPod(
    pod: StoredKubeObject,
    options: JobControllerOptions,
    jobUid: string,
  ): Promise<{ container: string; code: number } | undefined> {
    const ns = pod.metadata.namespace ?? '';
    const podName = pod.metadata.name;
    const spec = pod.spec as JsonObject;
    const container = (spec.containers as JsonObject[])[0];
    const containerName = String(container.name);
    const dir = await mkdtemp(join(tmpdir(), `emulator-pod-${podName}-`));
    try {
      let prepared: { env: Env; args: string[] };
      try {
        prepared = await this.prepare(pod, container, dir);
      } catch (e) {
        // kubelet: CreateContainerConfigError (env) or FailedMount (volume); the pod stays Pending.
        this.setPodStatus(pod, {
          phase: 'Pending',
          containerStatuses: [
            {
              name: containerName,
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'CreateContainerConfigError', message: (e as Error).message } },
            },
          ],
        });
        return undefined;
      }
      const startedAt = rfc3339(this.now());
      this.logs.start(ns, podName, containerName);
      this.setPodStatus(pod, {
        phase: 'Running',
        startTime: startedAt,
        containerStatuses: [{ name: containerName, ready: true, started: true, restartCount: 0, state: { running: { startedAt } } }],
      });
      const child = spawn(process.execPath, ['--import', 'tsx', join(options.repoRoot, 'jobs', 'cli.ts'), ...prepared.args], {
        cwd: options.repoRoot,
        env: prepared.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const children = this.running.get(jobUid) ?? new Set<ChildProcess>();
      children.add(child);
      this.running.set(jobUid, children);
      child.stdout?.on('data', (d: Buffer) => this.logs.append(ns, podName, containerName, d));
      child.stderr?.on('data', (d: Buffer) => this.logs.append(ns, podName, containerName, d));
      const code = await new Promise<number>((resolve) => {
        child.once('error', () => resolve(128));
        child.once('close', (c, signal) => resolve(c ?? 128 + signalNumber(signal)));
      });
      children.delete(child);
      if (children.size === 0) this.running.delete(jobUid);
      this.logs.end(ns, podName, containerName);
      if (this.stopped) return undefined;
      const finishedAt = rfc3339(this.now());
      this.setPodStatus(pod, {
        phase: code === 0 ? 'Succeeded' : 'Failed',
        startTime: startedAt,
        containerStatuses: [
          {
            name: containerName,
            ready: false,
            started: false,
            restartCount: 0,
            state: { terminated: { exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt, finishedAt } },
          },
        ],
      });
      return { container: containerName, code };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The container's environment and args, with its volumes written under `dir`. */
  private async prepare(pod: StoredKubeObject, container: JsonObject, dir: string): Promise<{ env: Env; args: string[] }> {
    const ns = pod.metadata.namespace ?? '';
    const spec = pod.spec as JsonObject;
    if (Array.isArray(container.command) && container.command.length > 0) throw new Error('container command is not emulated (args only)');
    const mountDirs = new Map<string, string>();
    const volumes = (Array.isArray(spec.volumes) ? spec.volumes : []) as JsonObject[];
    const mounts = (Array.isArray(container.volumeMounts) ? container.volumeMounts : []) as JsonObject[];
    const sa = typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : 'default';
    let kubeconfig: string | undefined;
    for (const [i, mount] of mounts.entries()) {
      const volume = volumes.find((v) => v.name === mount.name);
      if (!volume) throw new Error(`volume ${String(mount.name)} not found`);
      const local = join(dir, `volume-${i}`);
      await mkdir(local, { recursive: true });
      mountDirs.set(String(mount.mountPath), local);
      if (isObject(volume.secret)) {
        await this.writeSecretVolume(ns, volume.secret, local);
      } else if (isObject(volume.projected)) {
        for (const source of (volume.projected.sources ?? []) as JsonObject[]) {
          if (isObject(source.serviceAccountToken)) {
            const token = this.host.serviceAccountToken(ns, sa);
            await writeFile(join(local, String(source.serviceAccountToken.path ?? 'token')), token);
            kubeconfig = join(dir, 'kubeconfig');
            await writeFile(kubeconfig, kubeconfigYaml(this.host.url, { token, namespace: ns }), { mode: 0o600 });
          } else if (isObject(source.downwardAPI)) {
            for (const item of (source.downwardAPI.items ?? []) as JsonObject[]) {
              const value = fieldValue(pod, String((item.fieldRef as JsonObject | undefined)?.fieldPath ?? ''));
              await writeFile(join(local, String(item.path)), value);
            }
          }
          // configMap sources (kube-root-ca.crt) are skipped: the emulator serves plain http.
        }
      } else if (!isObject(volume.emptyDir)) {
        throw new Error(`volume ${String(volume.name)}: only secret, projected and emptyDir volumes are emulated`);
      }
    }
    const env: Env = {};
    for (const from of (Array.isArray(container.envFrom) ? container.envFrom : []) as JsonObject[]) {
      const ref = (isObject(from.configMapRef) ? from.configMapRef : from.secretRef) as JsonObject | undefined;
      if (!ref) continue;
      const obj = this.lookup(isObject(from.configMapRef) ? CONFIGMAPS() : SECRETS(), ns, String(ref.name));
      if (!obj) {
        if (ref.optional === true) continue;
        throw new Error(`${isObject(from.configMapRef) ? 'configmap' : 'secret'} "${String(ref.name)}" not found`);
      }
      const data = dataOf(obj, isObject(from.secretRef));
      for (const [k, v] of Object.entries(data)) env[`${typeof from.prefix === 'string' ? from.prefix : ''}${k}`] = v;
    }
    for (const e of (Array.isArray(container.env) ? container.env : []) as JsonObject[]) {
      const name = String(e.name);
      if (typeof e.value === 'string') env[name] = expand(e.value, env);
      else if (isObject(e.valueFrom)) {
        const v = this.valueFrom(pod, ns, e.valueFrom);
        if (v !== undefined) env[name] = v;
      }
    }
    for (const [k, v] of Object.entries(env)) env[k] = mapPath(v, mountDirs);
    if (kubeconfig) env.KUBECONFIG = kubeconfig;
    env.PATH = process.env.PATH ?? '/usr/bin:/bin';
    env.HOME = dir;
    env.HOSTNAME = pod.metadata.name;
    // kubelet expands $(VAR) in args with the container's environment (ExpandContainerCommandAndArgs).
    const args = (Array.isArray(container.args) ? container.args : []).map((a) => expand(String(a), env));
    return { env, args };
  }

  private lookup(rt: ResourceType, ns: string, name: string): StoredKubeObject | undefined {
    try {
      return this.registry.get(rt, ns, name).obj;
    } catch {
      return undefined;
    }
  }

  private valueFrom(pod: StoredKubeObject, ns: string, from: JsonObject): string | undefined {
    if (isObject(from.fieldRef)) return fieldValue(pod, String(from.fieldRef.fieldPath));
    const ref = (isObject(from.configMapKeyRef) ? from.configMapKeyRef : from.secretKeyRef) as JsonObject | undefined;
    if (!ref) throw new Error('only fieldRef, configMapKeyRef and secretKeyRef are emulated');
    const secret = isObject(from.secretKeyRef);
    const obj = this.lookup(secret ? SECRETS() : CONFIGMAPS(), ns, String(ref.name));
    const value = obj ? dataOf(obj, secret)[String(ref.key)] : undefined;
    if (value === undefined && ref.optional !== true) {
      throw new Error(`couldn't find key ${String(ref.key)} in ${secret ? 'Secret' : 'ConfigMap'} ${ns}/${String(ref.name)}`);
    }
    return value;
  }

  private async writeSecretVolume(ns: string, source: JsonObject, local: string): Promise<void> {
    const secret = this.lookup(SECRETS(), ns, String(source.secretName));
    if (!secret) {
      if (source.optional === true) return;
      throw new Error(`secret "${String(source.secretName)}" not found`);
    }
    const data = (isObject(secret.data) ? secret.data : {}) as Record<string, string>;
    const items = Array.isArray(source.items)
      ? (source.items as JsonObject[]).map((i) => ({ key: String(i.key), path: String(i.path), mode: i.mode }))
      : Object.keys(data).map((key) => ({ key, path: key, mode: undefined }));
    for (const item of items) {
      if (data[item.key] === undefined) {
        if (source.optional === true) continue;
        throw new Error(`secret "${String(source.secretName)}" has no key ${item.key}`);
      }
      const file = join(local, item.path);
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(file, Buffer.from(data[item.key], 'base64'));
      // The owner is this process, not fsGroup: keep the owner's read bit whatever the mode.
      const mode = typeof item.mode === 'number' ? item.mode : typeof source.defaultMode === 'number' ? source.defaultMode : 0o644;
      await chmod(file, mode | 0o400);
    }
  }

  private deletePods(namespace: string, jobUid: string): void {
    const pods = this.registry.list(PODS(), { namespace, labelSelector: `batch.kubernetes.io/controller-uid=${jobUid}` }).items;
    for (const p of pods) {
      try {
        this.registry.delete(PODS(), namespace, p.obj.metadata.name);
      } catch {
        // already gone
      }
      this.logs.remove(namespace, p.obj.metadata.name);
    }
  }
}

/** The first podFailurePolicy rule matching a container's exit code (onExitCodes rules only). */
export function matchPodFailurePolicy(
  jobSpec: JsonObject,
  container: string,
  exitCode: number,
): { action: 'FailJob' | 'Ignore' | 'Count' | 'FailIndex'; index: number } | undefined {
  const policy = isObject(jobSpec.podFailurePolicy) ? jobSpec.podFailurePolicy : undefined;
  const rules = (Array.isArray(policy?.rules) ? policy.rules : []) as JsonObject[];
  for (const [index, rule] of rules.entries()) {
    const on = isObject(rule.onExitCodes) ? rule.onExitCodes : undefined;
    if (!on) continue;
    if (typeof on.containerName === 'string' && on.containerName !== container) continue;
    const values = (Array.isArray(on.values) ? on.values : []) as number[];
    const hit = on.operator === 'NotIn' ? !values.includes(exitCode) : values.includes(exitCode);
    if (hit) return { action: rule.action as 'FailJob' | 'Ignore' | 'Count' | 'FailIndex', index };
  }
  return undefined;
}

/** Indexes as the controller writes completedIndexes and failedIndexes: `0,2-4,6,7` (orderedIntervals.String). */
export function indexIntervals(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : j === i + 1 ? `${sorted[i]},${sorted[j]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function dataOf(obj: StoredKubeObject, base64: boolean): Record<string, string> {
  const data = (isObject(obj.data) ? obj.data : {}) as Record<string, string>;
  if (!base64) return { ...data };
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** The downward API's fieldPath values the manifests use. */
function fieldValue(pod: StoredKubeObject, path: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return ((pod.metadata as JsonObject)[m[1]] as Record<string, string> | undefined)?.[m[2]] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.serviceAccountName':
      return String((pod.spec as JsonObject).serviceAccountName ?? 'default');
    default:
      throw new Error(`fieldRef ${path} is not emulated`);
  }
}

/** `$(VAR)` references to variables defined before, as kubelet expands them. */
function expand(value: string, env: Env): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => env[name] ?? all);
}

/** A value that is a path inside a mounted volume, moved to where that volume is on this machine. */
function mapPath(value: string, mountDirs: Map<string, string>): string {
  for (const [mountPath, local] of mountDirs) {
    if (value === mountPath) return local;
    if (value.startsWith(`${mountPath}/`)) return join(local, value.slice(mountPath.length + 1));
  }
  return value;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 0;
}
