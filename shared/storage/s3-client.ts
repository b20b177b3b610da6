import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { problemFor } from '../config/parse.js';
import { ConfigError } from '../errors/index.js';
import { type S3Settings, storeSettings } from './store-settings.js';

/** How long to wait for a TCP connection to the store before the attempt counts as failed. */
export const S3_CONNECTION_TIMEOUT_MS = 10_000;
/** How long a connection may stay silent (no bytes either way) before the attempt fails. */
export const S3_SOCKET_TIMEOUT_MS = 120_000;

export interface S3ClientDeps {
  /**
   * Credentials for tests and embedding. Production leaves this unset: the AWS SDK default
   * chain (environment, AWS_SHARED_CREDENTIALS_FILE / AWS_PROFILE, IRSA web identity,
   * container and instance roles) is the only way a run gets credentials.
   */
  credentials?: S3ClientConfig['credentials'];
}

/**
 * Builds the S3 client from the store settings. Retries are the SDK's standard mode (throttling,
 * 5xx, network errors; exponential backoff with jitter) with `--s3-max-attempts`. The checksum
 * mode applies to requests and to response validation alike (see `--s3-checksum`). With
 * `--s3-ca-file`, HTTPS connections trust its certificates on top of Node's bundled CAs; an
 * unreadable file or one without a certificate is a configuration error (exit 2). The CA goes
 * in an Agent of our own: given as agent options, the SDK's handler drops them for requests
 * with `Expect: 100-continue` (bodies over 1 MiB: every part), which then fail verification.
 */
export function createS3Client(
  settings: Pick<S3Settings, 's3Endpoint' | 's3Region' | 's3ForcePathStyle' | 's3Checksum' | 's3MaxAttempts'> &
    Partial<Pick<S3Settings, 's3CaFile'>>,
  deps: S3ClientDeps = {},
): S3Client {
  const mode = settings.s3Checksum === 'when-supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  const ca = settings.s3CaFile === undefined ? undefined : [...rootCertificates, readCaFile(settings.s3CaFile)];
  const client = new S3Client({
    region: settings.s3Region,
    ...(settings.s3Endpoint !== undefined ? { endpoint: settings.s3Endpoint } : {}),
    forcePathStyle: settings.s3ForcePathStyle,
    maxAttempts: settings.s3MaxAttempts,
    retryMode: 'standard',
    requestChecksumCalculation: mode,
    responseChecksumValidation: mode,
    requestHandler: {
      connectionTimeout: S3_CONNECTION_TIMEOUT_MS,
      socketTimeout: S3_SOCKET_TIMEOUT_MS,
      ...(ca !== undefined ? { httpsAgent: new Agent({ keepAlive: true, maxSockets: 50, ca }) } : {}),
    },
    ...(deps.credentials !== undefined ? { credentials: deps.credentials } : {}),
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (CONTENT_MD5_COMMANDS.has(context.commandName ?? '')) addContentMd5(args.request);
      return next(args);
    },
    { step: 'build', name: 'secretStewardContentMd5ForDeleteObjects' },
  );
  return client;
}

/** Requests S3 requires an integrity header on, which some stores accept only as Content-MD5. */
const CONTENT_MD5_COMMANDS = new Set(['DeleteObjectsCommand', 'PutObjectRetentionCommand']);

/**
 * Since 2025 the SDK sends DeleteObjects (and PutObjectRetention) with a CRC32 checksum instead of Content-MD5; several
 * S3-compatible stores (MinIO releases of that time, Dell ECS, others) still demand Content-MD5
 * and answer "Missing required header for this request: Content-Md5" (aws-sdk-js-v3 issue 6920).
 * Sending both satisfies every store.
 */
function addContentMd5(request: unknown): void {
  const r = request as { headers?: Record<string, string>; body?: unknown } | undefined;
  if (r?.headers === undefined || !(typeof r.body === 'string' || r.body instanceof Uint8Array)) return;
  if (Object.keys(r.headers).some((h) => h.toLowerCase() === 'content-md5')) return;
  r.headers['content-md5'] = createHash('md5').update(r.body).digest('base64');
}

/** The PEM text of `--s3-ca-file`; a ConfigError naming the setting when it cannot be read or holds no certificate. */
function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new ConfigError([problemFor(storeSettings, 's3CaFile', `cannot read ${path} (${typeof code === 'string' ? code : 'error'})`)]);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError([problemFor(storeSettings, 's3CaFile', `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)]);
  }
  return text;
}
