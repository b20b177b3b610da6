import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  booleanSetting,
  customSetting,
  durationSetting,
  enumSetting,
  fileSetting,
  integerSetting,
  type SettingsOf,
  stringSetting,
  ValueError,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { prefixProblem } from './object-rules.js';

/** Where backups live, parsed from `--store`. */
export type StoreUrl =
  | { kind: 's3'; bucket: string /** No leading or trailing `/`; `''` for the bucket root. */; prefix: string }
  | { kind: 'file' /** Absolute, normalised. */; dir: string };

const STORE_FORM = 's3://bucket[/prefix] or file:///absolute/dir';
const NO_CREDENTIALS =
  'no credentials in the URL: give them through the AWS SDK chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_SHARED_CREDENTIALS_FILE, IRSA)';

/**
 * Parses `--store`. Throws {@link ValueError} with the expected form; never echoes the value
 * (someone may have pasted `s3://KEY:SECRET@bucket`).
 */
export function parseStoreUrl(raw: string): StoreUrl {
  const text = raw.trim();
  if (text.startsWith('s3://')) {
    const rest = text.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? '' : rest.slice(slash + 1);
    if (bucket.includes('@') || bucket.includes(':')) throw new ValueError(`${STORE_FORM}, with ${NO_CREDENTIALS}`);
    if (/[?#]/.test(rest)) throw new ValueError(`${STORE_FORM} without ?query or #fragment`);
    if (!isValidBucketName(bucket)) {
      throw new ValueError(
        `${STORE_FORM} with a valid bucket name (3-63 lowercase letters, digits, '.', '-'; starting and ending with a letter or digit)`,
      );
    }
    if (prefixProblem(path) !== undefined) {
      throw new ValueError(`${STORE_FORM} whose prefix has no empty, . or .. segment and no control characters`);
    }
    return { kind: 's3', bucket, prefix: path.replace(/\/$/, '') };
  }
  if (text.startsWith('file:')) {
    let dir: string;
    try {
      dir = fileURLToPath(text);
    } catch {
      throw new ValueError(`${STORE_FORM} (file URLs have three slashes and no host: file:///var/backups)`);
    }
    if (text.includes('?') || text.includes('#')) throw new ValueError(`${STORE_FORM} without ?query or #fragment`);
    if (dir.split('/').includes('..')) throw new ValueError(`${STORE_FORM} without .. segments`);
    const normal = posix.normalize(dir).replace(/\/+$/, '');
    if (normal === '') throw new ValueError(`${STORE_FORM} naming a directory other than /`);
    return { kind: 'file', dir: normal };
  }
  throw new ValueError(STORE_FORM);
}

/** The store as text, for logs and errors: `s3://bucket/prefix` or `file:///dir`. */
export function formatStoreUrl(url: StoreUrl): string {
  return url.kind === 's3' ? `s3://${url.bucket}${url.prefix ? `/${url.prefix}` : ''}` : `file://${url.dir}`;
}

function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

function parseEndpoint(raw: string): string {
  const form = 'an http:// or https:// URL without credentials, query or fragment, e.g. https://minio.storage.svc:9000';
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ValueError(form);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ValueError(form);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') throw new ValueError(form);
  return url.href.replace(/\/$/, '');
}

/** Storage classes whose objects can be read at once (GLACIER and DEEP_ARCHIVE need a restore first). */
export const READABLE_STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'REDUCED_REDUNDANCY',
  'EXPRESS_ONEZONE',
] as const;

const GROUP = 'Object storage';

/**
 * How the backup store is reached when it is S3: every setting of {@link storeSettings} but the
 * `--store` URL itself (`status` declares its own, optional, `--store`).
 */
export const s3Settings = {
  s3Endpoint: customSetting({
    description: 'Endpoint of an S3-compatible store (MinIO, Ceph RGW, ...). Omit for AWS S3.',
    valueName: 'URL',
    group: GROUP,
    parse: parseEndpoint,
  }),
  s3Region: stringSetting({
    description: 'Region of the bucket.',
    valueName: 'REGION',
    default: 'us-east-1',
    defaultText: 'us-east-1, or AWS_REGION / AWS_DEFAULT_REGION',
    extraEnv: ['AWS_REGION', 'AWS_DEFAULT_REGION'],
    pattern: /^[a-z0-9-]+$/,
    expected: 'a region name such as eu-west-1',
    group: GROUP,
  }),
  s3CaFile: fileSetting({
    description:
      'PEM file of CA certificates that may sign the certificate of an https:// --s3-endpoint (a store behind a private CA), trusted in addition to the system CAs.',
    group: GROUP,
  }),
  s3ForcePathStyle: booleanSetting({
    description: 'Address the bucket as https://endpoint/bucket instead of https://bucket.endpoint (most S3-compatible stores need this).',
    default: false,
    group: GROUP,
  }),
  s3Checksum: enumSetting(['when-required', 'when-supported'] as const, {
    description:
      "When the AWS SDK adds CRC checksums to requests and validates them on responses. 'when-supported' is the SDK's own default and fine for AWS S3, but many S3-compatible stores mishandle it (rejected requests, or the aws-chunked framing stored inside the object); 'when-required' sends them only where the API demands one. Integrity does not depend on it: every part carries Content-MD5 and backups are verified by reading them back. docs/storage-compatibility.md lists what each store needs.",
    default: 'when-required',
    group: GROUP,
  }),
  s3Sse: enumSetting(['AES256', 'aws:kms'] as const, {
    description:
      "Server-side encryption to request for each object (on top of our own encryption). A store that accepts the request without confirming it (some S3-compatible stores take AES256 and ignore it) gets a warning in the run's result.",
    group: GROUP,
  }),
  s3SseKmsKeyId: stringSetting({
    description: 'KMS key (id, ARN or alias) for --s3-sse aws:kms; omit to use the bucket/account default key.',
    valueName: 'KEY-ID',
    group: GROUP,
  }),
  s3StorageClass: customSetting({
    description: `Storage class of new objects: ${READABLE_STORAGE_CLASSES.join(', ')}. Classes that need a restore before reading (GLACIER, DEEP_ARCHIVE) are refused: verify-restore and restore must be able to read every backup.`,
    valueName: 'CLASS',
    group: GROUP,
    parse: (raw: string) => {
      if (!(READABLE_STORAGE_CLASSES as readonly string[]).includes(raw)) {
        throw new ValueError(
          `one of ${READABLE_STORAGE_CLASSES.join(', ')} (GLACIER and DEEP_ARCHIVE objects cannot be read without a restore)`,
        );
      }
      return raw as (typeof READABLE_STORAGE_CLASSES)[number];
    },
  }),
  s3ObjectLockMode: enumSetting(['GOVERNANCE', 'COMPLIANCE'] as const, {
    description:
      'Object Lock retention for each new object (the bucket must have Object Lock enabled). COMPLIANCE cannot be shortened or removed by anyone, including root, until it expires.',
    group: GROUP,
  }),
  s3ObjectLockDays: integerSetting({
    description: 'Days each new object is retained under --s3-object-lock-mode (retain-until = upload time + N days).',
    valueName: 'DAYS',
    min: 1,
    max: 36500,
    group: GROUP,
  }),
  s3ObjectLockRetention: durationSetting({
    description:
      'The retention of --s3-object-lock-days as a duration in any unit (30d, 720h; seconds for tests): retain-until = upload time + this. Give one of the two.',
    group: GROUP,
  }),
  s3PartSize: integerSetting({
    description:
      'Multipart part size in MiB: objects larger than this are uploaded in parts, and memory use is about one part. S3 allows at most 10000 parts, so the largest object is 10000 x this.',
    valueName: 'MIB',
    min: 5,
    max: 5120,
    default: 16,
    group: GROUP,
  }),
  s3MaxAttempts: integerSetting({
    description: 'Attempts per S3 request (the AWS SDK retries throttling, 5xx and network errors with backoff).',
    min: 1,
    max: 20,
    default: 5,
    group: GROUP,
  }),
} as const;

/**
 * Settings for the backup store, shared by every command that reads or writes backups.
 * Credentials are deliberately NOT settings: they come only from the AWS SDK default chain
 * (environment variables, AWS_SHARED_CREDENTIALS_FILE/AWS_PROFILE shared files, IRSA web
 * identity, container/instance roles), so they never appear in a process argument list or a
 * CronJob spec.
 */
export const storeSettings = {
  store: customSetting({
    description:
      'Where backups are kept: s3://bucket[/prefix] (S3 or an S3-compatible store) or file:///absolute/dir (a mounted volume). S3 credentials are never options: the AWS SDK chain supplies them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a mounted AWS_SHARED_CREDENTIALS_FILE with AWS_PROFILE, or IRSA web identity).',
    valueName: 'URL',
    required: true,
    group: GROUP,
    parse: parseStoreUrl,
  }),
  ...s3Settings,
} as const;

/** The values of {@link s3Settings}. */
export type S3Settings = SettingsOf<typeof s3Settings>;
/** The values of {@link storeSettings}: what `createObjectStore` needs. */
export type StoreSettings = SettingsOf<typeof storeSettings>;

/**
 * Cross-setting problems of the store settings, all at once (plug into a command's
 * `validate`). Settings that only mean something for S3 are refused with a file:// store,
 * so a mistyped store URL does not silently drop encryption or retention.
 */
export function validateStoreSettings(s: S3Settings & { store?: StoreUrl }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const p = (key: keyof typeof storeSettings & string, message: string) => problems.push(problemFor(storeSettings, key, message));
  if (s.store?.kind === 'file') {
    const s3Only: Array<[keyof typeof storeSettings & string, unknown]> = [
      ['s3Endpoint', s.s3Endpoint],
      ['s3CaFile', s.s3CaFile],
      ['s3Sse', s.s3Sse],
      ['s3SseKmsKeyId', s.s3SseKmsKeyId],
      ['s3StorageClass', s.s3StorageClass],
      ['s3ObjectLockMode', s.s3ObjectLockMode],
      ['s3ObjectLockDays', s.s3ObjectLockDays],
      ['s3ObjectLockRetention', s.s3ObjectLockRetention],
    ];
    for (const [key, value] of s3Only) if (value !== undefined) p(key, 'applies only to an s3:// --store');
    if (s.s3ForcePathStyle) p('s3ForcePathStyle', 'applies only to an s3:// --store');
  }
  if (s.s3SseKmsKeyId !== undefined && s.s3Sse !== 'aws:kms') p('s3SseKmsKeyId', 'needs --s3-sse aws:kms');
  if (s.s3ObjectLockMode !== undefined && s.s3ObjectLockDays === undefined && s.s3ObjectLockRetention === undefined) {
    p('s3ObjectLockMode', 'needs --s3-object-lock-days (how long each object is retained) or --s3-object-lock-retention');
  }
  if (s.s3ObjectLockDays !== undefined && s.s3ObjectLockMode === undefined) {
    p('s3ObjectLockDays', 'needs --s3-object-lock-mode GOVERNANCE or COMPLIANCE');
  }
  if (s.s3ObjectLockRetention !== undefined) {
    if (s.s3ObjectLockMode === undefined) p('s3ObjectLockRetention', 'needs --s3-object-lock-mode GOVERNANCE or COMPLIANCE');
    if (s.s3ObjectLockDays !== undefined)
      p('s3ObjectLockRetention', 'give either --s3-object-lock-days or --s3-object-lock-retention, not both');
    if (s.s3ObjectLockRetention < 1000 || s.s3ObjectLockRetention > 36500 * 86_400_000) {
      p('s3ObjectLockRetention', 'expected a duration from 1s to 36500d');
    }
  }
  if (s.store?.kind === 's3' && s.s3CaFile !== undefined && s.s3Endpoint?.startsWith('https:') !== true) {
    p('s3CaFile', 'needs an https:// --s3-endpoint');
  }
  return problems;
}

/** How long --s3-object-lock-days or --s3-object-lock-retention retains each object, in ms; undefined without Object Lock. */
export function objectLockRetentionMs(s: Pick<StoreSettings, 's3ObjectLockDays' | 's3ObjectLockRetention'>): number | undefined {
  return s.s3ObjectLockRetention ?? (s.s3ObjectLockDays === undefined ? undefined : s.s3ObjectLockDays * 86_400_000);
}
