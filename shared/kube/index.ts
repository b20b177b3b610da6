export { loadKubeConfig, createKubeClients, inClusterNamespace, type KubeClients, type KubeAccessSettings } from './client.js';
export { KubeCaller, toKubeError, type KubeRetryLimits } from './kube-call.js';
export { KubeError, isKubeError, describeObject, type KubeOp } from './kube-error.js';
export { listPages, type ListPage, type ListPagesOptions } from './list-pages.js';
export { LeaseLock, type LeaseLockOptions } from './lease-lock.js';
export { KubeEventRecorder, MemoryEventRecorder, type EventRecorder, type EventInput, type EventSubject } from './events.js';
export { kubeSettings, lockSettings } from './kube-settings.js';
export { withJobLock, toolNamespace, type JobLockSettings } from './job-lock.js';
