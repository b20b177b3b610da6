import type { V1Secret } from '@kubernetes/client-node';
import { CONFLICT_ATTEMPTS, retryOnConflict } from '../kube/conflict-retry.js';
import { isKubeError, type KubeError } from '../kube/kube-error.js';
import { digestKey, keyedDigest } from './fingerprint.js';
import { Annotations, Labels, MANAGED_BY, type OutcomeResult, outcomeChanges } from './metadata.js';
import { pendingName, previousName } from './names.js';
import { generationContext } from './plugin-context.js';
import { baseRecordOf, deletePending, patchHead } from './protocol.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RotationError } from './rotation-error.js';
import { isPreviousOf, stepOnHead } from './rotation-steps.js';
import { annotationsOf, isOwnedBy, overlay, ownerRefTo, pick } from './secret-access.js';
import { dataSize, decodeData, encodeData, MAX_SECRET_DATA_BYTES, rerenderTemplates, sameData } from './values.js';

/**
 * The in-place strategy: the Secret keeps its name and gets new data.
 *
 * finish: one write (PUT, resourceVersion-guarded) changes every rotated key at once and
 * records `rotation-id`/`rotation-step: finished` on the Secret; just before it, the values
 * being replaced are copied to `<name>-previous` (for rollback, and for apps that accept the
 * previous key during a changeover). A concurrent writer is never overwritten: on 409 the
 * Secret is re-read and the change is merged again; if the other writer changed a key this
 * rotation changes, the rotation stops with a conflict error and nothing is written.
 * rollback: the rotated keys get their previous values back in one write (`rolling-back`);
 * keys the rotation created are removed again.
 */

/** Keys whose current value is neither ours nor what it was when the values were generated. */
function conflictingKeys(rot: Rotation, current: ReadonlyMap<string, Buffer>): string[] {
  const base = baseRecordOf(rot);
  if (base === undefined) return [];
  const key = digestKey(rot.newValues!);
  const out: string[] = [];
  for (const [k, mine] of rot.newValues!) {
    const cur = current.get(k);
    if (cur?.equals(mine)) continue;
    const actual = cur === undefined ? undefined : keyedDigest(key, cur);
    if (actual !== base.digests[k]) out.push(k);
  }
  return out;
}

/**
 * The Secret `head` with `data`, recording the rotation at the step `event` leads to: one PUT
 * writes both, so the Secret never holds values its records do not explain.
 */
function recordingStep(
  rot: Rotation,
  head: V1Secret,
  event: 'finish' | 'roll-back',
  data: ReadonlyMap<string, Buffer>,
  extra: Record<string, string> = {},
): V1Secret {
  const annotations = {
    ...annotationsOf(head),
    [Annotations.rotationId]: rot.id,
    [Annotations.rotationStep]: rot.stepAfter(event),
    ...extra,
    [Annotations.rotationSlot]: rot.slot,
  };
  return { ...head, metadata: { ...head.metadata, annotations }, data: encodeData(data) };
}

/** Writes (or confirms) `<name>-previous` holding `data`: the values about to be replaced. */
async function writePrevious(rot: Rotation, deps: RotationDeps, data: ReadonlyMap<string, Buffer>): Promise<void> {
  const namespace = rot.namespace;
  const name = previousName(rot.name);
  const body = (resourceVersion?: string): V1Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      resourceVersion,
      labels: { [Labels.managedBy]: MANAGED_BY, [Labels.role]: 'previous', [Labels.rotationId]: rot.id },
      annotations: { [Annotations.companionOf]: rot.name },
      ownerReferences: ownerRefTo(rot.head),
    },
    type: rot.head.type,
    data: encodeData(data),
  });
  let existing = rot.previous;
  let last: 'replace' | 'create' = 'create';
  // Created or deleted by someone else since it was read: read it again, as after a conflict.
  const stale = (k: KubeError) => (last === 'create' ? k.alreadyExists : k.notFound);
  try {
    await retryOnConflict(
      async (attempt) => {
        if (attempt > 1) existing = await deps.secrets.get(namespace, name);
        if (existing !== undefined && existing.data === undefined && existing.metadata?.labels?.[Labels.rotationId] === rot.id) {
          // Listed metadata only, and written by this very rotation: its data decides whether it needs writing again.
          existing = await deps.secrets.get(namespace, name);
        }
        if (existing === undefined) {
          last = 'create';
          rot.observe({ previous: await deps.secrets.create(namespace, body()) });
          return;
        }
        if (!isPreviousOf(existing, rot.name)) {
          throw new RotationError(
            'collision',
            `Secret ${rot.label}: cannot keep the previous values in ${namespace}/${name}: a Secret of that name exists and is not ours`,
          );
        }
        // Owned by an earlier Secret of that name (deleted and created again since): written again with
        // this one as its owner, or the garbage collector deletes the previous values with the old owner.
        if (
          existing.metadata?.labels?.[Labels.rotationId] === rot.id &&
          sameData(decodeData(existing.data), data) &&
          isOwnedBy(existing, rot.head)
        ) {
          rot.observe({ previous: existing });
          return;
        }
        last = 'replace';
        rot.observe({ previous: await deps.secrets.replace(namespace, name, body(existing.metadata!.resourceVersion)) });
      },
      { clock: deps.clock, alsoConflict: stale },
    );
  } catch (e) {
    if (!isKubeError(e, (k) => k.conflict || stale(k))) throw e;
    throw new RotationError('conflict', `Secret ${rot.label}: ${namespace}/${name} kept changing while the previous values were written`, {
      cause: e,
    });
  }
}

/**
 * Step 4 (finish) for in-place rotation: promotes the pending values into the Secret. Safe to
 * repeat: a Secret already recording this rotation as finished is left as it is.
 */
export async function promoteInPlace(rot: Rotation, deps: RotationDeps): Promise<void> {
  try {
    await retryOnConflict(
      async (attempt) => {
        if (attempt > 1) {
          const fresh = await deps.secrets.get(rot.namespace, rot.name);
          if (fresh === undefined) throw new RotationError('conflict', `Secret ${rot.label} was deleted during rotation ${rot.id}`);
          rot.observe({ head: fresh });
        }
        const head = rot.head;
        const recorded = stepOnHead(head, 'in-place');
        if (recorded?.id === rot.id) {
          rot.recordedAhead(recorded.step as 'finished' | 'rolling-back');
          return;
        }
        const current = decodeData(head.data);
        const conflicts = conflictingKeys(rot, current);
        if (conflicts.length > 0) {
          throw new RotationError(
            'conflict',
            `Secret ${rot.label}: ${conflicts.length === 1 ? 'key' : 'keys'} ${conflicts.join(', ')} changed by another writer since rotation ${rot.id} generated its values; nothing was overwritten (the next run plans again from the new data)`,
          );
        }
        // Templates follow the current values of the keys they read (another writer may have changed one).
        const rendered = pick(
          await rerenderTemplates(rot.policy, current, rot.newValues!, generationContext(rot, deps)),
          rot.newValues!.keys(),
        );
        for (const [k, v] of rendered) {
          if (!v.equals(rot.newValues!.get(k)!))
            deps.log.info(
              { secret: rot.label, rotation: rot.id, key: k },
              'template key re-rendered: a key it reads was changed by another writer',
            );
        }
        const merged = overlay(current, rendered);
        if (dataSize(merged) > MAX_SECRET_DATA_BYTES)
          throw new RotationError('too-large', `Secret ${rot.label}: the new data would exceed the 1 MiB Secret limit`);
        await writePrevious(rot, deps, current);
        const body = recordingStep(rot, head, 'finish', merged, { [Annotations.rotationPending]: pendingName(rot.name) });
        rot.finished(await deps.secrets.replace(rot.namespace, rot.name, body), rendered, pick(current, rendered.keys()));
        deps.log.info(
          {
            secret: rot.label,
            rotation: rot.id,
            fingerprints: deps.fingerprinter.fingerprints(rendered),
            previous: previousName(rot.name),
          },
          'step finish: new values written to the Secret, previous values kept',
        );
      },
      {
        clock: deps.clock,
        onConflict: ({ attempt }) =>
          deps.log.info(
            { secret: rot.label, rotation: rot.id, attempt },
            'the Secret changed since it was read (409): re-reading and merging again',
          ),
      },
    );
  } catch (e) {
    if (!isKubeError(e, (k) => k.conflict)) throw e;
    throw new RotationError(
      'conflict',
      `Secret ${rot.label}: it kept changing while rotation ${rot.id} tried to write it (${CONFLICT_ATTEMPTS} attempts)`,
      { cause: e },
    );
  }
}

/**
 * Rollback, data part: the rotated keys get their previous values back in one write, recorded
 * as step `rolling-back`. Keys another writer changed after the promotion are not touched: the
 * rollback then fails with a conflict instead of overwriting them.
 */
export async function restoreInPlace(rot: Rotation, deps: RotationDeps): Promise<void> {
  const { oldValues, newValues } = rot;
  if (oldValues === undefined || newValues === undefined) {
    throw new RotationError(
      'conflict',
      `Secret ${rot.label}: the previous values of rotation ${rot.id} are not available (${previousName(rot.name)} is missing); cannot roll back`,
    );
  }
  try {
    await retryOnConflict(
      async (attempt) => {
        if (attempt > 1) {
          const fresh = await deps.secrets.get(rot.namespace, rot.name);
          if (fresh === undefined)
            throw new RotationError('conflict', `Secret ${rot.label} was deleted during the rollback of rotation ${rot.id}`);
          rot.observe({ head: fresh });
        }
        const head = rot.head;
        const recorded = stepOnHead(head, 'in-place');
        if (recorded?.id === rot.id && recorded.step === 'rolling-back') {
          rot.recordedAhead('rolling-back');
          return;
        }
        const current = decodeData(head.data);
        const changed = [...newValues.keys()].filter((k) => {
          const cur = current.get(k);
          const old = oldValues.get(k);
          const mine = newValues.get(k)!;
          return (
            !(cur !== undefined && (cur.equals(mine) || (old !== undefined && cur.equals(old)))) &&
            !(cur === undefined && old === undefined)
          );
        });
        if (changed.length > 0) {
          throw new RotationError(
            'conflict',
            `Secret ${rot.label}: ${changed.join(', ')} changed by another writer after rotation ${rot.id}; not rolled back, nothing was overwritten`,
          );
        }
        const restored = new Map(current);
        for (const k of newValues.keys()) {
          const old = oldValues.get(k);
          if (old === undefined) restored.delete(k);
          else restored.set(k, old);
        }
        rot.restored(await deps.secrets.replace(rot.namespace, rot.name, recordingStep(rot, head, 'roll-back', restored)));
        deps.log.warn(
          { secret: rot.label, rotation: rot.id, fingerprints: deps.fingerprinter.fingerprints(pick(restored, newValues.keys())) },
          'rollback: previous values restored in the Secret',
        );
      },
      { clock: deps.clock },
    );
  } catch (e) {
    if (!isKubeError(e, (k) => k.conflict)) throw e;
    throw new RotationError('conflict', `Secret ${rot.label}: it kept changing while rotation ${rot.id} was rolled back`, { cause: e });
  }
}

/**
 * Records the outcome on the Secret (clearing the in-flight annotations; `last-rotated` and
 * `last-slot` only when the new values stay) and deletes the pending companion.
 */
export async function finishInPlace(rot: Rotation, deps: RotationDeps, result: OutcomeResult, message: string | undefined): Promise<void> {
  const now = deps.clock.now();
  const valuesChanged = result === 'succeeded' || (result === 'failed' && rot.step === 'finished');
  await patchHead(rot, deps, (head) => ({
    annotations: {
      [Annotations.rotationId]: null,
      [Annotations.rotationStep]: null,
      [Annotations.rotationPending]: null,
      [Annotations.rotationSlot]: null,
      ...(valuesChanged ? { [Annotations.lastRotated]: now.toISOString(), [Annotations.lastSlot]: rot.slot } : {}),
      ...outcomeChanges(rot, head, result, now, message, true),
    },
  }));
  await deletePending(rot, deps);
}
