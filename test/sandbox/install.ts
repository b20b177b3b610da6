/**
 * `npm run sandbox -- --install`: installs secret-steward into the sandbox the way an operator
 * installs it into a cluster (docs/one-off-jobs.md): the objects of `kubectl apply -k
 * manifests/base`, the store settings pointed at the sandbox's S3 server, and the Secrets the
 * CronJobs mount, made from the sandbox's demo keys. The emulator's Job controller stand-in then
 * runs the Jobs made from those CronJobs (`secret-steward run ...`).
 */
import { readFile } from 'node:fs/promises';
import { RESOURCES } from '../emulator/index.js';
import { renderManifests } from '../manifests/render.js';
import type { Sandbox } from './sandbox.js';

const NS = 'secret-steward';

function secret(name: string, files: Record<string, string>) {
  const data = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type: 'Opaque', data };
}

/**
 * Applies manifests/base, the sandbox's store settings and the key Secrets. Returns what was
 * applied, and what was left out because the emulator does not serve its kind (the drill
 * namespace's ResourceQuota): nothing the jobs read.
 */
export async function installIntoSandbox(sb: Sandbox): Promise<{ applied: number; skipped: string[] }> {
  const rendered = await renderManifests('manifests/base');
  const served = (o: { apiVersion: string; kind: string }) => RESOURCES.some((r) => r.apiVersion === o.apiVersion && r.kind === o.kind);
  const base = rendered.filter(served);
  const skipped = rendered.filter((o) => !served(o)).map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  const read = (file: string) => readFile(file, 'utf8');
  const [publicKey, privateKey, passphrase, prePublic, prePrivate] = await Promise.all([
    read(sb.keys.publicKey),
    read(sb.keys.privateKey),
    read(sb.keys.passphraseFile),
    read(sb.env.SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY),
    read(sb.env.SECRET_STEWARD_PRE_RESTORE_SIGNING_KEY),
  ]);
  const store = base.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'secret-steward-store');
  if (store === undefined) throw new Error('manifests/base has no ConfigMap secret-steward-store');
  // What an overlay for an S3-compatible store sets (manifests/overlays/minio).
  store.data = {
    ...(store.data as Record<string, string>),
    SECRET_STEWARD_STORE: sb.env.SECRET_STEWARD_STORE,
    SECRET_STEWARD_CLUSTER_NAME: sb.clusterName,
    SECRET_STEWARD_S3_ENDPOINT: sb.env.SECRET_STEWARD_S3_ENDPOINT,
    SECRET_STEWARD_S3_FORCE_PATH_STYLE: 'true',
  };
  const credentials = `[default]\naws_access_key_id = ${sb.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${sb.env.AWS_SECRET_ACCESS_KEY}\n`;
  const secrets = [
    secret('secret-steward-s3-credentials', { credentials }),
    secret('secret-steward-backup-keys', { 'recipient.asc': publicKey, 'pre-restore-signer.asc': prePublic }),
    secret('secret-steward-signing-key', { 'signing.asc': privateKey, passphrase }),
    secret('secret-steward-restore-keys', {
      'private.asc': privateKey,
      passphrase,
      'trusted-signer.asc': publicKey,
      'pre-restore-signer.asc': prePublic,
    }),
    secret('secret-steward-pre-restore-signing-key', { 'signing.asc': prePrivate, passphrase }),
  ];
  await sb.emulator.applyObjects([...base, ...secrets]);
  return { applied: base.length + secrets.length, skipped };
}
