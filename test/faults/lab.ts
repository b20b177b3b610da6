/**
 * The fault lab: what every case of the matrix shares (one S3 server, s3rver or Ceph RGW; the
 * OpenPGP key files; a scratch TMPDIR that jobs write their temporary files to) and the world
 * of one case (a fresh Kubernetes emulator, a fresh S3 fault proxy in front of the same S3
 * server with its bucket reset to a template, and ONE RequestSequence numbering the requests
 * of both servers), plus the two ways of running a job in it: in-process through `runCommand`
 * exactly like the CLI, or as a real child process (`node --import tsx jobs/<job>.ts`) that can
 * be sent real signals.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { MemorySink, redactor } from '../../shared/log/index.js';
import { type Command, runCommand } from '../../shared/runtime/command.js';
import { Shutdown } from '../../shared/runtime/shutdown.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import { KubeEmulator, RequestSequence } from '../emulator/index.js';
import { type TestKeyFiles, writeTestKeyPair } from '../support/job-harness.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { emptyBucket, type S3ServerKind, type S3TestServer, startS3Server } from '../support/s3-server.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLUSTER = 'fault-cluster';
export const LOCK_NAMESPACE = 'secret-steward';
/** Store prefix of every scenario: `s3://<bucket>/faults`. */
export const STORE_PREFIX = 'faults';
/**
 * Longest a run may take before the matrix stops it as hung. A hang detector, not a speed
 * limit: far above what a busy machine makes of a run (rotations wait up to 20 s for a rollout).
 */
export const RUN_TIMEOUT_MS = 300_000;

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

/**
 * What the store holds, as the canary scan reads it: each object's bytes and metadata, named.
 * `pgpKey` is set for an object whose key claims an OpenPGP message (`.pgp`): its bytes are
 * checked to be one instead of scanned.
 */
export interface StoredFile {
  name: string;
  bytes: Buffer;
  pgpKey?: string;
}

/** One object of a saved bucket (RGW templates are kept in memory: a few small objects). */
interface SavedObject {
  key: string;
  bytes: Buffer;
  contentType?: string;
  metadata?: Record<string, string>;
}

/** s3rver's file for an object's bytes is `<key>._S3rver_object` (metadata beside it). */
const S3RVER_OBJECT_SUFFIX = '._S3rver_object';

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
  /** RGW bucket templates by name. */
  private readonly templates = new Map<string, SavedObject[]>();

  private constructor(
    /** Scratch directory of this matrix run. */
    readonly root: string,
    /** TMPDIR of every job run (in-process and children): the canary scan reads it. */
    readonly tmp: string,
    readonly s3: S3TestServer,
    readonly recipient: TestKeyFiles,
    readonly signer: TestKeyFiles,
    /** The restore job's own key: pre-restore backups are sealed with it. */
    readonly preRestoreSigner: TestKeyFiles,
    /** Node's compile cache for children (outside `tmp`, so it is not scanned and survives runs). */
    private readonly compileCache: string,
  ) {
    this.savedTmpdir = process.env.TMPDIR;
  }

  /** `server`: the S3 server of every case (RGW: a bucket on this process's shared cluster). @default 's3rver' */
  static async start(opts: { server?: S3ServerKind } = {}): Promise<FaultLab> {
    const base = tmpdir();
    const root = mkdtempSync(join(base, 'ss-faults-'));
    const tmp = join(root, 'tmp');
    await mkdir(tmp, { recursive: true });
    const s3 =
      opts.server === 'rgw'
        ? await startS3Server({ server: 'rgw', bucket: `faults-${process.pid}` })
        : await startS3Server({ dir: join(root, 's3') });
    const keys = join(root, 'keys');
    await mkdir(keys);
    const recipient = await writeTestKeyPair(keys, 'recipient');
    const signer = await writeTestKeyPair(keys, 'signer');
    const preRestoreSigner = await writeTestKeyPair(keys, 'pre-restore-signer');
    // The AWS SDK's default credential chain reads process.env; in-process jobs write temporary
    // files (if any) to os.tmpdir(), which follows TMPDIR.
    Object.assign(process.env, s3.env);
    const lab = new FaultLab(root, tmp, s3, recipient, signer, preRestoreSigner, join(base, 'secret-steward-faults-compile-cache'));
    process.env.TMPDIR = tmp;
    return lab;
  }

  /** Which S3 server the cases run against. */
  get server(): S3ServerKind {
    return this.s3.kind;
  }

  /** s3rver: the bucket's directory in its store (s3rver reads it on every request); undefined for RGW. */
  get bucketDir(): string | undefined {
    return this.s3.dir === undefined ? undefined : join(this.s3.dir, this.s3.bucket);
  }

  /**
   * Saves the bucket as it is now, to start cases from it (see {@link openCase}); returns the
   * template's name. s3rver: a copy of its directory; RGW: the objects, read into memory.
   */
  async saveBucket(name: string): Promise<string> {
    const bucketDir = this.bucketDir;
    if (bucketDir === undefined) {
      const objects: SavedObject[] = [];
      for (const key of await this.keys()) {
        const r = await this.s3.client.send(new GetObjectCommand({ Bucket: this.s3.bucket, Key: key }));
        objects.push({ key, bytes: Buffer.from(await r.Body!.transformToByteArray()), contentType: r.ContentType, metadata: r.Metadata });
      }
      this.templates.set(name, objects);
      return name;
    }
    const dir = join(this.root, 'templates', name);
    await rm(dir, { recursive: true, force: true });
    await cp(bucketDir, dir, { recursive: true });
    return dir;
  }

  /** Every key in the bucket (RGW), straight from the server. */
  private async keys(): Promise<string[]> {
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const r = await this.s3.client.send(new ListObjectsV2Command({ Bucket: this.s3.bucket, ContinuationToken }));
      for (const o of r.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
    return keys;
  }

  /** Empties the bucket (objects and open multipart uploads) and fills it from a template. */
  private async resetBucket(template: string | undefined): Promise<void> {
    const bucketDir = this.bucketDir;
    if (bucketDir !== undefined) {
      await rm(bucketDir, { recursive: true, force: true });
      if (template === undefined) await mkdir(bucketDir, { recursive: true });
      else await cp(template, bucketDir, { recursive: true });
      return;
    }
    await emptyBucket(this.s3.client, this.s3.bucket);
    for (const o of template === undefined ? [] : (this.templates.get(template) ?? [])) {
      await this.s3.client.send(
        new PutObjectCommand({ Bucket: this.s3.bucket, Key: o.key, Body: o.bytes, ContentType: o.contentType, Metadata: o.metadata }),
      );
    }
  }

  /** What the store holds, for the canary scan: s3rver's files as they are on disk; RGW's objects and their metadata. */
  async storedFiles(): Promise<StoredFile[]> {
    const bucketDir = this.bucketDir;
    if (bucketDir !== undefined) {
      return walk(bucketDir).map((f) => {
        const name = relative(bucketDir, f);
        const key = name.endsWith(S3RVER_OBJECT_SUFFIX) ? name.slice(0, -S3RVER_OBJECT_SUFFIX.length) : undefined;
        return { name, bytes: readFileSync(f), ...(key?.endsWith('.pgp') ? { pgpKey: key } : {}) };
      });
    }
    const files: StoredFile[] = [];
    for (const key of await this.keys()) {
      const r = await this.s3.client.send(new GetObjectCommand({ Bucket: this.s3.bucket, Key: key }));
      files.push({ name: key, bytes: Buffer.from(await r.Body!.transformToByteArray()), ...(key.endsWith('.pgp') ? { pgpKey: key } : {}) });
      const head = await this.s3.client.send(new HeadObjectCommand({ Bucket: this.s3.bucket, Key: key }));
      files.push({
        name: `${key} (metadata)`,
        bytes: Buffer.from(JSON.stringify({ contentType: head.ContentType, metadata: head.Metadata })),
      });
    }
    return files;
  }

  /** A fresh world: new emulator and proxy, a new request sequence, the bucket reset to `bucketTemplate` (or emptied). */
  async openCase(bucketTemplate?: string): Promise<CaseWorld> {
    await this.resetBucket(bucketTemplate);
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

/** Every file below `dir` (none when it does not exist). */
export function walk(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
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

  /** The store as the invariant checks read it: straight to the S3 server, no faults, not recorded. */
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
