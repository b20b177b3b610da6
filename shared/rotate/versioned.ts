import type { V1Secret } from '@kubernetes/client-node';
import { retryOnConflict } from '../kube/conflict-retry.js';
import type { Workload } from '../kube/workloads.js';
import { lineageOf } from './inventory.js';
import { Annotations, Labels, type OutcomeResult, outcomeAnnotation, outcomeChanges } from './metadata.js';
import { deletePending, patchHead } from './protocol.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { annotationsOf, type SecretView } from './secret-access.js';
import { secretRefs } from './secret-refs.js';

/**
 * The versioned strategy: every rotation makes a new immutable Secret `<base>-v<N>` (created
 * by step 1 as the pending version) and repoints the consumers' references to it (step 4,
 * done by the rollout). Only when every consumer is healthy on it is it promoted: it takes
 * over the policy and the rotation record, and the old version is marked superseded. The
 * last `keepVersions` versions are kept; older ones are deleted unless a workload still
 * references them. Rollback repoints the consumers to the old version and deletes the
 * version that was never promoted.
 */

/** Annotations the pending version carries only while in flight. */
const IN_FLIGHT = [
  Annotations.companionOf,
  Annotations.rotationStep,
  Annotations.rotationSlot,
  Annotations.rotationReason,
  Annotations.rotatedKeys,
  Annotations.base,
  Annotations.startedAt,
  Annotations.rotateNowSeen,
] as const;

/**
 * Promotes the new version after its consumers were verified: it becomes the head (policy,
 * last-rotated, last-outcome), then the old head is marked superseded (its policy removed, so
 * nothing treats it as rotatable again, and the outcome of an earlier failed attempt, which the
 * new head's outcome replaces, as on an in-place Secret). Each write is resourceVersion-guarded
 * and repeatable. Returns the old head as it is now.
 */
export async function promoteVersion(rot: Rotation, deps: RotationDeps, message: string): Promise<V1Secret> {
  const now = deps.clock.now();
  const pending = rot.pending!;
  const policyText = annotationsOf(rot.head)[Annotations.policy] ?? rot.policyText;
  const clear = Object.fromEntries(IN_FLIGHT.map((k) => [k, null])) as Record<string, null>;
  const name = pending.metadata!.name!;
  const promoted = await retryOnConflict(
    async (attempt) => {
      const p = attempt === 1 ? pending : await deps.secrets.get(rot.namespace, name);
      if (p === undefined) throw new Error(`version ${rot.namespace}/${name} disappeared before it was promoted`);
      return deps.secrets.patchMetadata(rot.namespace, name, {
        resourceVersion: p.metadata!.resourceVersion!,
        labels: { [Labels.role]: null, [Labels.rotationId]: null },
        annotations: {
          ...clear,
          [Annotations.policy]: policyText,
          [Annotations.lastRotated]: now.toISOString(),
          [Annotations.lastSlot]: rot.slot,
          [Annotations.lastOutcome]: outcomeAnnotation(rot, 'succeeded', now, message),
        },
      });
    },
    { clock: deps.clock },
  );
  const v = rot.versioned!;
  const oldHead = rot.head;
  rot.observe({ pending: undefined });
  await patchHead(rot, deps, () => ({
    annotations: {
      [Annotations.supersededBy]: v.toName,
      [Annotations.lineage]: v.base,
      [Annotations.version]: String(v.fromVersion),
      [Annotations.policy]: null,
      [Annotations.rotateNow]: null,
      [Annotations.lastOutcome]: null,
    },
  }));
  const superseded = rot.head;
  deps.log.info(
    { secret: `${rot.namespace}/${v.toName}`, supersedes: oldHead.metadata?.name, rotation: rot.id },
    'versioned: new version promoted; the old one is superseded',
  );
  rot.observe({ head: promoted });
  return superseded;
}

/**
 * Deletes versions of the lineage beyond the newest `keepVersions`, except those a workload
 * still references (a paused Deployment, a consumer not in an explicit list). Returns the
 * names deleted.
 */
export async function collectVersions(
  namespace: string,
  base: string,
  members: readonly SecretView[],
  keepVersions: number,
  workloads: readonly Workload[],
  deps: RotationDeps,
): Promise<string[]> {
  const referenced = new Set<string>();
  for (const w of workloads) for (const r of secretRefs(w.template)) referenced.add(r.name);
  const byVersion = [...new Map(members.map((m) => [m.metadata!.name!, m])).values()]
    .filter((m) => m.metadata?.labels?.[Labels.role] === undefined)
    .sort((x, y) => lineageOf(y).version - lineageOf(x).version);
  const deleted: string[] = [];
  for (const m of byVersion.slice(keepVersions)) {
    const name = m.metadata!.name!;
    if (referenced.has(name)) {
      deps.log.info({ secret: `${namespace}/${name}`, lineage: base }, 'old version kept: a workload still references it');
      continue;
    }
    if (await deps.secrets.delete(namespace, name, { uid: m.metadata?.uid })) deleted.push(name);
  }
  if (deleted.length > 0) deps.log.info({ lineage: `${namespace}/${base}`, deleted }, 'old versions deleted');
  return deleted;
}

/** Records the outcome of a rotation that did not promote its version, and deletes that version. */
export async function abandonVersion(
  rot: Rotation,
  deps: RotationDeps,
  result: OutcomeResult,
  message: string | undefined,
  clearRotateNow: boolean,
): Promise<void> {
  const now = deps.clock.now();
  await patchHead(rot, deps, (head) => ({ annotations: outcomeChanges(rot, head, result, now, message, clearRotateNow) }));
  await deletePending(rot, deps);
}
