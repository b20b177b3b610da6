import type { Workload } from '../kube/workloads.js';
import { Annotations } from './metadata.js';

/**
 * Everything rotation may change in a workload (Deployment, StatefulSet, DaemonSet, CronJob, Argo Rollout), in
 * one place. The code that writes workloads reads it (`rollout.ts` sets the restart annotations,
 * `secret-refs.ts` finds and repoints the references), and the ValidatingAdmissionPolicies that
 * stop rotate's ServiceAccount from changing anything else
 * (manifests/base/rotate/workload-admission-policy.yaml) are generated from it by
 * test/tooling/workload-policy.ts; test/manifests/workload-admission-policy.test.ts fails when
 * the committed policies differ from what this list generates.
 *
 * Adding a field here widens what a stolen rotate token may change in every workload of the
 * cluster: it must be a field that names a Secret or marks a restart, nothing that runs code.
 */

/** Pod-template annotation whose change restarts the workload (set, restored or removed). */
export const RESTART_ANNOTATION = Annotations.restartedAt;

/**
 * Pod-template annotation of follow mode: the keyed digests of the followed Secrets the template
 * last restarted for (set only, never removed; its change is the restart).
 */
export const FOLLOWED_ANNOTATION = Annotations.followed;

/** Annotation of the workload's own metadata recording the template annotation before the restart. */
export const RESTART_RECORD_ANNOTATION = Annotations.restartPrevious;

/**
 * JSON pointer of the field whose change restarts an Argo Rollout: its controller recreates
 * every pod created before that time, without a new revision (argo-rollouts
 * docs/features/restart.md), so Rollouts are restarted here and never through the template.
 */
export const RESTART_AT_FIELD = '/spec/restartAt';

/** Workloads restarted through {@link RESTART_AT_FIELD} instead of {@link RESTART_ANNOTATION}. */
export const restartsThroughRestartAt = (w: Pick<Workload, 'kind'>): boolean => w.kind === 'Rollout';

/** How a pod template uses a Secret. */
export type RefKind = 'env' | 'envFrom' | 'volume' | 'projected' | 'imagePullSecrets';

/**
 * A field of a pod spec that names a Secret and that a versioned rotation repoints: `path` from
 * the PodSpec, `*` standing for every item of a list. The last segment is the name itself.
 */
export interface SecretReferenceField {
  via: RefKind;
  path: readonly string[];
}

/**
 * Every place a pod spec names a Secret, in the order references are reported:
 * `env[].valueFrom.secretKeyRef.name` and `envFrom[].secretRef.name` of init containers and
 * containers, `volumes[].secret.secretName`, `volumes[].projected.sources[].secret.name` and
 * `imagePullSecrets[].name`. Ephemeral containers are not part of a workload's template.
 */
export const SECRET_REFERENCE_FIELDS: readonly SecretReferenceField[] = [
  { via: 'env', path: ['initContainers', '*', 'env', '*', 'valueFrom', 'secretKeyRef', 'name'] },
  { via: 'envFrom', path: ['initContainers', '*', 'envFrom', '*', 'secretRef', 'name'] },
  { via: 'env', path: ['containers', '*', 'env', '*', 'valueFrom', 'secretKeyRef', 'name'] },
  { via: 'envFrom', path: ['containers', '*', 'envFrom', '*', 'secretRef', 'name'] },
  { via: 'volume', path: ['volumes', '*', 'secret', 'secretName'] },
  { via: 'projected', path: ['volumes', '*', 'projected', 'sources', '*', 'secret', 'name'] },
  { via: 'imagePullSecrets', path: ['imagePullSecrets', '*', 'name'] },
];
