import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { parseSettings } from '../../shared/config/parse.js';
import { type StoreSettings, storeSettings } from '../../shared/storage/store-settings.js';
import { S3FaultProxy } from './s3-fault-proxy.js';
import { s3rverMultipartShim } from './s3-multipart-shim.js';

/** s3rver accepts only these credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  /** Endpoint for the code under test: the fault proxy in front of s3rver. */
  endpoint: string;
  /** s3rver itself, bypassing the proxy (no faults, not recorded). */
  directEndpoint: string;
  bucket: string;
  /** s3rver's data directory. */
  dir: string;
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
  /** A raw SDK client straight to s3rver (checksums WHEN_REQUIRED), to inspect what was stored. */
  client: S3Client;
  /** Fault injection and request log between the code under test and s3rver. */
  faults: S3FaultProxy;
  /** Unfinished multipart uploads in the bucket (via ListMultipartUploads). */
  listMultipartUploads(): Promise<Array<{ key: string; uploadId: string }>>;
  /** Stops both servers and removes the data directory (unless `dir` was given). */
  stop(): Promise<void>;
}

/**
 * Starts s3rver in-process on 127.0.0.1 (random port) with a fresh directory, creates the
 * bucket, and puts an {@link S3FaultProxy} in front of it. s3rver lacks AbortMultipartUpload
 * and ListMultipartUploads; {@link s3rverMultipartShim} supplies them over its own files.
 * Needs Node's `--openssl-legacy-provider` (set in .mocharc.json) for paginated listings.
 */
export async function startS3Server(opts: { bucket?: string; dir?: string } = {}): Promise<S3TestServer> {
  const bucket = opts.bucket ?? 'steward-test';
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 's3rver-')));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
  // s3rver is a Koa app that composes its middleware when it starts listening.
  (server as unknown as { middleware: unknown[] }).middleware.unshift(s3rverMultipartShim(dir));
  const address = await server.run();
  const directEndpoint = `http://127.0.0.1:${address.port}`;
  const faults = await S3FaultProxy.start(directEndpoint);
  const endpoint = faults.endpoint;
  const client = new S3Client({
    endpoint: directEndpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));

  const storeUrl = (prefix = '') => `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  const args = (prefix = '') => ['--store', storeUrl(prefix), '--s3-endpoint', endpoint, '--s3-force-path-style'];
  return {
    endpoint,
    directEndpoint,
    bucket,
    dir,
    env: {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    },
    credentials: { ...S3RVER_CREDENTIALS },
    storeUrl,
    args,
    settings: (prefix = '', overrides = {}) => ({ ...parseSettings(storeSettings, args(prefix), {}).settings, ...overrides }),
    client,
    faults,
    listMultipartUploads: async () => {
      const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (r.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '' }));
    },
    stop: async () => {
      client.destroy();
      await faults.close();
      await server.close();
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}
