import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { parseSettings } from '../../shared/config/parse.js';
import { type StoreSettings, storeSettings } from '../../shared/storage/store-settings.js';
import { type BucketOptions, CEPH_INSTALL, type CephRgw, cephAvailable, sharedCephRgw, uniqueBucketName } from './ceph-rgw.js';
import { requireDependency } from './dependencies.js';
import { rawS3Client } from './raw-s3-client.js';
import { S3FaultProxy } from './s3-fault-proxy.js';
import { s3rverMultipartShim } from './s3-multipart-shim.js';

/**
 * The S3 implementations the suite runs against: `s3rver` (in-process, npm) and `rgw` (Ceph's
 * RADOS Gateway, a real S3 server: `ceph-rgw.ts`). Tests that hold for any S3 store loop over
 * both; where they behave differently the test names the server and says why.
 */
export const S3_SERVERS = ['s3rver', 'rgw'] as const;
export type S3ServerKind = (typeof S3_SERVERS)[number];

/**
 * The suite's one S3 credential pair. s3rver accepts only these; the RGW fixture creates its
 * user with the same pair, so `process.env`'s AWS_* (set by the job harness) suit either server.
 */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  /** Which implementation this is. */
  kind: S3ServerKind;
  /** Endpoint for the code under test: the fault proxy in front of the server. */
  endpoint: string;
  /** The server itself, bypassing the proxy (no faults, not recorded). */
  directEndpoint: string;
  bucket: string;
  /** s3rver's data directory (objects as files); undefined for RGW, whose objects live in the OSD's memory. */
  dir: string | undefined;
  /** The RGW cluster behind this server (HTTPS endpoint, CA file, KMS key, buckets of other kinds); undefined for s3rver. */
  rgw: CephRgw | undefined;
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION for a job run against this server. */
  env: Record<string, string>;
  /** The same credentials, for `createObjectStore(settings, { credentials })`. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** `s3://<bucket>/<prefix>`. */
  storeUrl(prefix?: string): string;
  /** Command-line flags selecting this server: `--store ... --s3-endpoint ... --s3-force-path-style`. */
  args(prefix?: string): string[];
  /** Store settings as the real parser produces them from {@link args}, plus overrides. */
  settings(prefix?: string, overrides?: Partial<StoreSettings>): StoreSettings;
  /** A raw SDK client straight to the server (checksums WHEN_REQUIRED), to inspect what was stored. */
  client: S3Client;
  /** Fault injection and request log between the code under test and the server. */
  faults: S3FaultProxy;
  /** Unfinished multipart uploads in the bucket (via ListMultipartUploads). */
  listMultipartUploads(): Promise<Array<{ key: string; uploadId: string }>>;
  /** Stops what this handle started (the proxy; s3rver itself, or for RGW the bucket's contents) and removes s3rver's directory (unless `dir` was given). */
  stop(): Promise<void>;
}

export interface S3ServerOptions {
  /** @default 's3rver' */
  server?: S3ServerKind;
  /** @default 'steward-test' (s3rver); a name unique to this process (RGW, where buckets outlive a test) */
  bucket?: string;
  /** s3rver only: its data directory (kept on stop). */
  dir?: string;
  /** RGW only: a versioned or Object Lock bucket. */
  bucketOptions?: BucketOptions;
}

/**
 * Skips the test (or fails it under CI=true) when `server` cannot run here: RGW needs the Ceph
 * packages. Call it first in a `before` hook of a block that starts that server.
 */
export function requireS3Server(ctx: Mocha.Context, server: S3ServerKind): void {
  if (server === 'rgw') requireDependency(ctx, 'Ceph (ceph-mon, ceph-osd, radosgw, ceph-common)', cephAvailable(), CEPH_INSTALL);
}

/**
 * Starts an S3 server with a fresh bucket and puts an {@link S3FaultProxy} in front of it.
 *
 * - `s3rver`: in-process on 127.0.0.1 (random port) with a fresh directory. s3rver lacks
 *   AbortMultipartUpload and ListMultipartUploads; {@link s3rverMultipartShim} supplies them over
 *   its own files. Needs Node's `--openssl-legacy-provider` (set in .mocharc.json) for paginated
 *   listings. Its delimited listing misses a common prefix whose objects all lie beneath a
 *   further `/` (3.7.1's filesystem store does not walk below a common prefix), so fleet
 *   discovery (`<store>/<cluster>/backups/...`) is tested against `rgw` only.
 * - `rgw`: a bucket on the process's shared Ceph cluster ({@link sharedCephRgw}), which starts on
 *   first use; `stop()` empties the bucket (the cluster stays up for the next test).
 */
export async function startS3Server(opts: S3ServerOptions = {}): Promise<S3TestServer> {
  return (opts.server ?? 's3rver') === 'rgw' ? startRgwBucket(opts) : startS3rver(opts);
}

/** What both kinds share, around a running server and an existing bucket. */
function handle(o: {
  kind: S3ServerKind;
  directEndpoint: string;
  faults: S3FaultProxy;
  bucket: string;
  dir: string | undefined;
  rgw: CephRgw | undefined;
  credentials: { accessKeyId: string; secretAccessKey: string };
  client: S3Client;
  stop: () => Promise<void>;
}): S3TestServer {
  const { bucket, client, faults } = o;
  const endpoint = faults.endpoint;
  const storeUrl = (prefix = '') => `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  const args = (prefix = '') => ['--store', storeUrl(prefix), '--s3-endpoint', endpoint, '--s3-force-path-style'];
  return {
    kind: o.kind,
    endpoint,
    directEndpoint: o.directEndpoint,
    bucket,
    dir: o.dir,
    rgw: o.rgw,
    env: {
      AWS_ACCESS_KEY_ID: o.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: o.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    },
    credentials: { ...o.credentials },
    storeUrl,
    args,
    settings: (prefix = '', overrides = {}) => ({ ...parseSettings(storeSettings, args(prefix), {}).settings, ...overrides }),
    client,
    faults,
    listMultipartUploads: () => listUploads(client, bucket),
    stop: o.stop,
  };
}

async function listUploads(client: S3Client, bucket: string): Promise<Array<{ key: string; uploadId: string }>> {
  const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (r.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '' }));
}

async function startS3rver(opts: S3ServerOptions): Promise<S3TestServer> {
  const bucket = opts.bucket ?? 'steward-test';
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 's3rver-')));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
  // s3rver is a Koa app that composes its middleware when it starts listening.
  (server as unknown as { middleware: unknown[] }).middleware.unshift(s3rverMultipartShim(dir));
  const address = await server.run();
  const directEndpoint = `http://127.0.0.1:${address.port}`;
  const faults = await S3FaultProxy.start(directEndpoint);
  const client = rawS3Client(directEndpoint, S3RVER_CREDENTIALS);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return handle({
    kind: 's3rver',
    directEndpoint,
    faults,
    bucket,
    dir,
    rgw: undefined,
    credentials: S3RVER_CREDENTIALS,
    client,
    stop: async () => {
      client.destroy();
      await faults.close();
      await server.close();
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  });
}

async function startRgwBucket(opts: S3ServerOptions): Promise<S3TestServer> {
  const rgw = await sharedCephRgw();
  const bucket = opts.bucket ?? uniqueBucketName('steward-test');
  await rgw.createBucket(bucket, opts.bucketOptions);
  const faults = await S3FaultProxy.start(rgw.endpoint);
  const client = rawS3Client(rgw.endpoint, rgw.credentials);
  return handle({
    kind: 'rgw',
    directEndpoint: rgw.endpoint,
    faults,
    bucket,
    dir: undefined,
    rgw,
    credentials: rgw.credentials,
    client,
    stop: async () => {
      await faults.close();
      // The cluster keeps running for the next test: free the memory this bucket's objects hold.
      // Objects still under an Object Lock stay (they expire with the cluster).
      await emptyBucket(client, bucket).catch(() => undefined);
      client.destroy();
    },
  });
}

/** Deletes every object version and delete marker and aborts every multipart upload of a bucket (what a lock allows). */
export async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  for (const u of await listUploads(client, bucket)) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId })).catch(() => undefined);
  }
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const r = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker, VersionIdMarker }));
    const objects = [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
    if (objects.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    if (!r.IsTruncated) return;
    KeyMarker = r.NextKeyMarker;
    VersionIdMarker = r.NextVersionIdMarker;
  }
}
