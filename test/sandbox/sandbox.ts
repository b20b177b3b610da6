/**
 * The embedded sandbox: a Kubernetes API emulator and a real S3 server (s3rver) on loopback,
 * with an admin kubeconfig, a shell-sourceable env file and a demo OpenPGP key pair, so that
 * anyone can try `kubectl` and `secret-steward` without a cluster or an object store. Used by
 * `npm run sandbox`, the `npm start` demo and the benchmarks.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../shared/crypto/keygen.js';
import { type EmulatorOptions, KubeEmulator } from '../emulator/index.js';
import { type S3TestServer, startS3Server } from '../support/s3-server.js';

export interface SandboxOptions {
  /** Where kubeconfig, env and keys/ are written (created if missing). */
  dir: string;
  /** Fixed ports (0 or absent: ephemeral). */
  kubePort?: number;
  emulator?: EmulatorOptions;
  /** Store prefix inside the sandbox bucket (`sandbox-store`). @default none */
  storePrefix?: string;
  clusterName?: string;
}

export interface SandboxKeys {
  publicKey: string;
  privateKey: string;
  passphraseFile: string;
  fingerprint: string;
}

export interface Sandbox {
  dir: string;
  emulator: KubeEmulator;
  s3: S3TestServer;
  kubeconfig: string;
  envFile: string;
  keys: SandboxKeys;
  clusterName: string;
  /** Environment a command needs to use the sandbox (what `DIR/env` exports). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Namespaces every sandbox starts with: the tool's own and the drill namespace. */
export const SANDBOX_NAMESPACES = ['secret-steward', 'secret-steward-drill'] as const;

export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  const dir = resolve(o.dir);
  await mkdir(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const emulator = await KubeEmulator.start({ port: o.kubePort, ...o.emulator });
  // Jobs (secret-steward run, kubectl create job) run this repository's CLI as their pods.
  emulator.jobs.enable({ repoRoot: fileURLToPath(new URL('../../', import.meta.url)) });
  const s3 = await startS3Server({ bucket: 'sandbox-store' });
  const clusterName = o.clusterName ?? 'sandbox';
  await emulator.applyObjects(SANDBOX_NAMESPACES.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));

  const kubeconfig = join(dir, 'kubeconfig');
  await emulator.writeKubeconfig(kubeconfig);

  // A demo key pair: an obvious throwaway, generated fresh for every sandbox.
  const passphrase = 'sandbox-demo-passphrase-not-secret';
  const kp = await generateKeyPair({ name: 'secret-steward sandbox demo', email: 'demo@sandbox.invalid', passphrase, type: 'ecc' });
  const keys: SandboxKeys = {
    publicKey: join(dir, 'keys', 'demo.public.asc'),
    privateKey: join(dir, 'keys', 'demo.private.asc'),
    passphraseFile: join(dir, 'keys', 'demo.passphrase'),
    fingerprint: kp.fingerprint,
  };
  await writeFile(keys.publicKey, kp.publicKey);
  await writeFile(keys.privateKey, kp.privateKey, { mode: 0o600 });
  await writeFile(keys.passphraseFile, `${passphrase}\n`, { mode: 0o600 });
  // The restore job's own key: pre-restore backups are sealed with it, never with the backup key.
  const pre = await generateKeyPair({
    name: 'secret-steward sandbox pre-restore',
    email: 'pre-restore@sandbox.invalid',
    passphrase,
    type: 'ecc',
  });
  const preRestore = { publicKey: join(dir, 'keys', 'pre-restore.public.asc'), privateKey: join(dir, 'keys', 'pre-restore.private.asc') };
  await writeFile(preRestore.publicKey, pre.publicKey);
  await writeFile(preRestore.privateKey, pre.privateKey, { mode: 0o600 });

  const env: Record<string, string> = {
    KUBECONFIG: kubeconfig,
    ...s3.env,
    SECRET_STEWARD_STORE: s3.storeUrl(o.storePrefix ?? ''),
    SECRET_STEWARD_S3_ENDPOINT: s3.endpoint,
    SECRET_STEWARD_S3_FORCE_PATH_STYLE: 'true',
    SECRET_STEWARD_CLUSTER_NAME: clusterName,
    SECRET_STEWARD_LOCK_NAMESPACE: 'secret-steward',
    SECRET_STEWARD_RECIPIENT_KEY: keys.publicKey,
    SECRET_STEWARD_SIGNING_KEY: keys.privateKey,
    SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE: keys.passphraseFile,
    SECRET_STEWARD_DECRYPTION_KEY: keys.privateKey,
    SECRET_STEWARD_DECRYPTION_KEY_PASSPHRASE_FILE: keys.passphraseFile,
    SECRET_STEWARD_TRUSTED_SIGNER_KEY: keys.publicKey,
    SECRET_STEWARD_PRE_RESTORE_SIGNING_KEY: preRestore.privateKey,
    SECRET_STEWARD_PRE_RESTORE_SIGNING_KEY_PASSPHRASE_FILE: keys.passphraseFile,
    SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY: preRestore.publicKey,
    // The demo drill signs its report with the demo key.
    SECRET_STEWARD_REPORT_SIGNING_KEY: keys.privateKey,
    SECRET_STEWARD_REPORT_SIGNING_KEY_PASSPHRASE_FILE: keys.passphraseFile,
    SECRET_STEWARD_DRILL_SIGNER_KEY: keys.publicKey,
    SECRET_STEWARD_DRILL_NAMESPACE: 'secret-steward-drill',
  };
  const envFile = join(dir, 'env');
  await writeFile(
    envFile,
    `# secret-steward sandbox: source this file (. ${envFile}) to point kubectl and secret-steward at it.\n` +
      Object.entries(env)
        .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
        .join('\n') +
      '\n',
    { mode: 0o600 },
  );
  return {
    dir,
    emulator,
    s3,
    kubeconfig,
    envFile,
    keys,
    clusterName,
    env,
    stop: async () => {
      await emulator.stop();
      await s3.stop();
    },
  };
}

function shellQuote(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
