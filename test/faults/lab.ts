/**
 * The fault lab: what every case of the matrix shares (one s3rver, the OpenPGP key files, a
 * scratch TMPDIR that jobs write their temporary files to) and the world of one case (a fresh
 * Kubernetes emulator, a fresh S3 fault proxy in front of the same s3rver with its bucket reset
 * to a template, and ONE RequestSequence numbering the requests of both servers), plus the two
 * ways of running a job in it: in-process through `runCommand` exactly like the CLI, or as a
 * real child process (`node --import tsx jobs/<job>.ts`) that can be sent real signals.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MemorySink, redactor } from '../../shared/log/index.js';
import { type Command, runCommand } from '../../shared/runtime/command.js';
import { Shutdown } from '../../shared/runtime/shutdown.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import { KubeEmulator, RequestSequence } from '../emulator/index.js';
import { type TestKeyFiles, writeTestKeyPair } from '../support/job-harness.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { type S3TestServer, startS3Server } from '../support/s3-server.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLUSTER = 'fault-cluster';
export const LOCK_NAMESPACE = 'secret-steward';
/** Store prefix of every scenario: `s3://<bucket>/faults`. */
export const STORE_PREFIX = 'faults';

/** How a job run ended and what it printed. `code` is null when the process was killed. */
export interface JobRun {
  code: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** JSON log lines (in-process: the log sink; child: stderr holds them). */
  logLines: string[];
  /** The run did not end within its time limit (it was stopped). */
  timedOut: boolean;
  durationMs: number;
}

/** A job started as a child process. */
export interface ChildJob {
  child: ChildProcess;
  done: Promise<JobRun>;
  /** Resolves once a stderr line matches (or after `timeoutMs`, false). */
  waitForStderr(pattern: RegExp, timeoutMs: number): Promise<boolean>;
}

export class FaultLab {
  private cases = 0;
  private readonly savedTmpdir: string | undefined;

  private constructor(
    /** Scratch directory of this matrix run. */
    readonly root: string,
    /** TMPDIR of every job run (in-process and children): the canary scan reads it. */
    readonly tmp: string,
    readonly s3: S3TestServer,
    readonly recipient: TestKeyFiles,
    readonly signer: TestKeyFiles,
    /** Node's compile cache for children (outside `tmp`, so it is not scanned and survives runs). */
    private readonly compileCache: string,
  ) {
    this.savedTmpdir = process.env.TMPDIR;
  }

  static async start(): Promise<FaultLab> {
    const base = tmpdir();
    const root = mkdtempSync(join(base, 'ss-faults-'));
    const tmp = join(root, 'tmp');
    await mkdir(tmp, { recursive: true });
    const s3 = await startS3Server({ dir: join(root, 's3') });
    const keys = join(root, 'keys');
    await mkdir(keys);
    const recipient = await writeTestKeyPair(keys, 'recipient');
    const signer = await writeTestKeyPair(keys, 'signer');
    // The AWS SDK's default credential chain reads process.env; in-process jobs write temporary
    // files (if any) to os.tmpdir(), which follows TMPDIR.
    Object.assign(process.env, s3.env);
    const lab = new FaultLab(root, tmp, s3, recipient, signer, join(base, 'secret-steward-faults-compile-cache'));
    process.env.TMPDIR = tmp;
    return lab;
  }

  /** The bucket's directory in s3rver's store (s3rver reads it on every request). */
  get bucketDir(): string {
    if (this.s3.dir === undefined) throw new Error('the fault lab runs s3rver, whose bucket is a directory');
    return join(this.s3.dir, this.s3.bucket);
  }

  /** Copies the bucket as it is now, to start cases from it (see {@link openCase}). */
  async saveBucket(name: string): Promise<string> {
    const dir = join(this.root, 'templates', name);
    await rm(dir, { recursive: true, force: true });
    await cp(this.bucketDir, dir, { recursive: true });
    return dir;
  }

  /** A fresh world: new emulator and proxy, a new request sequence, the bucket reset to `bucketTemplate` (or emptied). */
  async openCase(bucketTemplate?: string): Promise<CaseWorld> {
    await rm(this.bucketDir, { recursive: true, force: true });
    if (bucketTemplate === undefined) await mkdir(this.bucketDir, { recursive: true });
    else await cp(bucketTemplate, this.bucketDir, { recursive: true });
    const dir = join(this.root, 'cases', String(++this.cases));
    await mkdir(dir, { recursive: true });
    const sequence = new RequestSequence();
    const emulator = await KubeEmulator.start({ rolloutDelayMs: 5 });
    emulator.faults.useSequence(sequence);
    const proxy = await S3FaultProxy.start(this.s3.directEndpoint);
    proxy.useSequence(sequence);
    const kubeconfig = join(dir, 'kubeconfig');
    await emulator.writeKubeconfig(kubeconfig);
    await emulator.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: LOCK_NAMESPACE } }]);
    return new CaseWorld(this, dir, sequence, emulator, proxy, kubeconfig, this.compileCache);
  }

  async stop(): Promise<void> {
    if (this.savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = this.savedTmpdir;
    await this.s3.stop();
    await rm(this.root, { recursive: true, force: true });
  }
}

export class CaseWorld {
  constructor(
    readonly lab: FaultLab,
    /** This case's own directory (HOME of its jobs, kubeconfig). */
    readonly dir: string,
    readonly sequence: RequestSequence,
    readonly emulator: KubeEmulator,
    readonly proxy: S3FaultProxy,
    readonly kubeconfig: string,
    private readonly compileCache: string,
  ) {}

  /** Flags every command needs: kubeconfig, store through the fault proxy, cluster, lock namespace. */
  baseArgs(): string[] {
    return [
      '--kubeconfig',
      this.kubeconfig,
      '--store',
      this.lab.s3.storeUrl(STORE_PREFIX),
      '--s3-endpoint',
      this.proxy.endpoint,
      '--s3-force-path-style',
      '--cluster-name',
      CLUSTER,
      '--lock-namespace',
      LOCK_NAMESPACE,
    ];
  }

  /** The store as the invariant checks read it: straight to s3rver, no faults, not recorded. */
  directStore(): ObjectStore {
    return createObjectStore(this.lab.s3.settings(STORE_PREFIX), { credentials: this.lab.s3.credentials });
  }

  /** Environment of a job run. */
  jobEnv(identity: string): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      HOME: this.dir,
      POD_NAME: identity,
      TMPDIR: this.lab.tmp,
      ...this.lab.s3.env,
    };
  }

  /**
   * Runs a command in this process like the CLI would. The redactor is emptied first, so the
   * run knows only what a fresh process would. After `timeoutMs` the run is asked to stop
   * (as by SIGTERM); if it still has not ended 15 s later it is abandoned (`code` null).
   */
  async runInProcess(command: Command<any>, args: string[], opts: { identity: string; timeoutMs: number }): Promise<JobRun> {
    redactor.clear();
    const logs = new MemorySink();
    const out: string[] = [];
    const err: string[] = [];
    const shutdown = new Shutdown();
    const started = Date.now();
    let timedOut = false;
    const soft = setTimeout(() => {
      timedOut = true;
      shutdown.request('the fault matrix stopped a run that took too long');
    }, opts.timeoutMs);
    let hard: NodeJS.Timeout | undefined;
    const abandoned = new Promise<null>((resolve) => (hard = setTimeout(() => resolve(null), opts.timeoutMs + 15_000)));
    const code = await Promise.race([
      runCommand(command, args, {
        env: this.jobEnv(opts.identity),
        stdout: { write: (t: string) => out.push(t) },
        stderr: { write: (t: string) => err.push(t) },
        logSink: logs,
        handleSignals: false,
        shutdown,
      }),
      abandoned,
    ]);
    clearTimeout(soft);
    clearTimeout(hard);
    return { code, stdout: out.join(''), stderr: err.join(''), logLines: [...logs.lines], timedOut, durationMs: Date.now() - started };
  }

  /** Starts `node --import tsx <script> <args>` (a job entrypoint) as a child process. */
  spawnJob(script: string, args: string[], opts: { identity: string; timeoutMs: number }): ChildJob {
    const node = join(REPO, 'node_modules', '.bin', 'node');
    const started = Date.now();
    const child = spawn(node, ['--openssl-legacy-provider', '--import', 'tsx', join(REPO, script), ...args], {
      cwd: REPO,
      env: { ...this.jobEnv(opts.identity), NODE_COMPILE_CACHE: this.compileCache },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const waiters: Array<{ pattern: RegExp; resolve: (ok: boolean) => void }> = [];
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => {
      stderr += d;
      for (const w of [...waiters]) {
        if (w.pattern.test(stderr)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(true);
        }
      }
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const done = new Promise<JobRun>((resolve) =>
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        for (const w of waiters.splice(0)) w.resolve(false);
        // Let the pipes deliver what the child wrote last.
        setImmediate(() =>
          resolve({
            code,
            signal,
            stdout,
            stderr,
            logLines: stderr.split('\n').filter((l) => l.startsWith('{')),
            timedOut,
            durationMs: Date.now() - started,
          }),
        );
      }),
    );
    return {
      child,
      done,
      waitForStderr: (pattern, timeoutMs) =>
        new Promise<boolean>((resolve) => {
          if (pattern.test(stderr)) return resolve(true);
          if (child.exitCode !== null || child.signalCode !== null) return resolve(false);
          const waiter = { pattern, resolve };
          waiters.push(waiter);
          setTimeout(() => {
            const at = waiters.indexOf(waiter);
            if (at >= 0) waiters.splice(at, 1);
            resolve(false);
          }, timeoutMs);
        }),
    };
  }

  async close(): Promise<void> {
    await this.emulator.stop();
    await this.proxy.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
