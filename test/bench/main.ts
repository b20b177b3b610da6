/**
 * `npm run bench [-- options]`: speed and memory of secret-steward against what users script
 * today, on the same servers in the same run.
 *
 * Generates N Secrets with a realistic size mix (test/bench/generate.ts), loads them into a
 * Kubernetes API emulator (or a real cluster: --kubeconfig), and measures, each as wall time,
 * throughput and the peak RSS of the process that did the work (a child process of the real
 * CLI; the emulator and the S3 server run in a server process of their own, servers.ts, whose
 * CPU time during each step is reported beside it):
 *
 *   1. secret-steward backup           (signing, indexing, read-back verification included)
 *   2. secret-steward verify-restore   (the full drill: integrity, validity, restore into the
 *                                        drill namespace and byte comparison, drift, keys)
 *   3. baseline backup:   kubectl get secrets -A -o json | gpg --encrypt --sign | s3cmd put -
 *   4. secret-steward rotate           (1,000 due Secrets in 100 namespaces, consuming
 *                                        Deployments, rollout delay 0) + API requests per Secret
 *   5. baseline restore:  s3cmd get | gpg --decrypt | jq <strip> | kubectl create -f -  (fresh cluster)
 *   6. secret-steward restore          (same fresh-cluster restore, for comparison)
 *
 * Prints a table, checks the targets, and writes bench-results.json (results of earlier runs at
 * other sizes are kept, so the 10k -> 50k memory growth can be judged).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { generateKeyPair } from '../../shared/crypto/keygen.js';
import { formatBytes, renderTable } from '../../shared/runtime/format.js';
import { mapLimit } from '../../shared/runtime/map-limit.js';
import { makeTls } from '../shared/verify-restore/drill-fixtures.js';
import {
  backupStages,
  ensureDebianTool,
  type GpgSetup,
  pipelineRss,
  restoreStages,
  setupGpg,
  stopGpg,
  writeS3cmdConfig,
} from './baseline.js';
import { BENCH_LABEL, type BenchSecret, emptyStats, generateSecrets, type MixStats, namespaceName } from './generate.js';
import { type Measured, type ProcessFigures, run, runNode, runPipeline, type StageFigures } from './measure.js';
import { podRuntime } from './pod-runtime.js';
import { type ProfileSummary, summariseProfile } from './profile.js';
import { rotationFixture } from './rotation-fixture.js';
import { type BenchServers, SERVER_MODES, type ServerMode, startServers } from './servers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MB = 1_000_000;
const MIB = 1024 * 1024;
const CLUSTER = 'bench';
const DRILL_NS = 'secret-steward-drill';
const TOOL_NS = 'secret-steward';

const USAGE = `Usage: npm run bench [-- options]

  --secrets N            Secrets to generate (default 10000)
  --namespaces N         namespaces they are spread over (default N/50, at least 10)
  --rotate N             due Secrets for the rotation run (default 1000; 0 skips it)
  --rotate-namespaces N  namespaces of the rotation run (default 100)
  --no-baseline          skip the kubectl | gpg | s3cmd pipelines
  --no-restore           skip the restore runs (baseline and ours)
  --repeat N             run backup, verify-restore and both restores N times; their figures are medians
  --profile              CPU profiles of backup, verify-restore and restore (node --cpu-prof) and of
                         the servers while each runs, both summarised
  --servers MODE         process (default): the emulator and s3rver in one node process of their own,
                         so they do not share the measured command's process or the driver's;
                         in-process: in the driver's process (as before; for comparison)
  --api-latency MS       the emulators answer every request MS milliseconds late (default 0), as a
                         remote API server does after a network round trip and an etcd commit;
                         both restores and every step see the same delay (emulator only)
  --runtime pod|host     pod (default): run each command with the heap configuration of its pod
                         (NODE_OPTIONS and memory limit from its manifest, see pod-runtime.ts);
                         host: V8's defaults for this machine
  --node-flags "FLAGS"   extra node flags for the measured commands (e.g. --max-semi-space-size=8)
  --sources              run the TypeScript sources (node --import tsx jobs/cli.ts) instead of dist/
  --steps LIST           only these steps, comma-separated: backup, verify-restore, baseline,
                         restore, rotate (default: all; verify-restore and restore need backup)
  --out FILE             results file (default bench-results.json)
  --work-dir DIR         keep working files (profiles, logs, keys) there instead of a temp dir
  --kubeconfig FILE      a real cluster instead of the emulator (Secrets are loaded into team-*
                         namespaces labelled ${BENCH_LABEL} and deleted at the end)
  --restore-kubeconfig FILE   an EMPTY cluster for the restore runs (real-cluster mode only)
  --store URL            a real store (s3://bucket/prefix) instead of s3rver; credentials from
                         the AWS environment; with --s3-endpoint URL and --s3-force-path-style
SECRET_STEWARD_* variables of this environment are passed to the measured commands (e.g.
SECRET_STEWARD_SEGMENT_SIZE=8 to try another segment size).
`;

const STEPS = ['backup', 'verify-restore', 'baseline', 'restore', 'rotate'] as const;
type StepName = (typeof STEPS)[number];

interface Options {
  secrets: number;
  namespaces: number;
  rotate: number;
  rotateNamespaces: number;
  baseline: boolean;
  restore: boolean;
  profile: boolean;
  sources: boolean;
  nodeFlags: string[];
  runtime: 'pod' | 'host';
  servers: ServerMode;
  /** Delay before the emulators serve each request (ms). */
  apiLatencyMs: number;
  repeat: number;
  steps: Set<StepName>;
  out: string;
  workDir?: string;
  kubeconfig?: string;
  restoreKubeconfig?: string;
  store?: string;
  s3Endpoint?: string;
  s3ForcePathStyle: boolean;
}

function parseOptions(argv: string[]): Options | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        secrets: { type: 'string' },
        namespaces: { type: 'string' },
        rotate: { type: 'string' },
        'rotate-namespaces': { type: 'string' },
        'no-baseline': { type: 'boolean' },
        'no-restore': { type: 'boolean' },
        profile: { type: 'boolean' },
        sources: { type: 'boolean' },
        'node-flags': { type: 'string' },
        runtime: { type: 'string' },
        servers: { type: 'string' },
        'api-latency': { type: 'string' },
        repeat: { type: 'string' },
        steps: { type: 'string' },
        out: { type: 'string' },
        'work-dir': { type: 'string' },
        kubeconfig: { type: 'string' },
        'restore-kubeconfig': { type: 'string' },
        store: { type: 'string' },
        's3-endpoint': { type: 'string' },
        's3-force-path-style': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return (e as Error).message;
  }
  if (values.help) return '';
  const int = (v: string | undefined, name: string, def: number, min: number): number => {
    if (v === undefined) return def;
    const n = Number(v.replace(/[_,]/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}`);
    return n;
  };
  try {
    const secrets = int(values.secrets, 'secrets', 10_000, 10);
    const steps = values.steps === undefined ? [...STEPS] : values.steps.split(',').map((x) => x.trim());
    const unknown = steps.filter((x) => !(STEPS as readonly string[]).includes(x));
    if (unknown.length > 0) throw new Error(`--steps: unknown ${unknown.join(', ')} (known: ${STEPS.join(', ')})`);
    if (values.runtime !== undefined && values.runtime !== 'pod' && values.runtime !== 'host')
      throw new Error('--runtime: expected pod or host');
    if (values.servers !== undefined && !(SERVER_MODES as readonly string[]).includes(values.servers))
      throw new Error(`--servers: expected ${SERVER_MODES.join(' or ')}`);
    return {
      steps: new Set(steps as StepName[]),
      secrets,
      namespaces: int(values.namespaces, 'namespaces', Math.max(10, Math.round(secrets / 50)), 1),
      rotate: steps.includes('rotate') ? int(values.rotate, 'rotate', 1000, 0) : 0,
      rotateNamespaces: int(values['rotate-namespaces'], 'rotate-namespaces', 100, 1),
      baseline: !values['no-baseline'] && steps.includes('baseline'),
      restore: !values['no-restore'] && steps.includes('restore'),
      profile: values.profile === true,
      sources: values.sources === true,
      nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
      runtime: (values.runtime ?? 'pod') as 'pod' | 'host',
      servers: (values.servers ?? 'process') as ServerMode,
      apiLatencyMs: int(values['api-latency'], 'api-latency', 0, 0),
      repeat: int(values.repeat, 'repeat', 1, 1),
      out: values.out ?? 'bench-results.json',
      workDir: values['work-dir'],
      kubeconfig: values.kubeconfig,
      restoreKubeconfig: values['restore-kubeconfig'],
      store: values.store,
      s3Endpoint: values['s3-endpoint'],
      s3ForcePathStyle: values['s3-force-path-style'] === true,
    };
  } catch (e) {
    return (e as Error).message;
  }
}

// ---------------------------------------------------------------------------------------------

export interface StepResult {
  step: string;
  ok: boolean;
  wallMs: number;
  secrets: number;
  /** Secret JSON bytes processed (the export size of the set: our backup's plaintext bytes). */
  jsonBytes: number;
  /** Peak RSS of the process that did the work; for pipelines the sum of the stages. */
  peakRssBytes?: number;
  cpuMs?: number;
  /** CPU time of the servers (emulator and s3rver) while the step ran: how busy they kept the machine. */
  serverCpuMs?: number;
  stages?: StageFigures[];
  heap?: ProcessFigures['peak'];
  notes: string[];
  error?: string;
  /** Each run's figures when the step was repeated (--repeat). */
  runs?: Array<{ wallMs: number; peakRssBytes?: number }>;
}

interface Target {
  name: string;
  value: string;
  limit: string;
  met: boolean | undefined;
  why?: string;
}

interface RunResults {
  at: string;
  machine: Record<string, string | number>;
  options: Omit<Options, 'out' | 'workDir' | 'steps'> & { steps: string[] };
  mix: MixStats;
  loadMs: number;
  steps: StepResult[];
  rotation?: {
    rotated: number;
    restartedWorkloads: number;
    apiRequests?: number;
    perSecret?: number;
    budget?: number;
    byVerb?: Record<string, number>;
  };
  targets: Target[];
  /** How each measured command was started: its MALLOC_* environment, `node` and its flags. */
  runtimes?: Record<string, string[]>;
  /** Where the emulator and s3rver ran (--servers) and that process's id. */
  servers?: { mode: ServerMode; pid: number };
  profiles?: Record<string, ProfileSummary>;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function machine(): Record<string, string | number> {
  const tool = (cmd: string, args: string[], re: RegExp) => {
    try {
      const out = versionOf(cmd, args);
      return re.exec(out)?.[1] ?? 'unknown';
    } catch {
      return 'missing';
    }
  };
  return {
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    memory: formatBytes(totalmem()),
    kernel: release(),
    node: process.version,
    kubectl: tool('kubectl', ['version', '--client'], /Client Version: (\S+)/),
    gpg: tool('gpg', ['--version'], /gpg \(GnuPG\) (\S+)/),
    s3cmd: tool('s3cmd', ['--version'], /s3cmd version (\S+)/),
    jq: tool('jq', ['--version'], /jq-(\S+)/),
  };
}

/** Synchronous on purpose: a handful of version probes when the results are written. */
function versionOf(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Builds dist/ when it is missing or older than a source file, so the bench runs what ships. */
async function ensureBuilt(): Promise<string> {
  const cli = join(ROOT, 'dist/jobs/cli.js');
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
    }
    return t;
  };
  const sources = Math.max(newest(join(ROOT, 'jobs')), newest(join(ROOT, 'shared')));
  if (!existsSync(cli) || statSync(cli).mtimeMs < sources) {
    log('building dist/ (npm run build)...');
    const r = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      env: process.env,
    });
    if (r.code !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
  }
  return cli;
}

const median = (xs: number[]) => [...xs].sort((a, c) => a - c)[Math.floor((xs.length - 1) / 2)];
const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`);
const fmtMB = (b: number | undefined) => (b === undefined || !Number.isFinite(b) ? '-' : `${(b / MIB).toFixed(0)} MiB`);

function lastJson<T>(text: string): T | undefined {
  const start = text.indexOf('{');
  if (start === -1) return undefined;
  try {
    return JSON.parse(text.slice(start)) as T;
  } catch {
    return undefined;
  }
}

function failureOf(m: Measured | Omit<Measured, 'process'>): string {
  const errs = m.stderr
    .split('\n')
    .filter((l) => /"level":(50|60|"error"|"fatal")/.test(l) || (l !== '' && !l.startsWith('{')))
    .slice(-5);
  return `exit ${m.code}: ${errs.join(' | ').slice(0, 2000) || m.stdout.slice(-500)}`;
}

// ---------------------------------------------------------------------------------------------

interface Cluster {
  kubeconfig: string;
  /** An emulated cluster: its name in the server process, and that process. */
  emulated?: { name: string; servers: BenchServers };
  stop(): Promise<void>;
}

async function emulatorCluster(servers: BenchServers, name: string): Promise<Cluster> {
  const kubeconfig = await servers.startCluster(name);
  return { kubeconfig, emulated: { name, servers }, stop: () => servers.stopCluster(name) };
}

/** Namespaces the bench created in a real cluster (deleted at the end). */
const createdNamespaces: string[] = [];

/** Creates objects: straight into the emulator's store, through the API (16 at a time) for a real cluster. */
async function loadObjects(c: Cluster, objects: Iterable<Record<string, unknown>>): Promise<void> {
  if (c.emulated) {
    let batch: Array<Record<string, unknown>> = [];
    for (const o of objects) {
      batch.push(o);
      if (batch.length >= 500) {
        await c.emulated.servers.load(c.emulated.name, batch);
        batch = [];
      }
    }
    if (batch.length > 0) await c.emulated.servers.load(c.emulated.name, batch);
    return;
  }
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const { AppsV1Api } = await import('@kubernetes/client-node');
  const apps = kc.makeApiClient(AppsV1Api);
  const batch: Array<Record<string, unknown>> = [];
  const flush = async () => {
    await mapLimit(batch.splice(0), 16, async (o) => {
      const meta = o.metadata as { namespace?: string; name: string };
      try {
        if (o.kind === 'Namespace') {
          await core.createNamespace({ body: o as never });
          createdNamespaces.push(meta.name);
        } else if (o.kind === 'Secret') await core.createNamespacedSecret({ namespace: meta.namespace!, body: o as never });
        else if (o.kind === 'Deployment') await apps.createNamespacedDeployment({ namespace: meta.namespace!, body: o as never });
      } catch (e) {
        if ((e as { code?: number }).code !== 409) throw e;
      }
    });
  };
  for (const o of objects) {
    if (o.kind === 'Namespace') await flush();
    batch.push(o);
    if (batch.length >= 256 || o.kind === 'Namespace') await flush();
  }
  await flush();
}

function namespacesOf(n: number): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespaceName(i), labels: { [BENCH_LABEL]: 'true' } },
  }));
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (typeof parsed === 'string') {
    (parsed ? process.stderr : process.stdout).write(`${parsed ? `${parsed}\n\n` : ''}${USAGE}`);
    return parsed ? 2 : 0;
  }
  const o = parsed;
  const work = o.workDir ? resolve(o.workDir) : await mkdtemp(join(tmpdir(), 'ss-bench-'));
  await mkdir(work, { recursive: true });
  const cleanups: Array<() => Promise<unknown>> = [];
  let gpg: GpgSetup | undefined;
  try {
    const cli = o.sources ? join(ROOT, 'jobs/cli.ts') : await ensureBuilt();
    const baselineMissing: string[] = [];
    if (o.baseline) {
      for (const [bin, pkg] of [
        ['s3cmd', 's3cmd'],
        ['/usr/bin/time', 'time'],
        ['jq', 'jq'],
        ['gpg', 'gnupg'],
        ['kubectl', 'kubectl'],
      ] as const) {
        const why =
          bin === 'kubectl'
            ? existsSync('/usr/bin/kubectl') || existsSync('/usr/local/bin/kubectl')
              ? undefined
              : 'kubectl is not installed'
            : await ensureDebianTool(bin, pkg, log);
        if (why) baselineMissing.push(why);
      }
      if (baselineMissing.length > 0) log(`baseline skipped: ${baselineMissing.join('; ')}`);
    }

    // Servers: the emulators and s3rver, in a process of their own (--servers process) or in this
    // one, never in a measured one.
    const servers = await startServers(o.servers, {
      dir: work,
      s3: !o.store,
      namespaces: [TOOL_NS, DRILL_NS],
      heapMiB: o.servers === 'process' ? serverHeapMiB(o.secrets) : undefined,
      apiLatencyMs: o.apiLatencyMs,
      log,
    });
    cleanups.push(() => servers.close());
    let cluster: Cluster;
    const stopMain = () => cluster.stop();
    if (o.kubeconfig) {
      const kubeconfig = resolve(o.kubeconfig);
      cluster = { kubeconfig, stop: async () => {} };
      cleanups.push(async () => {
        const kc = new KubeConfig();
        kc.loadFromFile(kubeconfig);
        const core = kc.makeApiClient(CoreV1Api);
        log(`deleting the ${createdNamespaces.length} namespaces the bench created...`);
        await mapLimit(createdNamespaces.splice(0), 8, (name) => core.deleteNamespace({ name }).catch(() => undefined));
      });
      await loadObjects(
        cluster,
        [TOOL_NS, DRILL_NS].map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })),
      );
    } else {
      cluster = await emulatorCluster(servers, 'main');
      cleanups.push(stopMain);
    }
    const s3 = servers.s3;
    const storeEnv: Record<string, string> = {};
    let s3cmdTarget: {
      endpoint?: string;
      bucket: string;
      prefix: string;
      accessKey: string;
      secretKey: string;
      region: string;
      pathStyle: boolean;
    };
    if (o.store) {
      const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(o.store);
      if (!m) throw new Error('--store: expected s3://bucket[/prefix]');
      Object.assign(storeEnv, {
        SECRET_STEWARD_STORE: o.store,
        ...(o.s3Endpoint ? { SECRET_STEWARD_S3_ENDPOINT: o.s3Endpoint } : {}),
        ...(o.s3ForcePathStyle ? { SECRET_STEWARD_S3_FORCE_PATH_STYLE: 'true' } : {}),
      });
      s3cmdTarget = {
        endpoint: o.s3Endpoint,
        bucket: m[1],
        prefix: m[2],
        accessKey: process.env.AWS_ACCESS_KEY_ID ?? '',
        secretKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
        region: process.env.AWS_REGION ?? 'us-east-1',
        pathStyle: o.s3ForcePathStyle,
      };
    } else {
      if (!s3) throw new Error('the server process did not start s3rver');
      Object.assign(process.env, s3.env);
      Object.assign(storeEnv, {
        SECRET_STEWARD_STORE: `s3://${s3.bucket}/steward`,
        SECRET_STEWARD_S3_ENDPOINT: s3.endpoint,
        SECRET_STEWARD_S3_FORCE_PATH_STYLE: 'true',
      });
      s3cmdTarget = {
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: '',
        accessKey: s3.accessKeyId,
        secretKey: s3.secretAccessKey,
        region: 'us-east-1',
        pathStyle: true,
      };
    }

    // Keys: one throwaway ECC pair encrypts and signs, for us and for gpg alike.
    const passphrase = 'bench-only-passphrase';
    const kp = await generateKeyPair({ name: 'secret-steward bench', email: 'bench@bench.invalid', passphrase, type: 'ecc' });
    const keys = { pub: join(work, 'bench.public.asc'), priv: join(work, 'bench.private.asc'), pass: join(work, 'bench.passphrase') };
    await writeFile(keys.pub, kp.publicKey);
    await writeFile(keys.priv, kp.privateKey, { mode: 0o600 });
    await writeFile(keys.pass, `${passphrase}\n`, { mode: 0o600 });

    // Data: an emulated cluster generates its Secrets itself (they never cross the IPC channel).
    log(`generating and loading ${o.secrets} Secrets over ${o.namespaces} namespaces...`);
    const loadStart = performance.now();
    await loadObjects(cluster, namespacesOf(o.namespaces));
    let mix = emptyStats();
    if (cluster.emulated) mix = await servers.loadGenerated(cluster.emulated.name, o.secrets, o.namespaces);
    else {
      const tls = await makeTls('bench.example');
      await loadObjects(
        cluster,
        generateSecrets(o.secrets, o.namespaces, tls, mix) as Iterable<BenchSecret> as Iterable<Record<string, unknown>>,
      );
    }
    const loadMs = performance.now() - loadStart;
    log(
      `loaded ${mix.secrets} Secrets (${formatBytes(mix.dataBytes)} of data: ${mix.small} small, ${mix.helm} Helm releases, ${mix.large} near 1 MiB) in ${fmtMs(loadMs)}`,
    );

    const passThrough = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => k.startsWith('SECRET_STEWARD_') || k === 'SS_BENCH_PROBE_TIMELINE' || k.startsWith('MALLOC_'),
      ),
    );
    const baseEnv: NodeJS.ProcessEnv = {
      ...passThrough,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      POD_NAME: 'bench',
      ...storeEnv,
      SECRET_STEWARD_CLUSTER_NAME: CLUSTER,
      SECRET_STEWARD_LOCK_NAMESPACE: TOOL_NS,
      SECRET_STEWARD_LOG_LEVEL: process.env.SECRET_STEWARD_LOG_LEVEL ?? 'warn',
    };
    const profileDir = join(work, 'profiles');
    await mkdir(profileDir, { recursive: true });
    const steps: StepResult[] = [];
    const profiles: Record<string, ProfileSummary> = {};
    let jsonBytes = 0;

    const runtimes: Record<string, string[]> = {};
    /** Runs `f`, appending to `into` the CPU time the servers spent meanwhile. */
    const withServerCpu = async <T>(into: number[], f: () => Promise<T>): Promise<T> => {
      const before = await servers.cpuMs();
      const r = await f();
      into.push((await servers.cpuMs()) - before);
      return r;
    };
    const ourStep = async (
      step: string,
      args: string[],
      env: NodeJS.ProcessEnv,
      profile: boolean,
      repeat = 1,
      /** Around each run (a restore needs a fresh cluster each time): its extra environment, and what to do after it. */
      each?: { before(run: number): Promise<NodeJS.ProcessEnv>; after(run: number, m: Measured): Promise<void> },
    ): Promise<{ m: Measured; r: StepResult }> => {
      const pod = o.runtime === 'pod' ? podRuntime(ROOT, args[0]) : undefined;
      // --node-flags come last, so they override the pod's (V8 takes the last value of a flag).
      const flags = [...(o.sources ? ['--import', 'tsx'] : []), ...(pod?.flags ?? []), ...o.nodeFlags];
      runtimes[step] = [...Object.entries(pod?.env ?? {}).map(([k, v]) => `${k}=${v}`), 'node', ...flags];
      const dir = join(profileDir, step.replace(/\W+/g, '-'));
      if (profile) await mkdir(dir, { recursive: true });
      // Repeated runs: the figures are medians (run-to-run spread on a shared 2-core machine is wide).
      const runs: Measured[] = [];
      const serverCpu: number[] = [];
      for (let i = 0; i < repeat; i++) {
        log(`${step}${repeat > 1 ? ` (run ${i + 1} of ${repeat})` : ''}${flags.length ? ` (node ${flags.join(' ')})` : ''}...`);
        const extra = (await each?.before(i)) ?? {};
        const profileServers = profile && i === 0;
        if (profileServers) await servers.startProfile();
        const m = await withServerCpu(serverCpu, () =>
          runNode(cli, args, {
            cwd: ROOT,
            env: { ...pod?.env, ...env, ...extra },
            probeFile: join(work, `probe-${step.replace(/\W+/g, '-')}.json`),
            cpuProfDir: profile && i === 0 ? dir : undefined,
            nodeFlags: flags,
          }),
        );
        if (profileServers) await servers.stopProfile(join(dir, 'servers.serverprofile'));
        runs.push(m);
        await each?.after(i, m);
        await writeFile(join(work, `log-${step.replace(/\W+/g, '-')}-${i + 1}.jsonl`), m.stderr);
        log(`${step}: ${m.code === 0 ? 'ok' : failureOf(m)} in ${fmtMs(m.wallMs)}, peak RSS ${fmtMB(m.process?.maxRssBytes)}`);
        if (m.code !== 0) break;
      }
      const m = runs[0];
      const failed = runs.find((x) => x.code !== 0);
      const rss = runs.map((x) => x.process?.maxRssBytes).filter((x): x is number => x !== undefined);
      const r: StepResult = {
        step,
        ok: failed === undefined,
        wallMs: median(runs.map((x) => x.wallMs)),
        secrets: 0,
        jsonBytes: 0,
        peakRssBytes: rss.length ? median(rss) : undefined,
        cpuMs: m.process ? m.process.userCpuMs + m.process.systemCpuMs : undefined,
        serverCpuMs: median(serverCpu),
        heap: m.process?.peak,
        notes: [],
        ...(failed ? { error: failureOf(failed) } : {}),
      };
      if (runs.length > 1) {
        const walls = runs.map((x) => x.wallMs);
        r.runs = runs.map((x) => ({ wallMs: x.wallMs, peakRssBytes: x.process?.maxRssBytes }));
        r.notes.push(
          `median of ${runs.length} runs: wall ${fmtMs(Math.min(...walls))} to ${fmtMs(Math.max(...walls))}, peak RSS ${fmtMB(Math.min(...rss))} to ${fmtMB(Math.max(...rss))}`,
        );
      }
      if (profile) {
        const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
        if (files[0]) profiles[step] = await summariseProfile(join(dir, files[0]));
        profiles[`${step}: servers`] = await summariseProfile(join(dir, 'servers.serverprofile'));
      }
      steps.push(r);
      return { m, r };
    };

    // 1. backup
    const backupEnv = {
      ...baseEnv,
      KUBECONFIG: cluster.kubeconfig,
      SECRET_STEWARD_RECIPIENT_KEY: keys.pub,
      SECRET_STEWARD_SIGNING_KEY: keys.priv,
      SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE: keys.pass,
    };
    const b = !o.steps.has('backup')
      ? undefined
      : await ourStep('backup', ['backup', '--selector', `${BENCH_LABEL}=true`, '--output', 'json'], backupEnv, o.profile, o.repeat);
    const backup =
      b && lastJson<{ backupId: string; secrets: number; segments: number; storedBytes: number; plaintextBytes: number }>(b.m.stdout);
    if (b && backup) {
      jsonBytes = backup.plaintextBytes;
      b.r.secrets = backup.secrets;
      b.r.jsonBytes = jsonBytes;
      b.r.notes.push(`${backup.segments} segments, ${formatBytes(backup.storedBytes)} stored; signed index, every segment read back`);
    }

    // 2. verify-restore (full drill)
    const readEnv = {
      ...baseEnv,
      SECRET_STEWARD_DECRYPTION_KEY: keys.priv,
      SECRET_STEWARD_DECRYPTION_KEY_PASSPHRASE_FILE: keys.pass,
      SECRET_STEWARD_TRUSTED_SIGNER_KEY: keys.pub,
    };
    if (backup && o.steps.has('verify-restore')) {
      const v = await ourStep(
        'verify-restore',
        ['verify-restore', '--backup', backup.backupId, '--drill-namespace', DRILL_NS, '--output', 'json'],
        { ...readEnv, KUBECONFIG: cluster.kubeconfig },
        o.profile,
        o.repeat,
      );
      const report = lastJson<{
        result: string;
        counts: { secretsVerified: number; secretsRestored: number };
        checks: Array<{ name: string; status: string; durationMs: number }>;
        rto?: { measuredMs: number; projectedFullRestoreMs: number };
      }>(v.m.stdout);
      if (report) {
        v.r.secrets = report.counts.secretsVerified;
        v.r.jsonBytes = jsonBytes;
        v.r.notes.push(
          `${report.result}: ${report.counts.secretsRestored} restored and compared; ${report.checks.map((c) => `${c.name} ${c.status} ${fmtMs(c.durationMs)}`).join(', ')}`,
        );
        if (report.rto)
          v.r.notes.push(
            `rto: measured ${fmtMs(report.rto.measuredMs)}, projected full restore ${fmtMs(report.rto.projectedFullRestoreMs)}`,
          );
      }
    }

    // 3./4. baseline
    const s3cmdConfig = join(work, 's3cmd.cfg');
    const target = `s3://${s3cmdTarget.bucket}/${s3cmdTarget.prefix ? `${s3cmdTarget.prefix.replace(/\/$/, '')}/` : ''}baseline/secrets.json.gpg`;
    if (o.baseline && baselineMissing.length === 0) {
      await writeS3cmdConfig(s3cmdConfig, s3cmdTarget);
      gpg = await setupGpg(work, keys.priv, keys.pass, kp.fingerprint);
      const runs: Array<Awaited<ReturnType<typeof runPipeline>>> = [];
      const serverCpu: number[] = [];
      for (let i = 0; i < o.repeat; i++) {
        log(`baseline backup${o.repeat > 1 ? ` (run ${i + 1} of ${o.repeat})` : ''}: kubectl get | gpg --encrypt --sign | s3cmd put...`);
        const stages = backupStages({ kubeconfig: cluster.kubeconfig, selector: `${BENCH_LABEL}=true`, gpg, s3cmdConfig, target });
        const run1 = await withServerCpu(serverCpu, () =>
          runPipeline(stages, { cwd: work, env: process.env, dir: work, time: '/usr/bin/time' }),
        );
        runs.push(run1);
        log(
          `baseline backup: ${run1.code === 0 ? 'ok' : `exit ${run1.code}`} in ${fmtMs(run1.wallMs)}; ${run1.stages.map((x) => `${x.name} ${fmtMB(x.maxRssBytes)}`).join(', ')}`,
        );
        if (run1.code !== 0) break;
      }
      // The median run by wall time stands for the step.
      const p = [...runs].sort((a, c) => a.wallMs - c.wallMs)[Math.floor((runs.length - 1) / 2)];
      const failedRun = runs.find((x) => x.code !== 0);
      const stored = s3 ? await servers.objectSize(target.replace(`s3://${s3.bucket}/`, '')) : undefined;
      const walls = runs.map((x) => x.wallMs);
      steps.push({
        step: 'baseline backup',
        ok: failedRun === undefined,
        wallMs: p.wallMs,
        secrets: mix.secrets,
        jsonBytes,
        peakRssBytes: pipelineRss(p.stages),
        cpuMs: p.stages.reduce((n, x) => n + x.userCpuMs + x.systemCpuMs, 0),
        serverCpuMs: median(serverCpu),
        stages: p.stages,
        notes: [
          `one OpenPGP message${stored ? `, ${formatBytes(stored)} stored` : ''}; not verified, not indexed`,
          ...(runs.length > 1 ? [`median of ${runs.length} runs: wall ${fmtMs(Math.min(...walls))} to ${fmtMs(Math.max(...walls))}`] : []),
        ],
        ...(runs.length > 1 ? { runs: runs.map((x) => ({ wallMs: x.wallMs, peakRssBytes: pipelineRss(x.stages) })) } : {}),
        ...(failedRun ? { error: failureOf(failedRun) } : {}),
      });
    }

    // 4. rotation (on the loaded cluster, before it is stopped)
    let rotation: RunResults['rotation'];
    if (o.rotate > 0) {
      const fx = rotationFixture(o.rotate, o.rotateNamespaces);
      log(`rotation: loading ${fx.secrets} due Secrets and ${fx.deployments} Deployments in ${fx.namespaces.length} namespaces...`);
      await loadObjects(cluster, fx.objects);
      if (cluster.emulated) await servers.clearRequests(cluster.emulated.name);
      const rot = await ourStep(
        'rotate',
        ['rotate', '--output', 'json', '--max-concurrent-rollouts', '20'],
        { ...baseEnv, KUBECONFIG: cluster.kubeconfig },
        false,
      );
      const report = lastJson<{ secrets: Array<{ action: string }>; workloads: Array<{ patched: boolean; state: string }> }>(rot.m.stdout);
      const rotated = report?.secrets.filter((s) => s.action === 'rotated').length ?? 0;
      const restarted = report?.workloads.filter((w) => w.patched).length ?? 0;
      rot.r.secrets = rotated;
      rot.r.ok = rot.r.ok && rotated === fx.secrets;
      rotation = { rotated, restartedWorkloads: restarted };
      if (cluster.emulated) {
        const requests = await servers.requestSummary(cluster.emulated.name);
        rotation.apiRequests = requests.count;
        rotation.perSecret = rotated ? requests.count / rotated : undefined;
        rotation.budget = 10 * rotated + 3 * restarted;
        rotation.byVerb = requests.byVerb;
      }
      rot.r.notes.push(
        `${rotated} rotated, ${restarted} Deployments restarted and verified` +
          (rotation.apiRequests !== undefined
            ? `; ${rotation.apiRequests} API requests (${rotation.perSecret?.toFixed(2)} per Secret; budget ${rotation.budget})`
            : '; API requests: needs the emulator'),
      );
    }

    // 5./6. restores, each into a fresh cluster. The loaded emulator is stopped first: at 50,000
    // Secrets two emulators' worth of objects would not fit the server process's heap.
    if (cluster.emulated) {
      await cluster.stop();
      cleanups.splice(cleanups.indexOf(stopMain), 1);
    }
    if (o.restore && (!o.kubeconfig || o.restoreKubeconfig)) {
      const freshCluster = async (name: string): Promise<Cluster> => {
        if (o.restoreKubeconfig) return { kubeconfig: resolve(o.restoreKubeconfig), stop: async () => {} };
        const c = await emulatorCluster(servers, name);
        await loadObjects(c, namespacesOf(o.namespaces));
        return c;
      };
      const restoredCount = async (c: Cluster) => (c.emulated ? await servers.countLabelled(c.emulated.name, BENCH_LABEL) : undefined);
      // Side by side, each repeated (--repeat) into a fresh cluster: the ratio of the medians.
      if (o.baseline && baselineMissing.length === 0 && gpg) {
        const runs: Array<Awaited<ReturnType<typeof runPipeline>> & { count?: number }> = [];
        const serverCpu: number[] = [];
        for (let i = 0; i < o.repeat; i++) {
          const fresh = await freshCluster('baseline-restore');
          log(
            `baseline restore${o.repeat > 1 ? ` (run ${i + 1} of ${o.repeat})` : ''}: s3cmd get | gpg --decrypt | jq | kubectl create...`,
          );
          const stages = restoreStages({ kubeconfig: fresh.kubeconfig, gpg, s3cmdConfig, target });
          const p = await withServerCpu(serverCpu, () =>
            runPipeline(stages, { cwd: work, env: process.env, dir: work, time: '/usr/bin/time' }),
          );
          runs.push({ ...p, count: await restoredCount(fresh) });
          log(
            `baseline restore: ${p.code === 0 ? 'ok' : `exit ${p.code}`} in ${fmtMs(p.wallMs)}, peak RSS ${fmtMB(pipelineRss(p.stages))}`,
          );
          await fresh.stop();
          if (p.code !== 0) break;
        }
        const byWall = [...runs].sort((a, c) => a.wallMs - c.wallMs);
        const p = byWall[Math.floor((byWall.length - 1) / 2)];
        const failed = runs.find((x) => x.code !== 0 || (x.count !== undefined && x.count !== mix.secrets));
        const count = p.count;
        const walls = runs.map((x) => x.wallMs);
        steps.push({
          step: 'baseline restore',
          ok: failed === undefined,
          wallMs: p.wallMs,
          secrets: count ?? mix.secrets,
          jsonBytes,
          peakRssBytes: pipelineRss(p.stages),
          cpuMs: p.stages.reduce((n, s) => n + s.userCpuMs + s.systemCpuMs, 0),
          serverCpuMs: median(serverCpu),
          stages: p.stages,
          notes: [
            `into a fresh cluster, namespaces pre-created${count !== undefined ? `; ${count} Secrets created` : ''}; nothing verified`,
            ...(runs.length > 1
              ? [`median of ${runs.length} runs: wall ${fmtMs(Math.min(...walls))} to ${fmtMs(Math.max(...walls))}`]
              : []),
          ],
          ...(runs.length > 1 ? { runs: runs.map((x) => ({ wallMs: x.wallMs, peakRssBytes: pipelineRss(x.stages) })) } : {}),
          ...(failed === undefined ? {} : { error: failed.code !== 0 ? failureOf(failed) : `${failed.count} Secrets created` }),
        });
      }
      if (backup) {
        let fresh: Cluster | undefined;
        const counts: Array<number | undefined> = [];
        const r = await ourStep('restore', ['restore', '--backup', backup.backupId, '--output', 'json'], readEnv, o.profile, o.repeat, {
          before: async () => {
            fresh = await freshCluster('restore');
            return { KUBECONFIG: fresh.kubeconfig };
          },
          after: async () => {
            counts.push(fresh && (await restoredCount(fresh)));
            await fresh?.stop();
            fresh = undefined;
          },
        });
        const count = counts[0];
        r.r.secrets = count ?? backup.secrets;
        r.r.jsonBytes = jsonBytes;
        r.r.ok = r.r.ok && counts.every((c) => c === undefined || c === mix.secrets);
        r.r.notes.push(
          `into a fresh cluster, namespaces pre-created${count !== undefined ? `; ${counts.join(', ')} Secrets created` : ''}; backup verified first; ` +
            `--restore-concurrency ${process.env.SECRET_STEWARD_RESTORE_CONCURRENCY ?? 'default'}`,
        );
      }
    }

    const results: RunResults = {
      at: new Date().toISOString(),
      machine: machine(),
      options: { ...o, steps: [...o.steps], out: undefined, workDir: undefined } as never,
      mix,
      loadMs,
      steps,
      rotation,
      targets: [],
      runtimes,
      servers: { mode: servers.mode, pid: servers.pid },
      ...(o.profile ? { profiles } : {}),
    };
    const previous = readPrevious(o.out);
    results.targets = judge(results, previous);
    process.stdout.write(renderResults(results));
    const key = runKey(o.secrets, o.runtime);
    await writeFile(o.out, `${JSON.stringify({ latest: key, runs: { ...previous, [key]: results } }, null, 2)}\n`);
    log(`results written to ${o.out}${o.workDir ? `; working files kept in ${work}` : ''}`);
    return steps.every((s) => s.ok) ? 0 : 1;
  } finally {
    await stopGpg(gpg);
    for (const c of cleanups.reverse()) await c().catch((e) => log(`cleanup: ${(e as Error).message}`));
    if (!o.workDir) await rm(work, { recursive: true, force: true });
  }
}

/** Results are kept per size and runtime: `10000`, `50000`, `10000-host`. */
function runKey(secrets: number, runtime: Options['runtime']): string {
  return runtime === 'pod' ? String(secrets) : `${secrets}-${runtime}`;
}

function readPrevious(file: string): Record<string, RunResults> {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { runs?: Record<string, RunResults> }).runs ?? {};
  } catch {
    return {};
  }
}

function judge(r: RunResults, previous: Record<string, RunResults>): Target[] {
  const step = (name: string) => r.steps.find((s) => s.step === name && s.ok);
  const targets: Target[] = [];
  const backup = step('backup');
  const baseline = step('baseline backup');
  if (backup && baseline) {
    const ratio = backup.wallMs / baseline.wallMs;
    targets.push({ name: 'backup wall time / baseline pipeline', value: ratio.toFixed(2), limit: '<= 1.00', met: ratio <= 1 });
  } else
    targets.push({ name: 'backup wall time / baseline pipeline', value: '-', limit: '<= 1.00', met: undefined, why: 'a step did not run' });
  for (const s of r.steps.filter((x) => !x.step.startsWith('baseline') && x.peakRssBytes !== undefined)) {
    if (r.options.secrets === 10_000)
      targets.push({
        name: `${s.step} peak RSS at 10,000 Secrets`,
        value: fmtMB(s.peakRssBytes),
        limit: '< 256 MiB',
        met: s.peakRssBytes! < 256 * MIB,
      });
  }
  const verify = step('verify-restore');
  if (backup && verify) {
    const ratio = verify.wallMs / backup.wallMs;
    targets.push({ name: 'verify-restore wall time / backup', value: ratio.toFixed(2), limit: '<= 1.20', met: ratio <= 1.2 });
  }
  const restore = step('restore');
  const baselineRestore = step('baseline restore');
  if (restore && baselineRestore) {
    const ratio = restore.secrets / restore.wallMs / (baselineRestore.secrets / baselineRestore.wallMs);
    targets.push({ name: 'restore throughput / baseline restore', value: `${ratio.toFixed(2)}x`, limit: '>= 2.00x', met: ratio >= 2 });
  }
  if (r.rotation?.apiRequests !== undefined) {
    targets.push({
      name: 'rotation API requests',
      value: `${r.rotation.apiRequests} (${r.rotation.perSecret?.toFixed(2)}/Secret)`,
      limit: `<= ${r.rotation.budget} (10/Secret + 3/restart)`,
      met: r.rotation.apiRequests <= r.rotation.budget!,
    });
  }
  const small = r.options.secrets === 10_000 ? r : previous[runKey(10_000, r.options.runtime)];
  for (const [size, label] of [
    [50_000, '50,000'],
    [100_000, '100,000'],
  ] as const) {
    const large = r.options.secrets === size ? r : previous[runKey(size, r.options.runtime)];
    if (size === 100_000 && large === undefined) continue; // the 100,000 scale run is occasional
    growthTargets(targets, small, large, label);
  }
  return targets;
}

function growthTargets(targets: Target[], small: RunResults | undefined, large: RunResults | undefined, label: string): void {
  for (const name of ['backup', 'verify-restore', 'restore']) {
    const a = small?.steps.find((s) => s.step === name)?.peakRssBytes;
    const c = large?.steps.find((s) => s.step === name)?.peakRssBytes;
    if (a !== undefined && c !== undefined) {
      const growth = c / a - 1;
      targets.push({
        name: `${name} peak RSS growth 10,000 -> ${label}`,
        value: `${(growth * 100).toFixed(1)}% (${fmtMB(a)} -> ${fmtMB(c)})`,
        limit: '< 10%',
        met: growth < 0.1,
      });
    } else
      targets.push({
        name: `${name} peak RSS growth 10,000 -> ${label}`,
        value: '-',
        limit: '< 10%',
        met: undefined,
        why: `needs runs at --secrets 10000 and ${label.replace(',', '')}`,
      });
  }
}

function renderResults(r: RunResults): string {
  const lines: string[] = [];
  const json = r.steps.find((s) => s.step === 'backup')?.jsonBytes ?? 0;
  lines.push(
    `secret-steward bench: ${r.mix.secrets.toLocaleString('en')} Secrets in ${r.mix.namespaces} namespaces, ${formatBytes(r.mix.dataBytes)} of data ` +
      `(${(json / MB).toFixed(1)} MB as JSON): ${r.mix.small} small, ${r.mix.helm} Helm releases of 20-400 KiB, ${r.mix.large} near 1 MiB; ` +
      `${r.mix.binaryValues} binary and ${r.mix.textValues} text values`,
  );
  lines.push(
    `machine: ${Object.entries(r.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  const flags = new Map<string, string[]>();
  for (const [step, f] of Object.entries(r.runtimes ?? {})) {
    const key = f.join(' ');
    flags.set(key, [...(flags.get(key) ?? []), step]);
  }
  lines.push(
    `runtime: ${r.options.runtime === 'pod' ? "each command with its pod's heap configuration (manifest NODE_OPTIONS, MALLOC_* and memory limit)" : "V8's defaults for this machine"}: ` +
      [...flags].map(([f, steps]) => `${steps.join(', ')}: ${f}`).join('; '),
  );
  if (r.servers)
    lines.push(
      r.servers.mode === 'process'
        ? `servers: the emulator and s3rver in a process of their own (pid ${r.servers.pid}); SERVERS CPU is its CPU time during each step and its share of the step's wall time`
        : `servers: the emulator and s3rver in the driver's process (--servers in-process); SERVERS CPU is the driver's CPU time during each step`,
    );
  if (r.options.apiLatencyMs > 0)
    lines.push(`API latency: the emulators answered every request ${r.options.apiLatencyMs} ms late (--api-latency), both restores alike`);
  lines.push('');
  const rows = r.steps.map((s) => [
    s.step,
    s.ok ? 'ok' : 'FAILED',
    fmtMs(s.wallMs),
    s.secrets ? Math.round(s.secrets / (s.wallMs / 1000)).toLocaleString('en') : '-',
    s.jsonBytes ? (s.jsonBytes / MB / (s.wallMs / 1000)).toFixed(1) : '-',
    fmtMB(s.peakRssBytes),
    s.cpuMs !== undefined ? fmtMs(s.cpuMs) : '-',
    s.serverCpuMs !== undefined ? `${fmtMs(s.serverCpuMs)} (${Math.round((s.serverCpuMs / s.wallMs) * 100)}%)` : '-',
    s.stages
      ? s.stages.map((x) => `${x.name} ${fmtMB(x.maxRssBytes)}`).join(', ')
      : s.heap
        ? `heap ${fmtMB(s.heap.heapUsed)}, external ${fmtMB(s.heap.external)}`
        : '',
  ]);
  lines.push(
    renderTable(['STEP', 'RESULT', 'WALL', 'SECRETS/S', 'MB/S', 'PEAK RSS', 'CPU', 'SERVERS CPU', 'PROCESSES / HEAP'], rows).trimEnd(),
  );
  lines.push('');
  for (const s of r.steps) {
    for (const n of s.notes) lines.push(`  ${s.step}: ${n}`);
    if (s.error) lines.push(`  ${s.step}: ERROR ${s.error}`);
  }
  lines.push('');
  lines.push('Targets:');
  lines.push(
    renderTable(
      ['TARGET', 'VALUE', 'LIMIT', 'MET'],
      r.targets.map((t) => [t.name, t.value, t.limit, t.met === undefined ? `n/a (${t.why})` : t.met ? 'yes' : 'NO']),
    ).trimEnd(),
  );
  if (r.profiles && Object.keys(r.profiles).length > 0) {
    for (const [step, p] of Object.entries(r.profiles)) {
      lines.push('');
      lines.push(`CPU profile of ${step} (${fmtMs(p.totalMs)} sampled), self time by module:`);
      lines.push(
        renderTable(
          ['MODULE', 'SELF', 'SHARE'],
          p.modules.map((m) => [m.module, fmtMs(m.selfMs), `${(m.share * 100).toFixed(1)}%`]),
        ).trimEnd(),
      );
      lines.push('top functions:');
      lines.push(
        renderTable(
          ['FUNCTION', 'WHERE', 'SELF', 'SHARE'],
          p.functions.map((f) => [f.name, f.where, fmtMs(f.selfMs), `${(f.share * 100).toFixed(1)}%`]),
        ).trimEnd(),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The emulators hold every Secret (at 50,000: about 2 GiB each while a restore target fills up).
 * V8's default heap limit (4 GiB here) is too small for that: the server process gets a larger
 * one (up to 60% of the machine's memory).
 */
function serverHeapMiB(secrets: number): number | undefined {
  const wantMiB = Math.min(Math.floor((totalmem() * 0.6) / MIB), 4096 + Math.ceil(secrets / 1000) * 160);
  return secrets > 20_000 ? wantMiB : undefined;
}

/** With --servers in-process the emulators live in this process: large runs restart it with {@link serverHeapMiB}. */
async function withHeapFor(argv: string[]): Promise<number | undefined> {
  if (!/--servers[= ]in-process\b/.test(argv.join(' '))) return undefined;
  const secrets = Number((/--secrets[= ](\S+)/.exec(argv.join(' '))?.[1] ?? '10000').replace(/[_,]/g, ''));
  const wantMiB = serverHeapMiB(secrets);
  if (wantMiB === undefined || getHeapStatistics().heap_size_limit / MIB >= wantMiB || process.env.SS_BENCH_REEXEC) return undefined;
  log(`restarting the driver with --max-old-space-size=${wantMiB} for ${secrets} Secrets`);
  const r = await new Promise<number | null>((resolveExit) => {
    const child = spawn(process.execPath, [...process.execArgv, `--max-old-space-size=${wantMiB}`, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, SS_BENCH_REEXEC: '1' },
    });
    child.once('exit', (code) => resolveExit(code));
  });
  return r ?? 1;
}

process.exitCode = (await withHeapFor(process.argv.slice(2))) ?? (await main());
