import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';
import { createS3Client, type S3ClientDeps } from './s3-client.js';
import { S3ObjectStore } from './s3-object-store.js';
import { objectLockRetentionMs, type StoreSettings } from './store-settings.js';

const MIB = 1024 * 1024;

export interface ObjectStoreDeps extends S3ClientDeps {
  /** Source of "now" for Object Lock retain-until dates. @default systemClock */
  clock?: Clock;
  /** Where aborted uploads are reported. */
  log?: Logger;
}

/**
 * The one place that turns store settings into an {@link ObjectStore}: S3 for `s3://`, the
 * file store for `file://`. Settings are expected to have passed `validateStoreSettings`.
 */
export function createObjectStore(settings: StoreSettings, deps: ObjectStoreDeps = {}): ObjectStore {
  const url = settings.store;
  if (url.kind === 'file') return new FileObjectStore(url.dir);
  const retentionMs = objectLockRetentionMs(settings);
  const lock =
    settings.s3ObjectLockMode !== undefined && retentionMs !== undefined ? { mode: settings.s3ObjectLockMode, retentionMs } : undefined;
  return new S3ObjectStore({
    client: createS3Client(settings, deps),
    bucket: url.bucket,
    prefix: url.prefix,
    partSize: settings.s3PartSize * MIB,
    sse: settings.s3Sse,
    sseKmsKeyId: settings.s3SseKmsKeyId,
    storageClass: settings.s3StorageClass,
    objectLock: lock,
    clock: deps.clock,
    log: deps.log,
  });
}
