export { createKubeClients, inClusterNamespace, type KubeClients, loadKubeConfig } from './client.js';
export { readClusterUid } from './cluster-identity.js';
export { CONFLICT_ATTEMPTS, type ConflictRetryOptions, retryOnConflict } from './conflict-retry.js';
export { type EventInput, type EventRecorder, type EventSubject, KubeEventRecorder, MemoryEventRecorder } from './events.js';
export { toolNamespace, withJobLock } from './job-lock.js';
export { KubeCaller, type KubeRetryLimits, toKubeError } from './kube-call.js';
export { describeObject, isKubeError, KubeError, type KubeOp } from './kube-error.js';
export { type KubeSettings, kubeSettings, type LockSettings, lockSettings } from './kube-settings.js';
export { type HeldLease, IN_FLIGHT_ANNOTATION, LeaseLock, type LeaseLockOptions, READING_ANNOTATION, readHeldLease } from './lease-lock.js';
export { type ListPage, type ListPagesOptions, listPages } from './list-pages.js';
export { KubeNamespaceStore, type NamespaceStore } from './namespaces.js';
export {
  KubeSecretStore,
  type MetadataPatch,
  SecretJson,
  type SecretListOptions,
  type SecretMetadata,
  type SecretStore,
  type WriteOptions,
} from './secrets.js';
