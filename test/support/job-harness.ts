/**
 * End-to-end harness for job tests: a Kubernetes API emulator, a real S3 server (s3rver, or a
 * bucket on the shared Ceph RGW with `{ s3: 'rgw' }`), test OpenPGP keys on disk, and a way to
 * run any command through the same `runCommand` path the CLI and CronJobs use, capturing
 * stdout, stderr and log lines.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../shared/crypto/keygen.js';
import type { ExitCodeValue } from '../../shared/errors/exit-codes.js';
import { MemorySink } from '../../shared/log/index.js';
import type { Clock } from '../../shared/runtime/clock.js';
import type { Command } from '../../shared/runtime/command.js';
import type { Shutdown } from '../../shared/runtime/shutdown.js';
import { type EmulatorOptions, KubeEmulator } from '../emulator/index.js';
import { type S3ServerKind, type S3ServerOptions, type S3TestServer, startS3Server } from './s3-server.js';

/** Files of one test key pair. The passphrase is an obvious test value. */
export interface TestKeyFiles {
  fingerprint: string;
  publicKey: string;
  privateKey: string;
  passphraseFile: string;
  passphrase: string;
}

/**
 * Writes a fresh ECC key pair (GnuPG-compatible) into `dir`. `passphrase`: another key's, for a
 * command given both keys with one passphrase file (e.g. the old and the new decryption key).
 */
export async function writeTestKeyPair(
  dir: string,
  name: string,
  opts: { expiresInSeconds?: number; now?: Date; passphrase?: string } = {},
): Promise<TestKeyFiles> {
  const { passphrase = `test-only-passphrase-${name}`, ...keyOpts } = opts;
  const kp = await generateKeyPair({ name: `test ${name}`, email: `${name}@test.invalid`, passphrase, type: 'ecc', ...keyOpts });
  const files = {
    fingerprint: kp.fingerprint,
    publicKey: join(dir, `${name}.public.asc`),
    privateKey: join(dir, `${name}.private.asc`),
    passphraseFile: join(dir, `${name}.passphrase`),
    passphrase,
  };
  await writeFile(files.publicKey, kp.publicKey);
  await writeFile(files.privateKey, kp.privateKey, { mode: 0o600 });
  await writeFile(files.passphraseFile, `${passphrase}\n`, { mode: 0o600 });
  return files;
}

export interface RunResult {
  code: ExitCodeValue;
  stdout: string;
  stderr: string;
  logs: MemorySink;
  /** Parsed log records. */
  records: Array<Record<string, unknown>>;
}

export interface Harness {
  emulator: KubeEmulator;
  s3: S3TestServer;
  dir: string;
  kubeconfig: string;
  recipient: TestKeyFiles;
  /** The backup job's signing key (scheduled backups). */
  signer: TestKeyFiles;
  /** The restore job's own signing key (pre-restore backups). */
  preRestoreSigner: TestKeyFiles;
  /** verify-restore's drill report signing key. */
  drillSigner: TestKeyFiles;
  /** UID of the emulator's kube-system namespace: what backup seals as this cluster's identity. */
  clusterUid: string;
  /** Env for commands: AWS credentials of the S3 server. */
  env: Record<string, string>;
  /** Runs a command in-process like the CLI would. */
  run<S extends object>(
    cmd: Command<S & never> | Command<any>,
    args: string[],
    opts?: { env?: Record<string, string>; clock?: Clock; shutdown?: Shutdown; stderrIsTTY?: boolean },
  ): Promise<RunResult>;
  /** Common arguments: kubeconfig, store, cluster name, lock namespace. */
  baseArgs(prefix?: string): string[];
  /** The backup job's signing key arguments (every backup is signed and sealed). */
  signingArgs(): string[];
  stop(): Promise<void>;
}

export async function startHarness(
  opts: {
    emulator?: EmulatorOptions;
    keys?: boolean;
    /** Which S3 server the jobs use (call `requireS3Server` first for `rgw`). @default 's3rver' */
    s3?: S3ServerKind;
    /** The bucket's kind on RGW (versioned, Object Lock). */
    bucketOptions?: S3ServerOptions['bucketOptions'];
  } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'ss-harness-'));
  const emulator = await KubeEmulator.start({ rolloutDelayMs: 5, ...opts.emulator });
  const s3 = await startS3Server({ server: opts.s3, bucketOptions: opts.bucketOptions });
  const kubeconfig = join(dir, 'kubeconfig');
  await emulator.writeKubeconfig(kubeconfig);
  await emulator.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'secret-steward' } }]);
  const recipient = await writeTestKeyPair(dir, 'recipient');
  const signer = await writeTestKeyPair(dir, 'signer');
  const preRestoreSigner = await writeTestKeyPair(dir, 'pre-restore-signer');
  const drillSigner = await writeTestKeyPair(dir, 'drill-signer');
  const clusterUid = emulator.get('v1', 'Namespace', undefined, 'kube-system')?.metadata.uid as string;
  const env = { ...s3.env };
  // The AWS SDK's default credential chain reads process.env, not the command's env.
  Object.assign(process.env, s3.env);
  return {
    emulator,
    s3,
    dir,
    kubeconfig,
    recipient,
    signer,
    preRestoreSigner,
    drillSigner,
    clusterUid,
    env,
    signingArgs: () => ['--signing-key', signer.privateKey, '--signing-key-passphrase-file', signer.passphraseFile],
    baseArgs: (prefix = 'bk') => [
      '--kubeconfig',
      kubeconfig,
      ...s3.args(prefix),
      '--cluster-name',
      'test-cluster',
      '--lock-namespace',
      'secret-steward',
    ],
    async run(cmd, args, o = {}) {
      const { runCommand } = await import('../../shared/runtime/command.js');
      const logs = new MemorySink();
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCommand(cmd as Command<any>, args, {
        env: { PATH: process.env.PATH, HOME: dir, POD_NAME: 'test-pod', ...env, ...o.env },
        stdout: { write: (t: string) => out.push(t) },
        stderr: { write: (t: string) => err.push(t) },
        logSink: logs,
        handleSignals: false,
        clock: o.clock,
        shutdown: o.shutdown,
        stderrIsTTY: o.stderrIsTTY,
      });
      return { code, stdout: out.join(''), stderr: err.join(''), logs, records: logs.records() };
    },
    async stop() {
      await emulator.stop();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
