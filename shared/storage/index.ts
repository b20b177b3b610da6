export {
  DEFAULT_GET_BYTES_LIMIT,
  type ObjectStore,
  type ObjectInfo,
  type ObjectDigest,
  type PutOptions,
  type PutResult,
} from './object-store.js';
export { StorageError, isStorageError, type StorageErrorKind } from './storage-error.js';
export {
  storeSettings,
  validateStoreSettings,
  parseStoreUrl,
  formatStoreUrl,
  READABLE_STORAGE_CLASSES,
  type StoreSettings,
  type StoreUrl,
} from './store-settings.js';
export { createObjectStore, type ObjectStoreDeps } from './create-object-store.js';
export { S3ObjectStore, S3_MAX_PARTS, S3_MIN_PART_SIZE, type S3ObjectStoreOptions } from './s3-object-store.js';
export { createS3Client, type S3ClientDeps } from './s3-client.js';
export { FileObjectStore } from './file-object-store.js';
export { keyProblem, prefixProblem, metadataProblem } from './object-rules.js';
