import type { V1Secret } from '@kubernetes/client-node';
import { InterruptedError } from '../errors/index.js';
import type { BackendRegistry } from './backend.js';
import { type Candidate, judgeHead, type RotationPlan, type UnrotatedItem } from './inventory.js';
import { Annotations, Labels } from './metadata.js';
import { adoptPending, annotationsOf, labelsOf, pick } from './protocol.js';
import { Rotation, type RotationDeps } from './rotation.js';
import { decodeData } from './values.js';

/**
 * The second half of planning: the Secrets the scan found due or in flight (from their
 * metadata) are read in full, one by one, right before they are acted on. The read gives the
 * data the protocol needs and a fresh resourceVersion, and lets the Secret be judged again with
 * everything (its `type`, `immutable` and data keys; annotations changed since the scan), so
 * that values are only ever read for Secrets this run rotates or continues.
 *
 * Reads per candidate: the Secret; for a rotation in flight also its pending companion (whose
 * values are the rotation's), and its `-previous` companion when that holds this rotation's
 * old values. A new in-place rotation only needs the listed metadata of `-previous` (its
 * resourceVersion, to replace it).
 */

/** What reading a candidate found. */
export type Loaded =
  /** Rotatable: the Rotation, built from the full objects. */
  | { kind: 'rotation'; rotation: Rotation; detail: string }
  /** Judged again from the full object: skipped, invalid or not due after all. */
  | { kind: 'unrotated'; item: UnrotatedItem }
  /** Deleted, or no longer a policy holder, since the scan: nothing to do or report. */
  | { kind: 'gone'; why: string };

export interface LoadOptions {
  /** The run's time: due-ness is judged at it, as in the scan. */
  now: Date;
  backends: BackendRegistry;
}

const nameOf = (s: { metadata?: { name?: string } } | undefined) => s?.metadata?.name ?? '';

/** True when the `-previous` companion holds this rotation's old values (so its data is needed). */
function previousIsThisRotations(c: Candidate): boolean {
  if (c.previous === undefined) return false;
  if (c.kind === 'promoted') return true;
  return (
    c.kind === 'pending' &&
    labelsOf(c.previous)[Labels.rotationId] !== undefined &&
    labelsOf(c.previous)[Labels.rotationId] === labelsOf(c.pending)[Labels.rotationId]
  );
}

/**
 * Reads a candidate (and the companions whose values it needs) and judges it again. API errors
 * (403, unreachable after retries) are thrown as they come: the caller reports them.
 */
export async function loadCandidate(c: Candidate, deps: RotationDeps, o: LoadOptions): Promise<Loaded> {
  const namespace = c.head.metadata.namespace ?? '';
  const name = nameOf(c.head);
  const head = await deps.secrets.get(namespace, name);
  if (head === undefined) return { kind: 'gone', why: 'deleted since the scan' };
  const a = annotationsOf(head);
  if (a[Annotations.policy] === undefined || a[Annotations.supersededBy] !== undefined)
    return { kind: 'gone', why: 'no longer carries a rotation policy' };
  const pending = c.pending === undefined ? undefined : await deps.secrets.get(namespace, nameOf(c.pending));
  const previous = previousIsThisRotations(c) ? await deps.secrets.get(namespace, nameOf(c.previous)) : c.previous;
  const { judgement } = judgeHead<V1Secret>(head, { ...c.related, pending, previous }, { now: o.now, backends: o.backends, full: true });
  switch (judgement.action) {
    case 'rotate':
      return buildRotation(judgement.plan, deps);
    case 'superseded':
      return { kind: 'gone', why: `superseded by ${judgement.by}` };
    default:
      return { kind: 'unrotated', item: judgement };
  }
}

/**
 * The Rotation of a plan judged on full objects: a new one, or one rebuilt from what an earlier
 * run left (the pending companion's values, the Secret's promoted values, the previous values).
 * Every value read is registered with the redactor.
 */
function buildRotation(plan: RotationPlan<V1Secret>, deps: RotationDeps): Loaded {
  const { head, policy, policyText } = plan;
  if (plan.kind === 'promoted') {
    const rot = new Rotation(head, policy, policyText, plan.id!, plan.step!, plan.slot ?? 'unknown', 'resumed');
    if (plan.pending !== undefined) adoptPending(rot, plan.pending, deps);
    rot.step = plan.step!;
    const keys = rot.newValues !== undefined ? [...rot.newValues.keys()] : policy.rotatedKeys;
    // After promotion the Secret holds exactly what was promoted (templates included).
    if (plan.step === 'finished') rot.newValues = pick(decodeData(head.data), keys);
    if (plan.previous !== undefined) {
      rot.previous = plan.previous;
      rot.oldValues = pick(decodeData(plan.previous.data), keys);
    }
    for (const v of [...(rot.newValues?.values() ?? []), ...(rot.oldValues?.values() ?? [])]) deps.register(v);
    return { kind: 'rotation', rotation: rot, detail: plan.detail };
  }
  if (plan.kind === 'pending') {
    const pending = plan.pending!;
    const rot = new Rotation(head, policy, policyText, labelsOf(pending)[Labels.rotationId] ?? 'unknown', 'created', 'unknown', 'resumed');
    rot.versioned = plan.versioned;
    rot.previous = plan.previous;
    adoptPending(rot, pending, deps);
    rot.oldValues = pick(decodeData(head.data), rot.newValues!.keys());
    for (const v of rot.oldValues.values()) deps.register(v);
    return { kind: 'rotation', rotation: rot, detail: `resuming rotation ${rot.id} at step ${rot.step}` };
  }
  const rot = new Rotation(head, policy, policyText, '', 'new', plan.slot!, plan.reason!);
  rot.versioned = plan.versioned;
  rot.rotateNowSeen = plan.rotateNowSeen;
  rot.previous = plan.previous;
  return { kind: 'rotation', rotation: rot, detail: plan.detail };
}

export interface StartOptions extends LoadOptions {
  /** New rotations per run; 0: no limit. Rotations in flight always continue. */
  maxRotations: number;
  /** Candidates read and acted on at once. */
  concurrency: number;
}

/** What {@link startRotations} did with the candidates. */
export interface Started {
  /** Rotatable candidates, in the scan's order, each acted on right after it was read. */
  rotations: Array<{ rotation: Rotation; detail: string }>;
  /** Candidates the full read showed not to rotate (skipped, invalid, not due). */
  unrotated: UnrotatedItem[];
  /** Candidates that could not be read (API errors). */
  unreadable: Array<{ candidate: Candidate; error: unknown }>;
  /** Due Secrets beyond `maxRotations`: not read, left for the next run. */
  deferred: Candidate[];
}

/**
 * Reads the candidates in order (rotations in flight first), at most `concurrency` at once, and
 * runs `act` on each rotatable one right after reading it. New rotations stop at
 * `maxRotations`; a due Secret that turns out not rotatable when read gives its place to the
 * next one, so the run starts the first `maxRotations` rotatable Secrets, as if all had been
 * judged first. A stop request (InterruptedError) or an error thrown by `act` ends the run once
 * the work in flight has settled.
 */
export async function startRotations(
  candidates: readonly Candidate[],
  deps: RotationDeps,
  o: StartOptions,
  act: (rot: Rotation) => Promise<void>,
): Promise<Started> {
  const limit = o.maxRotations > 0 ? o.maxRotations : Infinity;
  const rotations: Array<{ index: number; rotation: Rotation; detail: string }> = [];
  const unrotated: UnrotatedItem[] = [];
  const unreadable: Started['unreadable'] = [];
  let next = 0;
  let reserved = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && next < candidates.length) {
      const index = next;
      const c = candidates[index];
      const isNew = c.kind === 'new';
      if (isNew && reserved >= limit) return;
      next++;
      if (isNew) reserved++;
      try {
        deps.shutdown.checkpoint();
        let loaded: Loaded;
        try {
          loaded = await loadCandidate(c, deps, o);
        } catch (error) {
          if (error instanceof InterruptedError) throw error;
          unreadable.push({ candidate: c, error });
          continue;
        }
        if (loaded.kind !== 'rotation') {
          if (isNew) reserved--;
          if (loaded.kind === 'unrotated') unrotated.push(loaded.item);
          else deps.log.info({ secret: `${c.head.metadata.namespace}/${nameOf(c.head)}` }, `not rotated: ${loaded.why}`);
          continue;
        }
        rotations.push({ index, rotation: loaded.rotation, detail: loaded.detail });
        await act(loaded.rotation);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, candidates.length)) }, worker));
  if (failed !== undefined) throw failed.error;
  rotations.sort((x, y) => x.index - y.index);
  return {
    rotations: rotations.map(({ rotation, detail }) => ({ rotation, detail })),
    unrotated,
    unreadable,
    deferred: candidates.slice(next),
  };
}
