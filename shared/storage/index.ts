export { createObjectStore, type ObjectStoreDeps } from './create-object-store.js';
export { FileObjectStore } from './file-object-store.js';
export { keyProblem, metadataProblem, prefixProblem } from './object-rules.js';
export {
  DEFAULT_GET_BYTES_LIMIT,
  type DeleteOptions,
  type DeleteOutcome,
  type DeleteTarget,
  type ObjectDigest,
  type ObjectInfo,
  type ObjectStore,
  type ObjectVersion,
  type PutOptions,
  type PutResult,
} from './object-store.js';
export { createS3Client, type S3ClientDeps } from './s3-client.js';
export { normalizeEtag, S3_MAX_PARTS, S3_MIN_PART_SIZE, S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';
export { isStorageError, type LockDetails, StorageError, type StorageErrorKind } from './storage-error.js';
export {
  formatStoreUrl,
  objectLockRetentionMs,
  parseStoreUrl,
  READABLE_STORAGE_CLASSES,
  type S3Settings,
  type StoreSettings,
  type StoreUrl,
  s3Settings,
  storeSettings,
  validateStoreSettings,
} from './store-settings.js';
