import type { V1Secret } from '@kubernetes/client-node';
import { isKubeError } from '../kube/kube-error.js';
import { digestKey, fingerprints, keyedDigest } from './fingerprint.js';
import { Annotations, Labels, MANAGED_BY, type OutcomeResult } from './metadata.js';
import { pendingName, previousName } from './names.js';
import {
  annotationsOf,
  baseRecordOf,
  deletePending,
  generationContext,
  isPreviousOf,
  outcomeChanges,
  overlay,
  ownerRefTo,
  patchHead,
  pick,
} from './protocol.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RotationError } from './rotation-error.js';
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

const MAX_ATTEMPTS = 5;

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
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (existing !== undefined && existing.data === undefined && existing.metadata?.labels?.[Labels.rotationId] === rot.id) {
      // Listed metadata only, and written by this very rotation: its data decides whether it needs writing again.
      existing = await deps.secrets.get(namespace, name);
    }
    if (existing !== undefined) {
      if (!isPreviousOf(existing, rot.name)) {
        throw new RotationError(
          'collision',
          `Secret ${rot.label}: cannot keep the previous values in ${namespace}/${name}: a Secret of that name exists and is not ours`,
        );
      }
      if (existing.metadata?.labels?.[Labels.rotationId] === rot.id && sameData(decodeData(existing.data), data)) {
        rot.previous = existing;
        return;
      }
      try {
        rot.previous = await deps.secrets.replace(namespace, name, body(existing.metadata!.resourceVersion));
        return;
      } catch (e) {
        if (!isKubeError(e, (k) => k.conflict || k.notFound)) throw e;
        existing = await deps.secrets.get(namespace, name);
        continue;
      }
    }
    try {
      rot.previous = await deps.secrets.create(namespace, body());
      return;
    } catch (e) {
      if (!isKubeError(e, (k) => k.alreadyExists)) throw e;
      existing = await deps.secrets.get(namespace, name);
    }
  }
  throw new RotationError('conflict', `Secret ${rot.label}: ${namespace}/${name} kept changing while the previous values were written`);
}

/**
 * Step 4 (finish) for in-place rotation: promotes the pending values into the Secret. Safe to
 * repeat: a Secret already recording this rotation as finished is left as it is.
 */
export async function promoteInPlace(rot: Rotation, deps: RotationDeps): Promise<void> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const head = rot.head;
    const a = annotationsOf(head);
    if (
      a[Annotations.rotationId] === rot.id &&
      (a[Annotations.rotationStep] === 'finished' || a[Annotations.rotationStep] === 'rolling-back')
    ) {
      rot.step = a[Annotations.rotationStep] as 'finished' | 'rolling-back';
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
    rot.oldValues = pick(current, rendered.keys());
    await writePrevious(rot, deps, current);
    const body: V1Secret = {
      ...head,
      metadata: {
        ...head.metadata,
        annotations: {
          ...a,
          [Annotations.rotationId]: rot.id,
          [Annotations.rotationStep]: 'finished',
          [Annotations.rotationPending]: pendingName(rot.name),
          [Annotations.rotationSlot]: rot.slot,
        },
      },
      data: encodeData(merged),
    };
    try {
      rot.head = await deps.secrets.replace(rot.namespace, rot.name, body);
    } catch (e) {
      if (!isKubeError(e, (k) => k.conflict)) throw e;
      deps.log.info(
        { secret: rot.label, rotation: rot.id, attempt },
        'the Secret changed since it was read (409): re-reading and merging again',
      );
      const fresh = await deps.secrets.get(rot.namespace, rot.name);
      if (fresh === undefined) throw new RotationError('conflict', `Secret ${rot.label} was deleted during rotation ${rot.id}`);
      rot.head = fresh;
      continue;
    }
    rot.newValues = rendered;
    rot.step = 'finished';
    deps.log.info(
      { secret: rot.label, rotation: rot.id, fingerprints: fingerprints(rendered), previous: previousName(rot.name) },
      'step finish: new values written to the Secret, previous values kept',
    );
    return;
  }
  throw new RotationError(
    'conflict',
    `Secret ${rot.label}: it kept changing while rotation ${rot.id} tried to write it (${MAX_ATTEMPTS} attempts)`,
  );
}

/**
 * Rollback, data part: the rotated keys get their previous values back in one write, recorded
 * as step `rolling-back`. Keys another writer changed after the promotion are not touched: the
 * rollback then fails with a conflict instead of overwriting them.
 */
export async function restoreInPlace(rot: Rotation, deps: RotationDeps): Promise<void> {
  if (rot.oldValues === undefined || rot.newValues === undefined) {
    throw new RotationError(
      'conflict',
      `Secret ${rot.label}: the previous values of rotation ${rot.id} are not available (${previousName(rot.name)} is missing); cannot roll back`,
    );
  }
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const head = rot.head;
    const a = annotationsOf(head);
    if (a[Annotations.rotationId] === rot.id && a[Annotations.rotationStep] === 'rolling-back') {
      rot.step = 'rolling-back';
      return;
    }
    const current = decodeData(head.data);
    const changed = [...rot.newValues.keys()].filter((k) => {
      const cur = current.get(k);
      const old = rot.oldValues!.get(k);
      const mine = rot.newValues!.get(k)!;
      return (
        !(cur !== undefined && (cur.equals(mine) || (old !== undefined && cur.equals(old)))) && !(cur === undefined && old === undefined)
      );
    });
    if (changed.length > 0) {
      throw new RotationError(
        'conflict',
        `Secret ${rot.label}: ${changed.join(', ')} changed by another writer after rotation ${rot.id}; not rolled back, nothing was overwritten`,
      );
    }
    const restored = new Map(current);
    for (const k of rot.newValues.keys()) {
      const old = rot.oldValues.get(k);
      if (old === undefined) restored.delete(k);
      else restored.set(k, old);
    }
    const body: V1Secret = {
      ...head,
      metadata: {
        ...head.metadata,
        annotations: {
          ...a,
          [Annotations.rotationId]: rot.id,
          [Annotations.rotationStep]: 'rolling-back',
          [Annotations.rotationSlot]: rot.slot,
        },
      },
      data: encodeData(restored),
    };
    try {
      rot.head = await deps.secrets.replace(rot.namespace, rot.name, body);
    } catch (e) {
      if (!isKubeError(e, (k) => k.conflict)) throw e;
      const fresh = await deps.secrets.get(rot.namespace, rot.name);
      if (fresh === undefined)
        throw new RotationError('conflict', `Secret ${rot.label} was deleted during the rollback of rotation ${rot.id}`);
      rot.head = fresh;
      continue;
    }
    rot.step = 'rolling-back';
    deps.log.warn(
      { secret: rot.label, rotation: rot.id, fingerprints: fingerprints(pick(restored, rot.newValues.keys())) },
      'rollback: previous values restored in the Secret',
    );
    return;
  }
  throw new RotationError('conflict', `Secret ${rot.label}: it kept changing while rotation ${rot.id} was rolled back`);
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
