import type { V1Secret } from '@kubernetes/client-node';
import { InterruptedError } from '../errors/index.js';
import { isKubeError } from '../kube/kube-error.js';
import type { BackendStepContext } from './backend.js';
import { digestKey, fingerprints, keyedDigests } from './fingerprint.js';
import {
  Annotations,
  type BaseRecord,
  Labels,
  type LastOutcome,
  MANAGED_BY,
  PREFIX,
  parseBaseRecord,
  type RotationStep,
} from './metadata.js';
import { pendingName, versionName } from './names.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RotationError } from './rotation-error.js';
import { dataSize, decodeData, encodeData, type GenerationContext, generateValues, MAX_SECRET_DATA_BYTES } from './values.js';

/**
 * Protocol steps shared by both strategies (AWS Secrets Manager's createSecret, setSecret and
 * testSecret), and small helpers to read Secrets.
 *
 * Step 1, create: the new values are generated once and stored in a pending companion
 * labelled with the rotation id, before anything else changes. From then on the companion is
 * the source of truth: a rerun finds it and continues with its values, so a crash never
 * produces a second value set. Steps 2 and 3 (set, test) run a backend plug-in when the
 * policy names one, recording each on the companion before moving on.
 */

export const annotationsOf = (s: V1Secret | undefined): Record<string, string> => s?.metadata?.annotations ?? {};
export const labelsOf = (s: V1Secret | undefined): Record<string, string> => s?.metadata?.labels ?? {};

/** True when `s` is the pending companion of Secret `headName` (made by us). */
export function isPendingOf(s: V1Secret, headName: string): boolean {
  return labelsOf(s)[Labels.role] === 'pending' && annotationsOf(s)[Annotations.companionOf] === headName;
}

/** True when `s` is the previous-values companion of Secret `headName`. */
export function isPreviousOf(s: V1Secret, headName: string): boolean {
  return labelsOf(s)[Labels.role] === 'previous' && annotationsOf(s)[Annotations.companionOf] === headName;
}

/** `values` restricted to `keys`. */
export function pick(values: ReadonlyMap<string, Buffer>, keys: Iterable<string>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const k of keys) {
    const v = values.get(k);
    if (v !== undefined) out.set(k, v);
  }
  return out;
}

/** `base` with `over` written on top. */
export function overlay(base: ReadonlyMap<string, Buffer>, over: ReadonlyMap<string, Buffer>): Map<string, Buffer> {
  const out = new Map(base);
  for (const [k, v] of over) out.set(k, v);
  return out;
}

/** Annotations of `s` that are not ours (and not kubectl's last-applied copy, which would be stale). */
export function foreignAnnotations(s: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotationsOf(s))) {
    if (k.startsWith(PREFIX) || k === 'kubectl.kubernetes.io/last-applied-configuration') continue;
    out[k] = v;
  }
  return out;
}

/** Labels of `s` that are not ours. */
export function foreignLabels(s: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsOf(s))) if (!k.startsWith(PREFIX)) out[k] = v;
  return out;
}

/** Reads another Secret's data in the rotation's namespace, registering its values. */
export async function readSecretData(deps: RotationDeps, namespace: string, name: string): Promise<Map<string, Buffer> | undefined> {
  const s = await deps.secrets.get(namespace, name);
  if (s === undefined) return undefined;
  const data = decodeData(s.data);
  for (const v of data.values()) deps.register(v);
  return data;
}

export function generationContext(rot: Rotation, deps: RotationDeps): GenerationContext {
  return {
    namespace: rot.namespace,
    secretName: rot.name,
    now: deps.clock.now(),
    readSecret: (name) => readSecretData(deps, rot.namespace, name),
    register: (v) => deps.register(v),
    warn: (message) => {
      rot.warnings.push(message);
      deps.log.warn({ secret: rot.label, rotation: rot.id }, message);
    },
  };
}

/**
 * Takes over an existing pending companion: its rotation id, step, values and slot. Used on
 * resume, and when creating finds one made by a run that crashed after the create.
 */
export function adoptPending(rot: Rotation, pending: V1Secret, deps: RotationDeps): void {
  const a = annotationsOf(pending);
  rot.pending = pending;
  rot.id = labelsOf(pending)[Labels.rotationId] ?? rot.id;
  const step = a[Annotations.rotationStep];
  if (rot.step === 'new' || rot.step === 'created' || rot.step === 'set' || rot.step === 'tested') {
    rot.step = step === 'set' || step === 'tested' || step === 'rolling-back' ? step : 'created';
  }
  rot.slot = a[Annotations.rotationSlot] ?? rot.slot;
  rot.reason = a[Annotations.rotationReason] ?? rot.reason;
  rot.rotateNowSeen = a[Annotations.rotateNowSeen];
  const keys = (a[Annotations.rotatedKeys] ?? rot.policy.rotatedKeys.join(',')).split(',').filter((k) => k !== '');
  const data = decodeData(pending.data);
  rot.newValues = pick(data, keys);
  for (const v of rot.newValues.values()) deps.register(v);
  if (rot.strategy === 'versioned') {
    const version = Number(a[Annotations.version]);
    const base = a[Annotations.lineage];
    if (base !== undefined && Number.isSafeInteger(version) && rot.versioned !== undefined) {
      rot.versioned = { ...rot.versioned, toVersion: version, toName: pending.metadata?.name ?? versionName(base, version) };
    }
  }
}

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
    [Annotations.rotationStep]: 'created',
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
        ownerReferences: ownerRefTo(head),
      },
      type: 'Opaque',
      data: encodeData(values),
    };
  }
  const name = body.metadata!.name!;
  try {
    rot.pending = await deps.secrets.create(namespace, body);
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
    rot.oldValues = pick(current, values.keys());
    adoptPending(rot, existing, deps);
    return;
  }
  rot.step = 'created';
  rot.newValues = values;
  rot.oldValues = pick(current, values.keys());
  deps.log.info(
    { secret: rot.label, rotation: rot.id, pending: name, fingerprints: fingerprints(values) },
    'step create: new values generated and stored in the pending companion',
  );
}

/** The ownerReference that makes a companion go away with its Secret. */
export function ownerRefTo(head: V1Secret): NonNullable<V1Secret['metadata']>['ownerReferences'] {
  const uid = head.metadata?.uid;
  if (!uid) return undefined;
  return [{ apiVersion: 'v1', kind: 'Secret', name: head.metadata!.name!, uid, controller: false, blockOwnerDeletion: false }];
}

/** Records a step on the pending companion (metadata only, resourceVersion-guarded, re-read on conflict). */
export async function recordPendingStep(rot: Rotation, step: RotationStep, deps: RotationDeps): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const p = rot.pending!;
    try {
      rot.pending = await deps.secrets.patchMetadata(rot.namespace, p.metadata!.name!, {
        resourceVersion: p.metadata!.resourceVersion!,
        annotations: { [Annotations.rotationStep]: step },
      });
      rot.step = step;
      return;
    } catch (e) {
      if (!isKubeError(e, (k) => k.conflict) || attempt >= 4) throw e;
      const fresh = await deps.secrets.get(rot.namespace, p.metadata!.name!);
      if (fresh === undefined) throw e;
      rot.pending = fresh;
    }
  }
}

/** The values a backend sees: every key before and after. */
function backendContext(
  rot: Rotation,
  deps: RotationDeps,
  current: Map<string, Buffer>,
  pending: Map<string, Buffer>,
  reverting = false,
): BackendStepContext {
  return {
    namespace: rot.namespace,
    secretName: rot.name,
    rotationId: rot.id,
    config: rot.policy.backend!.config,
    current,
    pending,
    reverting,
    readSecret: (name) => readSecretData(deps, rot.namespace, name),
    log: deps.log.child({ secret: rot.label, rotation: rot.id, backend: rot.policy.backend!.backend.name }),
    clock: deps.clock,
    signal: deps.shutdown.signal,
    register: (v) => deps.register(v),
  };
}

/**
 * Steps 2 and 3 (set, test) through the policy's backend, each recorded on the pending
 * companion before moving on; a rerun repeats only what was not recorded (`set` must be
 * idempotent). Without a backend there is nothing to do.
 *
 * When test fails, the backend is set back to the Secret's current values (consumers still
 * use them: a single-user database password must not stay changed) and the companion goes
 * back to step `created`, so the next run sets and tests the same pending values again. If
 * setting back fails too, the companion stays at `set`: the backend may hold the pending
 * values, and the next run continues from them.
 */
export async function runBackendSteps(rot: Rotation, deps: RotationDeps): Promise<void> {
  const b = rot.policy.backend;
  if (b === undefined || (rot.step !== 'created' && rot.step !== 'set')) return;
  const current = decodeData(rot.head.data);
  const pending = overlay(current, rot.newValues!);
  const ctx = backendContext(rot, deps, current, pending);
  if (rot.step === 'created') {
    try {
      await b.backend.set(ctx);
    } catch (e) {
      throw new RotationError('backend', `Secret ${rot.label}: step set (backend ${b.backend.name}) failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    await recordPendingStep(rot, 'set', deps);
    deps.log.info({ secret: rot.label, rotation: rot.id, backend: b.backend.name }, 'step set: the backend accepts the new values');
    deps.shutdown.checkpoint();
  }
  try {
    await b.backend.test(ctx);
  } catch (e) {
    const failed = `Secret ${rot.label}: step test (backend ${b.backend.name}) failed: ${(e as Error).message}`;
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
    await recordPendingStep(rot, 'created', deps);
    deps.log.warn(
      { secret: rot.label, rotation: rot.id, backend: b.backend.name },
      'step test failed: the backend was set back to the current values',
    );
    throw new RotationError('backend', `${failed}; the backend was set back to the current values, which stay in use`, { cause: e });
  }
  await recordPendingStep(rot, 'tested', deps);
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
  const ctx = backendContext(rot, deps, overlay(base, rot.newValues), restored, true);
  try {
    await b.backend.set(ctx);
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
  rot.pending = undefined;
}

/** The base record of the pending companion (data digests when the values were generated). */
export function baseRecordOf(rot: Rotation): BaseRecord | undefined {
  return parseBaseRecord(annotationsOf(rot.pending)[Annotations.base]);
}

/** The `last-outcome` annotation value for this rotation. */
export function outcomeAnnotation(rot: Rotation, result: LastOutcome['result'], at: Date, message?: string, resumable = false): string {
  const o: LastOutcome = { result, rotation: rot.id, at: at.toISOString(), slot: rot.slot };
  if (message) o.message = message.slice(0, 512);
  if (resumable) o.resumable = true;
  if (rot.transient && result !== 'succeeded') o.transient = true;
  return JSON.stringify(o);
}

/**
 * Metadata changes recorded on the head when a rotation reaches an outcome: last-outcome,
 * and (unless the failure happened before anything changed) rotate-now cleared if it still
 * holds the value seen when the rotation was planned.
 */
export function outcomeChanges(
  rot: Rotation,
  head: V1Secret,
  result: LastOutcome['result'],
  at: Date,
  message: string | undefined,
  clearRotateNow: boolean,
  resumable = false,
): Record<string, string | null> {
  const changes: Record<string, string | null> = { [Annotations.lastOutcome]: outcomeAnnotation(rot, result, at, message, resumable) };
  const current = annotationsOf(head)[Annotations.rotateNow];
  if (clearRotateNow && current !== undefined) {
    const seen = rot.rotateNowSeen;
    if (seen === undefined ? rot.slot.startsWith('rotate-now@') : seen === current) changes[Annotations.rotateNow] = null;
  }
  return changes;
}

/** Patches the head's metadata, re-reading it on conflict (the head may be written by others). */
export async function patchHead(
  rot: Rotation,
  deps: RotationDeps,
  build: (head: V1Secret) => { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const head = rot.head;
    try {
      rot.head = await deps.secrets.patchMetadata(rot.namespace, head.metadata!.name!, {
        resourceVersion: head.metadata!.resourceVersion!,
        ...build(head),
      });
      return;
    } catch (e) {
      if (!isKubeError(e, (k) => k.conflict) || attempt >= 4) throw e;
      const fresh = await deps.secrets.get(rot.namespace, head.metadata!.name!);
      if (fresh === undefined) throw e;
      rot.head = fresh;
    }
  }
}
