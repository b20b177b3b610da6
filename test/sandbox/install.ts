/**
 * `npm run sandbox -- --install`: installs secret-steward into the sandbox the way an operator
 * installs it into a cluster (docs/one-off-jobs.md): the objects of `kubectl apply -k
 * manifests/base`, the store settings pointed at the sandbox's S3 server, and the Secrets the
 * CronJobs mount, made from the sandbox's demo keys. The emulator's Job controller stand-in then
 * runs the Jobs made from those CronJobs (`secret-steward run ...`).
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { RESOURCES } from '../emulator/index.js';
import { type ManifestObject, renderManifests } from '../manifests/render.js';
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

/** What a DR site's installation needs besides the manifests: the store and the keys (file contents). */
export interface DrSiteInstallation {
  /** Store settings for the ConfigMap secret-steward-store (SECRET_STEWARD_STORE, _S3_ENDPOINT, ...). */
  store: Record<string, string>;
  /** Storage credentials (the read-only ones of the overlay). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The clusters to drill, in order (SECRET_STEWARD_FLEET_CLUSTER); @default the overlay's. Not with `discover`. */
  fleet?: string[];
  /**
   * Discover the fleet instead, as fleet.yaml's comment says: SECRET_STEWARD_FLEET_DISCOVER and
   * SECRET_STEWARD_FLEET_ALLOW (these globs) in place of SECRET_STEWARD_FLEET_CLUSTER.
   */
  discover?: { allow: string[] };
  /**
   * The output of `verify-restore --fleet-plan -o manifests` for the fleet, applied after the
   * overlay. The overlay's own drill namespaces are left out, so the drills run in what the plan
   * made. The emulator has no server-side apply (test/emulator/README.md): an object that exists
   * gets the plan's fields as a JSON merge patch, which for these objects (scalars, and lists
   * that server-side apply treats as atomic: Role `rules` and the policy's `spec.validations`,
   * "Atomic: will be replaced during a merge" in the Kubernetes API reference, role-v1 and
   * validating-admission-policy-v1) is what `kubectl apply --server-side --force-conflicts`
   * does; the others are created.
   */
  fleetPlan?: string;
  /** The backups' decryption key and its passphrase, and the public keys of the backup and pre-restore signers. */
  restoreKeys: { privateKey: string; passphrase: string; trustedSigner: string; preRestoreSigner: string };
  /** The DR site's own drill-report signing key. */
  drillSigningKey: { privateKey: string; passphrase: string };
}

const DR_SITE = 'manifests/overlays/dr-site-verify-only';

/**
 * Installs manifests/overlays/dr-site-verify-only as an operator would into an empty DR cluster
 * (docs/dr-site.md): the overlay's objects, its store settings pointed at `o.store`, the fleet,
 * and the three Secrets it mounts. Returns what was applied and what the emulator does not serve (ResourceQuotas).
 */
export async function installDrSite(
  emulator: Sandbox['emulator'],
  o: DrSiteInstallation,
): Promise<{ applied: number; skipped: string[]; fleet: string[] | undefined }> {
  const rendered = await renderManifests(DR_SITE);
  const served = (x: { apiVersion: string; kind: string }) => RESOURCES.some((r) => r.apiVersion === x.apiVersion && r.kind === x.kind);
  const skipped = rendered.filter((x) => !served(x)).map((x) => `${x.kind} ${x.metadata.namespace ?? ''}/${x.metadata.name}`);
  const perIndex = (x: ManifestObject) => /^secret-steward-drill-\d+$/.test(x.metadata.namespace ?? x.metadata.name);
  const objects = rendered.filter((x) => served(x) && !(o.fleetPlan !== undefined && perIndex(x)));
  const find = (kind: string, name: string) => objects.find((x) => x.kind === kind && x.metadata.name === name) as Record<string, any>;
  const store = find('ConfigMap', 'secret-steward-store');
  store.data = { ...store.data, ...o.store };
  const config = find('ConfigMap', 'secret-steward-verify-restore');
  let fleet: string[] | undefined;
  if (o.discover) {
    delete config.data.SECRET_STEWARD_FLEET_CLUSTER;
    config.data.SECRET_STEWARD_FLEET_DISCOVER = 'true';
    config.data.SECRET_STEWARD_FLEET_ALLOW = o.discover.allow.join(',');
  } else {
    fleet = o.fleet ?? String(config.data.SECRET_STEWARD_FLEET_CLUSTER).split(',');
    config.data.SECRET_STEWARD_FLEET_CLUSTER = fleet.join(',');
  }
  const shipped = String(find('CronJob', 'secret-steward-verify-restore').spec.jobTemplate.spec.completions);
  // Another number of clusters also needs that many drill namespaces and Lease names: the plan's manifests.
  if (o.fleetPlan === undefined && fleet !== undefined && fleet.length !== Number(shipped))
    throw new Error(`${DR_SITE} drills ${shipped} clusters, not ${fleet.length}: apply the fleet plan's manifests`);
  const credentials = `[default]\naws_access_key_id = ${o.credentials.accessKeyId}\naws_secret_access_key = ${o.credentials.secretAccessKey}\n`;
  const k = o.restoreKeys;
  const secrets = [
    secret('secret-steward-s3-credentials-readonly', { credentials }),
    secret('secret-steward-restore-keys', {
      'private.asc': k.privateKey,
      passphrase: k.passphrase,
      'trusted-signer.asc': k.trustedSigner,
      'pre-restore-signer.asc': k.preRestoreSigner,
    }),
    secret('secret-steward-drill-signing-key', { 'signing.asc': o.drillSigningKey.privateKey, passphrase: o.drillSigningKey.passphrase }),
  ];
  await emulator.applyObjects([...objects, ...secrets]);
  const plan = o.fleetPlan === undefined ? [] : (parseAllDocuments(o.fleetPlan).map((d) => d.toJS()) as ManifestObject[]);
  for (const x of plan.filter((p) => p !== null)) {
    if (!served(x)) skipped.push(`${x.kind} ${x.metadata.namespace ?? ''}/${x.metadata.name}`);
    else if (emulator.get(x.apiVersion, x.kind, x.metadata.namespace, x.metadata.name) === undefined) await emulator.applyObjects([x]);
    else {
      const { apiVersion, kind, metadata, ...fields } = x;
      emulator.patch(apiVersion, kind, metadata.namespace, metadata.name, 'application/merge-patch+json', fields);
    }
  }
  return { applied: objects.length + secrets.length + plan.length, skipped, fleet };
}

/**
 * `npm run sandbox -- --install --dr-site`: the sandbox as an empty DR cluster with
 * manifests/overlays/dr-site-verify-only installed (docs/dr-site.md): its store settings pointed
 * at the sandbox's S3 server, and its Secrets made from the sandbox's demo keys (the demo key
 * decrypts and signs the backups, and signs the drill reports).
 */
export async function installDrSiteIntoSandbox(sb: Sandbox): Promise<{ applied: number; skipped: string[]; fleet: string[] | undefined }> {
  const read = (file: string) => readFile(file, 'utf8');
  const [privateKey, passphrase, publicKey, prePublic] = await Promise.all([
    read(sb.keys.privateKey),
    read(sb.keys.passphraseFile),
    read(sb.keys.publicKey),
    read(sb.env.SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY),
  ]);
  return installDrSite(sb.emulator, {
    store: {
      SECRET_STEWARD_STORE: sb.env.SECRET_STEWARD_STORE,
      SECRET_STEWARD_S3_ENDPOINT: sb.env.SECRET_STEWARD_S3_ENDPOINT,
      SECRET_STEWARD_S3_FORCE_PATH_STYLE: 'true',
    },
    credentials: { accessKeyId: sb.env.AWS_ACCESS_KEY_ID, secretAccessKey: sb.env.AWS_SECRET_ACCESS_KEY },
    restoreKeys: { privateKey, passphrase, trustedSigner: publicKey, preRestoreSigner: prePublic },
    drillSigningKey: { privateKey, passphrase },
  });
}
