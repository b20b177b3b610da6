/**
 * The servers the bench measures against: Kubernetes API emulators (one per cluster: the loaded
 * one, and a fresh one per restore run) and s3rver.
 *
 * By default they run in one child process (`server-process.ts`), so that on a 2-core machine
 * the measured command and the servers it talks to are separate processes, and the server's
 * CPU time is its own figure: the ratio against the kubectl baseline then measures our client,
 * not the emulator sharing its process with the driver. `--servers in-process` keeps them in the
 * driver's process, for comparison with earlier runs.
 *
 * Either way the driver sees one {@link BenchServers} handle: every operation is a call on
 * {@link ServerHost}, made directly (in-process) or as a message over the child's IPC channel.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { KubeEmulator } from '../emulator/index.js';
import { makeTls } from '../shared/verify-restore/drill-fixtures.js';
import { type S3TestServer, startS3Server } from '../support/s3-server.js';
import { emptyStats, generateSecrets, type MixStats } from './generate.js';

export const SERVER_MODES = ['process', 'in-process'] as const;
export type ServerMode = (typeof SERVER_MODES)[number];

export interface HostOptions {
  /** Working directory: kubeconfigs, s3rver's data. */
  dir: string;
  /** Start s3rver (not when the bench uses a real store). */
  s3: boolean;
  /** Namespaces every emulated cluster starts with (the tool's and the drill's). */
  namespaces: string[];
  /**
   * Milliseconds every request to an emulator waits before it is served (0: none): a remote
   * API server's round trip and etcd commit, which a loopback emulator does not have. Requests
   * wait concurrently, as they would on the network.
   */
  apiLatencyMs?: number;
}

/** What the driver needs to reach s3rver: endpoint, bucket and the one credential pair. */
export interface S3Info {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION. */
  env: Record<string, string>;
}

export interface RequestSummary {
  count: number;
  /** `verb resource` -> requests, most first. */
  byVerb: Record<string, number>;
}

/**
 * The servers and what the driver does with them. Every method takes and returns plain data
 * (it crosses the IPC channel); clusters are named (`main`, `restore`, ...).
 */
export class ServerHost {
  private readonly clusters = new Map<string, KubeEmulator>();
  private s3Server?: S3TestServer;
  private session?: Session;

  constructor(private readonly o: HostOptions) {}

  async start(): Promise<S3Info | undefined> {
    if (!this.o.s3) return undefined;
    this.s3Server = await startS3Server({ bucket: 'bench', dir: join(this.o.dir, 's3rver') });
    const s = this.s3Server;
    return { endpoint: s.endpoint, bucket: s.bucket, ...s.credentials, env: s.env };
  }

  /** Starts an emulator and writes its kubeconfig; returns the kubeconfig's path. */
  async startCluster(name: string): Promise<string> {
    if (this.clusters.has(name)) throw new Error(`cluster ${name} is already running`);
    const emulator = await KubeEmulator.start({ rolloutDelayMs: 0 });
    this.clusters.set(name, emulator);
    const latency = this.o.apiLatencyMs ?? 0;
    if (latency > 0) emulator.faults.inject({ delayMs: latency, times: Number.POSITIVE_INFINITY });
    const kubeconfig = join(this.o.dir, `kubeconfig-${name}`);
    await emulator.writeKubeconfig(kubeconfig);
    await emulator.applyObjects(this.o.namespaces.map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })));
    return kubeconfig;
  }

  /** Stops an emulator and drops it, so that its objects can be collected. */
  async stopCluster(name: string): Promise<void> {
    const emulator = this.clusters.get(name);
    this.clusters.delete(name);
    await emulator?.stop();
  }

  /** Creates objects straight in the emulator's store (no HTTP). */
  load(name: string, objects: Array<Record<string, unknown>>): void {
    const emulator = this.cluster(name);
    for (const o of objects) emulator.create(o as never);
  }

  /** Generates the bench's Secrets (generate.ts) here, where they are stored: they never cross the channel. */
  async loadGenerated(name: string, secrets: number, namespaces: number): Promise<MixStats> {
    const emulator = this.cluster(name);
    const mix = emptyStats();
    const tls = await makeTls('bench.example');
    for (const s of generateSecrets(secrets, namespaces, tls, mix)) emulator.create(s as never);
    return mix;
  }

  /** Secrets carrying `label=true`. */
  countLabelled(name: string, label: string): number {
    return this.cluster(name)
      .list('v1', 'Secret')
      .filter((s) => (s.metadata as { labels?: Record<string, string> }).labels?.[label] === 'true').length;
  }

  clearRequests(name: string): void {
    this.cluster(name).requests.clear();
  }

  requestSummary(name: string): RequestSummary {
    const entries = this.cluster(name).requests.entries;
    const byVerb: Record<string, number> = {};
    for (const e of entries) {
      const k = `${e.verb} ${e.resource || e.path}`;
      byVerb[k] = (byVerb[k] ?? 0) + 1;
    }
    return { count: entries.length, byVerb: Object.fromEntries(Object.entries(byVerb).sort((a, c) => c[1] - a[1])) };
  }

  /** The size of an object in s3rver, or undefined. */
  async objectSize(key: string): Promise<number | undefined> {
    const s = this.s3Server;
    if (!s) return undefined;
    const head = await s.client.send(new HeadObjectCommand({ Bucket: s.bucket, Key: key })).catch(() => undefined);
    return head?.ContentLength;
  }

  /** CPU time this process has used so far (user + system), ms. */
  cpuMs(): number {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }

  /** Starts a V8 CPU profile of this process (the servers' side of a step). */
  async startProfile(): Promise<void> {
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.start');
  }

  /** Stops the profile and writes it as a `.cpuprofile` file (the format profile.ts reads). */
  async stopProfile(file: string): Promise<void> {
    const s = this.session;
    if (!s) throw new Error('no profile was started');
    const { profile } = await s.post('Profiler.stop');
    s.disconnect();
    this.session = undefined;
    await writeFile(file, JSON.stringify(profile));
  }

  async stop(): Promise<void> {
    for (const name of [...this.clusters.keys()]) await this.stopCluster(name);
    await this.s3Server?.stop();
    this.s3Server = undefined;
  }

  private cluster(name: string): KubeEmulator {
    const emulator = this.clusters.get(name);
    if (!emulator) throw new Error(`no cluster ${name}`);
    return emulator;
  }
}

/** The operations the driver calls: {@link ServerHost}'s public methods, each made asynchronous. */
type HostMethod = Exclude<keyof ServerHost, 'start' | 'stop'>;
type Remote = {
  [K in HostMethod]: ServerHost[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never;
};

export interface BenchServers extends Remote {
  mode: ServerMode;
  /** The server process's id (this process's own in-process). */
  pid: number;
  s3?: S3Info;
  /** Stops the servers; in process mode, waits until the child has exited (or kills it). Idempotent. */
  close(): Promise<void>;
}

/** A message over the IPC channel: a call, its answer, or the child's ready signal. */
export type Call = { id: number; method: HostMethod; args: unknown[] } | { id: number; method: 'stop' };
export type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
export type Ready = { ready: true; s3?: S3Info } | { ready: false; error: string };

export async function startServers(
  mode: ServerMode,
  o: HostOptions & { heapMiB?: number; log: (line: string) => void },
): Promise<BenchServers> {
  if (mode === 'in-process') {
    const host = new ServerHost(o);
    const s3 = await host.start();
    const call =
      (method: HostMethod) =>
      async (...args: unknown[]) =>
        (host[method] as (...a: unknown[]) => unknown).apply(host, args);
    let closed: Promise<void> | undefined;
    return {
      ...remote(call),
      mode,
      pid: process.pid,
      s3,
      close: () => (closed ??= host.stop()),
    };
  }
  return startChild(o);
}

const METHODS: HostMethod[] = [
  'startCluster',
  'stopCluster',
  'load',
  'loadGenerated',
  'countLabelled',
  'clearRequests',
  'requestSummary',
  'objectSize',
  'cpuMs',
  'startProfile',
  'stopProfile',
];

function remote(call: (m: HostMethod) => (...args: unknown[]) => Promise<unknown>): Remote {
  return Object.fromEntries(METHODS.map((m) => [m, call(m)])) as Remote;
}

const SERVER_SCRIPT = new URL('./server-process.ts', import.meta.url).pathname;

async function startChild(o: HostOptions & { heapMiB?: number; log: (line: string) => void }): Promise<BenchServers> {
  const flags = [
    ...process.execArgv.filter((f) => !f.startsWith('--max-old-space-size')),
    ...(o.heapMiB ? [`--max-old-space-size=${o.heapMiB}`] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, [...flags, SERVER_SCRIPT], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    env: {
      ...process.env,
      SS_BENCH_SERVER_OPTIONS: JSON.stringify({ dir: o.dir, s3: o.s3, namespaces: o.namespaces, apiLatencyMs: o.apiLatencyMs }),
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ctrl-C (or a kill of the driver) must not leave the servers behind.
  const onSignal = (signal: NodeJS.Signals) => {
    child.kill('SIGKILL');
    process.exitCode = 130;
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 1;
  let gone: string | undefined;
  const fail = (why: string) => {
    gone ??= why;
    for (const p of pending.values()) p.reject(new Error(`bench servers: ${why}`));
    pending.clear();
  };
  child.once('exit', (code, signal) => fail(`the server process exited (${signal ?? `code ${code}`})`));
  child.once('error', (e) => fail(e.message));

  const ready = await new Promise<Ready>((resolve) => {
    child.once('message', (m) => resolve(m as Ready));
    child.once('exit', (code, signal) => resolve({ ready: false, error: `exited before it was ready (${signal ?? `code ${code}`})` }));
  });
  if (!ready.ready) {
    child.kill('SIGKILL');
    throw new Error(`bench servers: ${ready.error}`);
  }
  child.on('message', (m) => {
    const a = m as Answer;
    const p = pending.get(a.id);
    pending.delete(a.id);
    if (a.ok) p?.resolve(a.value);
    else p?.reject(new Error(a.error));
  });
  const send = (msg: Call) =>
    new Promise<unknown>((resolve, reject) => {
      if (gone) return reject(new Error(`bench servers: ${gone}`));
      pending.set(msg.id, { resolve, reject });
      child.send(msg, (e) => {
        if (e) {
          pending.delete(msg.id);
          reject(e);
        }
      });
    });
  o.log(`servers: process ${child.pid} (emulator${o.s3 ? `, s3rver at ${ready.s3?.endpoint}` : ''})`);
  let closed: Promise<void> | undefined;
  const close = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!gone) await send({ id: next++, method: 'stop' }).catch(() => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    ...remote(
      (method) =>
        (...args) =>
          send({ id: next++, method, args }),
    ),
    mode: 'process',
    pid: child.pid!,
    s3: ready.s3,
    close: () => (closed ??= close()),
  };
}
