/**
 * The baseline: what a user scripts today without secret-steward, run against the same
 * servers as our commands.
 *
 *   backup:  kubectl get secrets -A -o json | gpg --encrypt --sign | s3cmd put - s3://...
 *   restore: s3cmd get s3://... - | gpg --decrypt | jq <strip server fields> | kubectl create -f -
 *
 * s3cmd comes from Debian (installed here when missing); GNU time measures each stage.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type StageFigures, sh } from './measure.js';

const exec = promisify(execFile);

/** Makes sure a Debian package's binary is there (apt-get install when missing); undefined when it is, else why it is not. */
export async function ensureDebianTool(binary: string, pkg: string, log: (line: string) => void): Promise<string | undefined> {
  if (await which(binary)) return undefined;
  log(`installing ${pkg} (apt-get install -y ${pkg}) for the baseline...`);
  try {
    await exec('apt-get', ['update', '-qq'], { maxBuffer: 64 * 1024 * 1024 });
    await exec('apt-get', ['install', '-y', '-qq', pkg], {
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (e) {
    return `could not install ${pkg}: ${(e as Error).message.split('\n')[0]}`;
  }
  return (await which(binary)) ? undefined : `${pkg} installed but ${binary} is not on PATH`;
}

async function which(binary: string): Promise<boolean> {
  try {
    await exec('bash', ['-c', `command -v ${binary}`]);
    return true;
  } catch {
    return false;
  }
}

export interface S3Target {
  /** http(s)://host:port, or undefined for AWS S3. */
  endpoint?: string;
  accessKey: string;
  secretKey: string;
  region: string;
  pathStyle: boolean;
}

/** An s3cmd config file for the target (path-style when asked, no https for http endpoints). */
export async function writeS3cmdConfig(file: string, t: S3Target): Promise<void> {
  const url = t.endpoint ? new URL(t.endpoint) : undefined;
  const host = url ? url.host : 's3.amazonaws.com';
  await writeFile(
    file,
    [
      '[default]',
      `access_key = ${t.accessKey}`,
      `secret_key = ${t.secretKey}`,
      `host_base = ${host}`,
      `host_bucket = ${t.pathStyle || url ? host : `%(bucket)s.${host}`}`,
      `use_https = ${url ? String(url.protocol === 'https:') : 'True'}`,
      `bucket_location = ${t.region}`,
      'signature_v2 = False',
      'check_ssl_certificate = True',
      'progress_meter = False',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

export interface GpgSetup {
  home: string;
  fingerprint: string;
  passphraseFile: string;
  /** Common flags: home, batch, loopback pinentry with the passphrase file. */
  flags: string;
}

/** A throwaway GnuPG home holding the bench key pair (the same keys our backup uses). */
export async function setupGpg(dir: string, privateKeyFile: string, passphraseFile: string, fingerprint: string): Promise<GpgSetup> {
  const home = join(dir, 'gnupg');
  await mkdir(home, { recursive: true, mode: 0o700 });
  const flags = `--homedir ${sh(home)} --batch --yes --quiet --pinentry-mode loopback --passphrase-file ${sh(passphraseFile)}`;
  await exec('bash', ['-c', `gpg ${flags} --import ${sh(privateKeyFile)}`]);
  return { home, fingerprint, passphraseFile, flags };
}

/** Stops the gpg-agent of the throwaway home (nothing may be left running). */
export async function stopGpg(g: GpgSetup | undefined): Promise<void> {
  if (g === undefined || !existsSync(g.home)) return;
  await exec('gpgconf', ['--homedir', g.home, '--kill', 'all']).catch(() => undefined);
}

/** The backup pipeline, stage by stage. */
export function backupStages(o: {
  kubeconfig: string;
  selector: string;
  gpg: GpgSetup;
  s3cmdConfig: string;
  target: string;
}): Array<{ name: string; command: string }> {
  return [
    { name: 'kubectl get', command: `kubectl --kubeconfig ${sh(o.kubeconfig)} get secrets -A -l ${sh(o.selector)} -o json` },
    {
      name: 'gpg --encrypt --sign',
      command: `gpg ${o.gpg.flags} --trust-model always --recipient ${o.gpg.fingerprint} --local-user ${o.gpg.fingerprint} --encrypt --sign --output -`,
    },
    { name: 's3cmd put', command: `s3cmd -c ${sh(o.s3cmdConfig)} --no-progress put - ${sh(o.target)}` },
  ];
}

/** jq program that turns `kubectl get -o json` output into objects `kubectl create` accepts in a fresh cluster. */
export const STRIP_SERVER_FIELDS =
  '.items |= map(del(.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp, .metadata.managedFields, .metadata.selfLink, .metadata.generation, .metadata.ownerReferences, .metadata.deletionTimestamp, .metadata.deletionGracePeriodSeconds)) | del(.metadata)';

/** The restore pipeline, stage by stage (target namespaces must exist). */
export function restoreStages(o: {
  kubeconfig: string;
  gpg: GpgSetup;
  s3cmdConfig: string;
  target: string;
}): Array<{ name: string; command: string }> {
  return [
    { name: 's3cmd get', command: `s3cmd -c ${sh(o.s3cmdConfig)} --no-progress get ${sh(o.target)} -` },
    { name: 'gpg --decrypt', command: `gpg ${o.gpg.flags} --decrypt` },
    { name: 'jq strip', command: `jq -c ${sh(STRIP_SERVER_FIELDS)}` },
    { name: 'kubectl create', command: `kubectl --kubeconfig ${sh(o.kubeconfig)} create --validate=false -f - -o name` },
  ];
}

/** Sum of the stages' peak RSS: the stages of a pipeline run at the same time. */
export function pipelineRss(stages: readonly StageFigures[]): number {
  return stages.reduce((n, s) => n + (Number.isFinite(s.maxRssBytes) ? s.maxRssBytes : 0), 0);
}
