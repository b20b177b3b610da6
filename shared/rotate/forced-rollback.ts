import { errorText, InterruptedError } from '../errors/index.js';
import { REVISION_LABEL, type Workload, type WorkloadPod } from '../kube/workloads.js';
import { rotationsOfRestartValue } from './metadata.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RESTART_ANNOTATION } from './workload-fields.js';

/**
 * Forced rollback of a StatefulSet (upstream's name for it, kubernetes/kubernetes#67250).
 *
 * With the default OrderedReady pod management, the StatefulSet controller never replaces a pod
 * that is not Running and Ready: when a rotation's restart left a pod of the new revision that
 * never became ready, restoring the pod template (the rollback) changes the update revision back,
 * but the broken pod stays and the rollout back never starts. Someone has to delete that pod.
 *
 * When the rollback's verification fails for such a StatefulSet, the pods that block it are read
 * from the API server: controlled by that StatefulSet (owner uid), at an ordinal the rollout
 * updates (>= partition), on another revision than `status.updateRevision`, not Running and
 * Ready, and created from a pod template whose `secret-steward.io/restartedAt` names one of the
 * rotations rolled back. With `rollout.forceRollback: true` on every rotation the StatefulSet
 * consumes in this rollback, the run deletes exactly those pods (uid precondition) and verifies
 * again; otherwise it names them (log, Warning Event, the outcome) for the operator to delete.
 * The delete permission comes from manifests/components/statefulset-forced-rollback, whose
 * ValidatingAdmissionPolicy admits only such pods (docs/statefulset-forced-rollback.md).
 */

/** Whether a failed rollback of `w` may be a forced-rollback case. */
export function mayNeedForcedRollback(w: Workload): boolean {
  return w.kind === 'StatefulSet' && w.orderedReady && !w.onDelete;
}

function ordinalOf(pod: WorkloadPod, w: Workload): number {
  const suffix = pod.name.startsWith(`${w.name}-`) ? pod.name.slice(w.name.length + 1) : '';
  return /^\d+$/.test(suffix) ? Number(suffix) : -1;
}

/** The pods of `w` on a failed revision of `rolledBack` that keep it from its update revision, by name. */
export async function blockingPods(w: Workload, rolledBack: ReadonlySet<string>, deps: RotationDeps): Promise<WorkloadPod[]> {
  const target = w.status.updateRevision;
  if (target === undefined || Object.keys(w.selector).length === 0) return [];
  const pods = await deps.workloads.listPods(w.namespace, w.selector);
  return pods
    .filter(
      (p) =>
        p.controllerUid === w.uid &&
        !p.ready &&
        ordinalOf(p, w) >= w.partition &&
        p.labels[REVISION_LABEL] !== undefined &&
        p.labels[REVISION_LABEL] !== target &&
        rotationsOfRestartValue(p.annotations[RESTART_ANNOTATION]).some((id) => rolledBack.has(id)),
    )
    .sort((a, b) => ordinalOf(b, w) - ordinalOf(a, w));
}

/** What {@link forceRollback} reports back: the message to add, and the pods still blocking. */
export interface ForcedRollbackResult {
  /** Deleted: verify again. Blocked: the operator must delete `pods`. None: nothing of ours blocks. */
  result: 'deleted' | 'blocked' | 'none';
  message: string;
  /** Names of the pods deleted (deleted) or to delete (blocked). */
  pods: string[];
}

const podList = (pods: readonly WorkloadPod[], namespace: string) => pods.map((p) => `${namespace}/${p.name}`).join(', ');

/**
 * After a failed verification of a restored StatefulSet: deletes the pods that block it when
 * every rotation allows it, otherwise reports them. The StatefulSet is re-read first.
 */
export async function forceRollback(
  w: Workload,
  rotations: readonly Rotation[],
  rolledBack: ReadonlySet<string>,
  deps: RotationDeps,
): Promise<ForcedRollbackResult> {
  const fresh = (await deps.workloads.get(w.kind, w.namespace, w.name)) ?? w;
  let pods: WorkloadPod[];
  try {
    pods = await blockingPods(fresh, rolledBack, deps);
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    return {
      result: 'none',
      message: `cannot tell which pods of the failed revision block it (${errorText(e)}); the statefulset-forced-rollback component grants rotate list on pods`,
      pods: [],
    };
  }
  if (pods.length === 0) return { result: 'none', message: '', pods: [] };
  const subject = { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: w.namespace, name: w.name, uid: w.uid };
  const target = fresh.status.updateRevision ?? '';
  const why = pods
    .map((p) => `${pods.length > 1 ? `${p.name}: ` : ''}revision ${p.labels[REVISION_LABEL]}, ${p.notReadyReason ?? 'not ready'}`)
    .join('; ');
  const disallowing = rotations.filter((r) => !r.policy.rollout.forceRollback).map((r) => r.label);
  if (disallowing.length > 0) {
    const message = `delete pod ${podList(pods, w.namespace)} (${why}): an OrderedReady StatefulSet never replaces a pod that is not ready, so ${w.name} cannot return to revision ${target}; or set rollout.forceRollback: true (${disallowing.join(', ')})`;
    deps.log.error({ workload: `statefulset/${w.name}`, namespace: w.namespace, pods: pods.map((p) => p.name) }, message);
    await deps.events.record({ subject, type: 'Warning', reason: 'ForcedRollbackNeeded', message, action: 'Rollback' });
    return { result: 'blocked', message, pods: pods.map((p) => p.name) };
  }
  const deleted: string[] = [];
  for (const pod of pods) {
    deps.shutdown.checkpoint();
    let gone: boolean;
    try {
      gone = await deps.workloads.deletePod(pod);
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      const left = pods.filter((p) => !deleted.includes(p.name));
      const message = `forced rollback of StatefulSet ${w.namespace}/${w.name} failed: ${errorText(e)}; delete pod ${podList(left, w.namespace)} so that it returns to revision ${target}`;
      deps.log.error({ workload: `statefulset/${w.name}`, namespace: w.namespace, pods: left.map((p) => p.name) }, message);
      await deps.events.record({ subject, type: 'Warning', reason: 'ForcedRollbackNeeded', message, action: 'Rollback' });
      return { result: 'blocked', message, pods: left.map((p) => p.name) };
    }
    // false: already gone or replaced (uid precondition) by someone else; nothing deleted here.
    if (!gone) continue;
    deleted.push(pod.name);
    deps.log.warn(
      { workload: `statefulset/${w.name}`, namespace: w.namespace, pod: pod.name, revision: pod.labels[REVISION_LABEL] },
      'forced rollback: deleted a pod of the failed revision',
    );
    await deps.events.record({
      subject,
      type: 'Normal',
      reason: 'ForcedRollback',
      message: `deleted pod ${pod.name} (revision ${pod.labels[REVISION_LABEL]}, ${pod.notReadyReason ?? 'not ready'}) so that the StatefulSet returns to revision ${target} (rollout.forceRollback)`,
      action: 'Rollback',
    });
  }
  const message =
    deleted.length > 0
      ? `forced rollback deleted pod ${deleted.map((name) => `${w.namespace}/${name}`).join(', ')}`
      : `the blocking pod(s) ${podList(pods, w.namespace)} were already deleted or replaced`;
  return { result: 'deleted', message, pods: deleted };
}
