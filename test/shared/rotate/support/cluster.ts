/**
 * Test cluster for rotation: a Kubernetes API emulator with a small rollout delay, a
 * kubeconfig on disk, helpers to seed Secrets with policies and consuming workloads, and a
 * way to run `secret-steward rotate` in-process (runCommand) or as a child process
 * (`node --import tsx jobs/rotate.ts`, for crash and SIGTERM tests).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rotateCommand } from '../../../../jobs/rotate.js';
import type { ExitCodeValue } from '../../../../shared/errors/exit-codes.js';
import { MemorySink } from '../../../../shared/log/index.js';
import type { Clock } from '../../../../shared/runtime/clock.js';
import { type Command, runCommand } from '../../../../shared/runtime/command.js';
import type { Shutdown } from '../../../../shared/runtime/shutdown.js';
import { type EmulatorOptions, KubeEmulator, type KubeObject, type RequestLogEntry } from '../../../emulator/index.js';

export const REPO = resolve(import.meta.dirname, '../../../..');
export const LOCK_NAMESPACE = 'secret-steward';

export interface RunResult {
  code: ExitCodeValue;
  stdout: string;
  stderr: string;
  logs: MemorySink;
  records: Array<Record<string, unknown>>;
}

type SecretObject = KubeObject & { data?: Record<string, string>; type?: string; immutable?: boolean };

export interface WorkloadRefs {
  /** envFrom secretRef names. */
  envFrom?: string[];
  /** env secretKeyRef: [secret, key]. */
  env?: Array<[string, string]>;
  /** secret volumes. */
  volumes?: string[];
  /** projected volume sources. */
  projected?: string[];
  imagePullSecrets?: string[];
}

/** A pod template (one container) consuming Secrets as `refs` says. */
export function podTemplate(app: string, refs: WorkloadRefs): Record<string, unknown> {
  const volumes = [
    ...(refs.volumes ?? []).map((s, i) => ({ name: `secret-${i}`, secret: { secretName: s } })),
    ...(refs.projected?.length
      ? [{ name: 'projected', projected: { sources: refs.projected.map((s) => ({ secret: { name: s } })) } }]
      : []),
  ];
  return {
    metadata: { labels: { app } },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1.0',
          env: (refs.env ?? []).map(([s, k], i) => ({ name: `VAR_${i}`, valueFrom: { secretKeyRef: { name: s, key: k } } })),
          envFrom: (refs.envFrom ?? []).map((s) => ({ secretRef: { name: s } })),
          volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/etc/${v.name}`, readOnly: true })),
        },
      ],
      volumes,
      imagePullSecrets: (refs.imagePullSecrets ?? []).map((name) => ({ name })),
    },
  };
}

export class RotateCluster {
  private constructor(
    readonly emulator: KubeEmulator,
    readonly dir: string,
    readonly kubeconfig: string,
  ) {}

  static async start(opts: EmulatorOptions = {}): Promise<RotateCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'ss-rotate-'));
    const emulator = await KubeEmulator.start({ rolloutDelayMs: 5, ...opts });
    const kubeconfig = join(dir, 'kubeconfig');
    await emulator.writeKubeconfig(kubeconfig);
    await emulator.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: LOCK_NAMESPACE } }]);
    return new RotateCluster(emulator, dir, kubeconfig);
  }

  async stop(): Promise<void> {
    await this.emulator.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Arguments every run needs. */
  baseArgs(kubeconfig = this.kubeconfig, lockNamespace = LOCK_NAMESPACE): string[] {
    return ['--kubeconfig', kubeconfig, '--lock-namespace', lockNamespace];
  }

  async namespace(name: string): Promise<void> {
    await this.emulator.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }]);
  }

  /** Creates a Secret (string values) with an optional policy (YAML text). */
  async secret(
    namespace: string,
    name: string,
    data: Record<string, string>,
    policy?: string,
    extra: {
      annotations?: Record<string, string>;
      labels?: Record<string, string>;
      type?: string;
      immutable?: boolean;
      ownerReferences?: unknown[];
    } = {},
  ): Promise<SecretObject> {
    await this.namespace(namespace);
    return this.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace,
        labels: extra.labels,
        annotations: { ...(policy === undefined ? {} : { 'secret-steward.io/rotation': policy }), ...extra.annotations },
        ownerReferences: extra.ownerReferences as never,
      },
      type: extra.type ?? 'Opaque',
      immutable: extra.immutable,
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    }) as SecretObject;
  }

  getSecret(namespace: string, name: string): SecretObject | undefined {
    return this.emulator.get('v1', 'Secret', namespace, name) as SecretObject | undefined;
  }

  /** The Secret's data decoded to strings. */
  data(namespace: string, name: string): Record<string, string> | undefined {
    const s = this.getSecret(namespace, name);
    if (s === undefined) return undefined;
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  }

  annotations(namespace: string, name: string): Record<string, string> {
    return (this.getSecret(namespace, name)?.metadata?.annotations ?? {}) as Record<string, string>;
  }

  /** Updates a Secret's fields as another writer would (read-modify-write, admin). */
  editSecret(namespace: string, name: string, edit: (s: SecretObject) => void): SecretObject {
    const s = this.getSecret(namespace, name)!;
    edit(s);
    return this.emulator.update(s) as SecretObject;
  }

  async deployment(
    namespace: string,
    name: string,
    refs: WorkloadRefs,
    extra: { replicas?: number; paused?: boolean } = {},
  ): Promise<void> {
    await this.namespace(namespace);
    this.emulator.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace },
      spec: {
        replicas: extra.replicas ?? 2,
        paused: extra.paused,
        selector: { matchLabels: { app: name } },
        template: podTemplate(name, refs),
      },
    });
  }

  async statefulSet(namespace: string, name: string, refs: WorkloadRefs): Promise<void> {
    await this.namespace(namespace);
    this.emulator.create({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace },
      spec: { replicas: 2, serviceName: name, selector: { matchLabels: { app: name } }, template: podTemplate(name, refs) },
    });
  }

  async daemonSet(namespace: string, name: string, refs: WorkloadRefs): Promise<void> {
    await this.namespace(namespace);
    this.emulator.create({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace },
      spec: { selector: { matchLabels: { app: name } }, template: podTemplate(name, refs) },
    });
  }

  /** An Argo Rollout (canary, no steps); the emulator must serve its CRD (`crds: ['rollouts.argoproj.io']`). */
  async rollout(namespace: string, name: string, refs: WorkloadRefs, extra: { replicas?: number; paused?: boolean } = {}): Promise<void> {
    await this.namespace(namespace);
    this.emulator.create({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name, namespace },
      spec: {
        replicas: extra.replicas ?? 2,
        paused: extra.paused,
        selector: { matchLabels: { app: name } },
        strategy: { canary: {} },
        template: podTemplate(name, refs),
      },
    });
  }

  async cronJob(namespace: string, name: string, refs: WorkloadRefs): Promise<void> {
    await this.namespace(namespace);
    const template = podTemplate(name, refs) as { spec: Record<string, unknown> };
    template.spec.restartPolicy = 'Never';
    this.emulator.create({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name, namespace },
      spec: { schedule: '0 * * * *', jobTemplate: { spec: { template } } },
    });
  }

  workload(
    kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Rollout',
    namespace: string,
    name: string,
  ): KubeObject & { spec?: any; status?: any } {
    const apiVersion = kind === 'CronJob' ? 'batch/v1' : kind === 'Rollout' ? 'argoproj.io/v1alpha1' : 'apps/v1';
    return this.emulator.get(apiVersion, kind, namespace, name) as KubeObject & {
      spec?: any;
      status?: any;
    };
  }

  /** Every Secret name referenced by a workload's pod template (sorted). */
  referencedSecrets(kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Rollout', namespace: string, name: string): string[] {
    const w = this.workload(kind, namespace, name);
    const tpl = kind === 'CronJob' ? w.spec.jobTemplate.spec.template : w.spec.template;
    const json = JSON.stringify(tpl.spec);
    const names = new Set<string>();
    for (const m of json.matchAll(/"(?:name|secretName)":"([^"]+)"/g)) names.add(m[1]);
    return [...names].filter((n) => this.getSecret(namespace, n) !== undefined || /-v\d+$/.test(n)).sort();
  }

  /** Rollouts the emulator's controller saw for one workload. */
  rollouts(kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Rollout', namespace: string, name: string) {
    return this.emulator.workloads.rollouts.filter((r) => r.kind === kind && r.namespace === namespace && r.name === name);
  }

  /** Runs rotate in-process with a fresh log sink. */
  async run(
    args: string[],
    opts: {
      clock?: Clock;
      shutdown?: Shutdown;
      env?: Record<string, string>;
      command?: Command<any>;
      kubeconfig?: string;
      /** Another Lease (and follow-mode key) namespace than LOCK_NAMESPACE. */
      lockNamespace?: string;
    } = {},
  ): Promise<RunResult> {
    const logs = new MemorySink();
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCommand(opts.command ?? rotateCommand, [...this.baseArgs(opts.kubeconfig, opts.lockNamespace), ...args], {
      env: { PATH: process.env.PATH, HOME: this.dir, POD_NAME: 'rotate-test', ...opts.env },
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      logSink: logs,
      handleSignals: false,
      clock: opts.clock,
      shutdown: opts.shutdown,
    });
    return { code, stdout: out.join(''), stderr: err.join(''), logs, records: logs.records() };
  }

  /** Starts `node --import tsx jobs/rotate.ts` against this cluster. */
  spawnJob(
    args: string[],
    env: Record<string, string> = {},
  ): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
    const node = join(REPO, 'node_modules', '.bin', 'node');
    const child = spawn(node, ['--import', 'tsx', join(REPO, 'jobs', 'rotate.ts'), ...this.baseArgs(), ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH, HOME: this.dir, POD_NAME: `rotate-child-${Math.random().toString(16).slice(2, 8)}`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
    );
    return { child, done };
  }

  /** Requests the job made (admin identity), oldest first, optionally only since `from`. */
  requests(from = 0): RequestLogEntry[] {
    return this.emulator.requests.entries.slice(from);
  }
}
