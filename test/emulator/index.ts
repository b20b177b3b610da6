/**
 * In-process Kubernetes API server emulator for tests. Start one with
 * `await KubeEmulator.start()`, point a client at `emulator.url` (or a
 * kubeconfig from `emulator.kubeconfigYaml()`), stop it with `stop()`.
 */

export type { Status, StatusCause, StatusDetails } from './errors.js';
export { KubeApiError } from './errors.js';
export type { Fault, FaultRequest, FaultSpec } from './faults.js';
export { FaultInjector, RequestSequence } from './faults.js';
export type { GcAction } from './garbage-collector.js';
export { GarbageCollector } from './garbage-collector.js';
export type { JobControllerOptions } from './job-controller.js';
export { JobController, matchPodFailurePolicy } from './job-controller.js';
export type { KubeconfigOptions } from './kubeconfig.js';
export { PodLogs } from './pod-logs.js';
export type { AuthzDecision, RuleMatch } from './rbac.js';
export type { PropagationPolicy } from './registry.js';
export type { RequestLogEntry } from './request-log.js';
export { RequestLog } from './request-log.js';
export type { ResourceType } from './resources.js';
export { RESOURCES } from './resources.js';
export type { EmulatorOptions, RbacDecisionRecord } from './server.js';
export { KubeEmulator } from './server.js';
export type { KubeObject, ObjectMeta, StoredKubeObject } from './types.js';
export type { FailurePredicate, PodAction, RolloutRecord, WorkloadKind } from './workload-controller.js';
export { FAIL_ROLLOUT_ANNOTATION, POD_INDEX_LABEL, podReady, REVISION_LABEL, WorkloadController } from './workload-controller.js';
