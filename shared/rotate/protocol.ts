import type { V1Secret } from '@kubernetes/client-node';
import { InterruptedError } from '../errors/index.js';
import { retryOnConflict } from '../kube/conflict-retry.js';
import { isKubeError } from '../kube/kube-error.js';
import type { MetadataPatch } from '../kube/secrets.js';
import { digestKey, keyedDigests } from './fingerprint.js';
import { Annotations, type BaseRecord, Labels, MANAGED_BY, parseBaseRecord } from './metadata.js';
import { pendingName } from './names.js';
import { backendContext, generationContext } from './plugin-context.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RotationError } from './rotation-error.js';
import { isPendingOf, readPending } from './rotation-steps.js';
import { annotationsOf, foreignAnnotations, foreignLabels, labelsOf, overlay, ownerRefTo, pick } from './secret-access.js';
import { dataSize, decodeData, encodeData, generateValues, MAX_SECRET_DATA_BYTES } from './values.js';

/**
 * Protocol steps shared by both strategies (AWS Secrets Manager's createSecret, setSecret and
 * testSecret), and the writes that record them on the pending companion.
 *
 * Step 1, create: the new values are generated once and stored in a pending companion
 * labelled with the rotation id, before anything else changes. From then on the companion is
 * the source of truth: a rerun finds it and continues with its values, so a crash never
 * produces a second value set. Steps 2 and 3 (set, test) run a backend plug-in when the
 * policy names one, recording each on the companion before moving on. The steps and their
 * records are listed in rotation-steps.ts.
 */

/**
 * Step 1 (create): generates the new values and stores them in the pending companion. For
 * in-place rotation the companion (`<name>-pending`, owned by the Secret) holds the rotated
 * keys; for versioned rotation it is the next version itself (immutable, every key), marked
 * pending until promoted. When a companion already exists (an earlier run crashed right after
 * creating it) it is adopted and the values just generated are discarded unused.
 */
export async function createPending(rot: Rotation, deps: RotationDeps): Promise<void> {
  const head = rot.head;
  const namespace = rot.namespace;
  const current = decodeData(head.data);
  for (const k of rot.policy.rotatedKeys) {
    const v = current.get(k);
    if (v !== undefined) deps.register(v);
  }
  let values: Map<string, Buffer>;
  try {
    values = await generateValues(rot.policy, current, generationContext(rot, deps));
  } catch (e) {
    throw new RotationError('generation', `Secret ${rot.label}: ${(e as Error).message}`, { cause: e });
  }
  const merged = overlay(current, values);
  if (dataSize(merged) > MAX_SECRET_DATA_BYTES) {
    throw new RotationError(
      'too-large',
      `Secret ${rot.label}: the new data (${dataSize(merged)} bytes) would exceed the 1 MiB Secret limit`,
    );
  }
  const base: BaseRecord = { resourceVersion: head.metadata?.resourceVersion ?? '', digests: keyedDigests(digestKey(values), current) };
  const now = deps.clock.now();
  const ours: Record<string, string> = {
    [Annotations.companionOf]: rot.name,
    [Annotations.rotationStep]: rot.stepAfter('create'),
    [Annotations.rotationSlot]: rot.slot,
    [Annotations.rotationReason]: rot.reason,
    [Annotations.rotatedKeys]: [...values.keys()].sort().join(','),
    [Annotations.base]: JSON.stringify(base),
    [Annotations.startedAt]: now.toISOString(),
  };
  if (rot.rotateNowSeen !== undefined) ours[Annotations.rotateNowSeen] = rot.rotateNowSeen;
  let body: V1Secret;
  if (rot.strategy === 'versioned') {
    const v = rot.versioned!;
    body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: v.toName,
        namespace,
        labels: { ...foreignLabels(head), [Labels.role]: 'pending', [Labels.rotationId]: rot.id },
        annotations: {
          ...foreignAnnotations(head),
          ...ours,
          [Annotations.policy]: rot.policyText,
          [Annotations.lineage]: v.base,
          [Annotations.version]: String(v.toVersion),
        },
      },
      type: head.type,
      immutable: true,
      data: encodeData(merged),
    };
  } else {
    body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: pendingName(rot.name),
        namespace,
        labels: { [Labels.managedBy]: MANAGED_BY, [Labels.role]: 'pending', [Labels.rotationId]: rot.id },
        annotations: ours,
        // Owned by the Secret, so that it goes with it; not when a backend will get its values: the
        // garbage collector would then delete, with the Secret, the only copy of what a database uses.
        ownerReferences: rot.policy.backend === undefined ? ownerRefTo(head) : undefined,
      },
      type: 'Opaque',
      data: encodeData(values),
    };
  }
  const name = body.metadata!.name!;
  let pending: V1Secret;
  try {
    pending = await deps.secrets.create(namespace, body);
  } catch (e) {
    if (!isKubeError(e, (k) => k.alreadyExists || k.outcomeUnknown)) throw e;
    const existing = await deps.secrets.get(namespace, name);
    if (existing === undefined) throw e;
    if (!isPendingOf(existing, rot.name)) {
      throw new RotationError(
        'collision',
        `Secret ${rot.label}: cannot create ${rot.strategy === 'versioned' ? 'the next version' : 'the pending companion'} ${namespace}/${name}: a Secret of that name exists and is not ours`,
      );
    }
    if (labelsOf(existing)[Labels.rotationId] !== rot.id) {
      deps.log.info(
        { secret: rot.label, rotation: labelsOf(existing)[Labels.rotationId], pending: name },
        'a pending companion already exists: continuing its rotation (the values just generated are discarded)',
      );
    }
    const record = readPending(existing, rot.policy);
    for (const v of record.newValues.values()) deps.register(v);
    rot.adopted(existing, record, pick(current, values.keys()));
    return;
  }
  rot.created(pending, values, pick(current, values.keys()));
  deps.log.info(
    { secret: rot.label, rotation: rot.id, pending: name, fingerprints: deps.fingerprinter.fingerprints(values) },
    'step create: new values generated and stored in the pending companion',
  );
}

/**
 * Patches the metadata of the rotation's Secret or of its pending companion
 * (resourceVersion-guarded), re-reading it on conflict (the Secret may be written by others):
 * `build` gets the object as last read.
 */
async function patchMetadata(
  rot: Rotation,
  deps: RotationDeps,
  which: 'head' | 'pending',
  build: (s: V1Secret) => Omit<MetadataPatch, 'resourceVersion'>,
): Promise<V1Secret> {
  const name = rot[which]!.metadata!.name!;
  return retryOnConflict(
    async (attempt, conflict) => {
      if (attempt > 1) {
        const fresh = await deps.secrets.get(rot.namespace, name);
        if (fresh === undefined) throw conflict;
        rot.observe({ [which]: fresh });
      }
      const s = rot[which]!;
      const written = await deps.secrets.patchMetadata(rot.namespace, name, { resourceVersion: s.metadata!.resourceVersion!, ...build(s) });
      rot.observe({ [which]: written });
      return written;
    },
    { clock: deps.clock },
  );
}

/** Records on the pending companion the step `event` leads to, then applies it to the rotation. */
export async function recordPendingStep(
  rot: Rotation,
  event: 'set' | 'test' | 'test-failed' | 'roll-back',
  deps: RotationDeps,
): Promise<void> {
  const step = rot.stepAfter(event);
  rot.recorded(event, await patchMetadata(rot, deps, 'pending', () => ({ annotations: { [Annotations.rotationStep]: step } })));
}

/** Patches the Secret's metadata, re-reading it on conflict: `build` gets the Secret as last read. */
export async function patchHead(
  rot: Rotation,
  deps: RotationDeps,
  build: (head: V1Secret) => { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
): Promise<void> {
  await patchMetadata(rot, deps, 'head', build);
}

const stepFailed = (rot: Rotation, step: 'set' | 'test', e: unknown) =>
  `Secret ${rot.label}: step ${step} (backend ${rot.policy.backend!.backend.name}) failed: ${(e as Error).message}`;

/**
 * Step 2 (set): the policy's backend accepts the new values; recorded on the pending companion. `set` must be idempotent.
 *
 * A companion created owned by the Secret (by a release before 0.2.0) first loses its owner: from
 * now on a backend may hold its values, and the garbage collector would delete it with the Secret
 * (deleted, or deleted and created again by a restore) and those values with it. Without an owner
 * it stays for the next run or an operator.
 */
export async function setBackend(rot: Rotation, deps: RotationDeps): Promise<void> {
  const b = rot.policy.backend!;
  if (rot.pending?.metadata?.ownerReferences?.length) await patchMetadata(rot, deps, 'pending', () => ({ ownerReferences: null }));
  const current = decodeData(rot.head.data);
  try {
    await b.backend.set(backendContext(rot, deps, current, overlay(current, rot.newValues!)));
  } catch (e) {
    throw new RotationError('backend', stepFailed(rot, 'set', e), { cause: e });
  }
  await recordPendingStep(rot, 'set', deps);
  deps.log.info({ secret: rot.label, rotation: rot.id, backend: b.backend.name }, 'step set: the backend accepts the new values');
}

/**
 * Step 3 (test): the new values work against the backend; recorded on the pending companion.
 *
 * When test fails, the backend is set back to the Secret's current values (consumers still
 * use them: a single-user database password must not stay changed) and the companion goes
 * back to step `created`, so the next run sets and tests the same pending values again. If
 * setting back fails too, the companion stays at `set`: the backend may hold the pending
 * values, and the next run continues from them.
 */
export async function testBackend(rot: Rotation, deps: RotationDeps): Promise<void> {
  const b = rot.policy.backend!;
  const current = decodeData(rot.head.data);
  const pending = overlay(current, rot.newValues!);
  const ctx = backendContext(rot, deps, current, pending);
  try {
    await b.backend.test(ctx);
  } catch (e) {
    const failed = stepFailed(rot, 'test', e);
    if (e instanceof InterruptedError) throw e;
    try {
      await b.backend.set({ ...ctx, current: pending, pending: current, reverting: true });
    } catch (back) {
      deps.log.error(
        { secret: rot.label, rotation: rot.id, backend: b.backend.name, err: back },
        'setting the backend back to the current values failed',
      );
      throw new RotationError('backend', `${failed}; setting it back to the current values failed too: ${(back as Error).message}`, {
        cause: e,
      });
    }
    await recordPendingStep(rot, 'test-failed', deps);
    deps.log.warn(
      { secret: rot.label, rotation: rot.id, backend: b.backend.name },
      'step test failed: the backend was set back to the current values',
    );
    throw new RotationError('backend', `${failed}; the backend was set back to the current values, which stay in use`, { cause: e });
  }
  await recordPendingStep(rot, 'test', deps);
  deps.log.info({ secret: rot.label, rotation: rot.id, backend: b.backend.name }, 'step test: the new values work against the backend');
}

/** On rollback, `set` runs again with the roles swapped so the backend accepts the restored values. */
export async function revertBackend(rot: Rotation, deps: RotationDeps): Promise<void> {
  const b = rot.policy.backend;
  if (b === undefined || rot.newValues === undefined || rot.oldValues === undefined) return;
  const base = decodeData(rot.head.data);
  const restored = new Map(base);
  for (const k of rot.newValues.keys()) {
    const old = rot.oldValues.get(k);
    if (old === undefined) restored.delete(k);
    else restored.set(k, old);
  }
  try {
    await b.backend.set(backendContext(rot, deps, overlay(base, rot.newValues), restored, true));
  } catch (e) {
    throw new RotationError('backend', `Secret ${rot.label}: rollback of backend ${b.backend.name} failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Deletes the pending companion (uid precondition); gone already is fine. */
export async function deletePending(rot: Rotation, deps: RotationDeps): Promise<void> {
  const p = rot.pending;
  if (p === undefined) return;
  await deps.secrets.delete(rot.namespace, p.metadata!.name!, { uid: p.metadata?.uid });
  rot.observe({ pending: undefined });
}

/** The base record of the pending companion (data digests when the values were generated). */
export function baseRecordOf(rot: Rotation): BaseRecord | undefined {
  return parseBaseRecord(annotationsOf(rot.pending)[Annotations.base]);
}
