import type { V1Secret } from '@kubernetes/client-node';
import { InterruptedError } from '../errors/index.js';
import { mapLimit } from '../runtime/map-limit.js';
import type { BackendRegistry } from './backend.js';
import { type Candidate, judgeHead, type RotationPlan, type UnrotatedItem } from './inventory.js';
import { Annotations } from './metadata.js';
import { Rotation, type RotationDeps } from './rotation.js';
import { previousHoldsOldValues, resume } from './rotation-steps.js';
import { annotationsOf } from './secret-access.js';

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
  const inFlight = c.inFlight;
  const pending = inFlight?.pending === undefined ? undefined : await deps.secrets.get(namespace, nameOf(inFlight.pending));
  const previous =
    inFlight !== undefined && previousHoldsOldValues(inFlight, c.previous)
      ? await deps.secrets.get(namespace, nameOf(c.previous))
      : c.previous;
  const { judgement } = judgeHead<V1Secret>(
    head,
    { ...c.related, pending, previous },
    {
      now: o.now,
      backends: o.backends,
      full: true,
      groupDue: c.group?.due,
    },
  );
  switch (judgement.action) {
    case 'rotate':
      return buildRotation({ ...judgement.plan, group: c.group }, deps);
    case 'superseded':
      return { kind: 'gone', why: `superseded by ${judgement.by}` };
    default:
      return { kind: 'unrotated', item: judgement };
  }
}

/**
 * The Rotation of a plan judged on full objects: a new one, or one rebuilt where the cluster
 * records it (rotation-steps.ts `resume`: the pending companion's values, the Secret's promoted
 * values, the previous values). Every value read is registered with the redactor.
 */
function buildRotation(plan: RotationPlan<V1Secret>, deps: RotationDeps): Loaded {
  if (plan.inFlight === undefined) {
    const rotation = Rotation.planned(plan, { slot: plan.slot!, reason: plan.reason!, rotateNowSeen: plan.rotateNowSeen });
    return { kind: 'rotation', rotation, detail: plan.detail };
  }
  const resumed = resume(plan.inFlight, plan.head, plan.previous, plan.policy);
  for (const v of [...(resumed.newValues?.values() ?? []), ...(resumed.oldValues?.values() ?? [])]) deps.register(v);
  const rotation = Rotation.resumed(plan, resumed);
  return { kind: 'rotation', rotation, detail: `resuming rotation ${rotation.id} at step ${rotation.step}` };
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
  const places = new Places(o.maxRotations > 0 ? o.maxRotations : Infinity);
  const rotations: Array<{ index: number; rotation: Rotation; detail: string }> = [];
  const unrotated: UnrotatedItem[] = [];
  const unreadable: Started['unreadable'] = [];
  const deferred: number[] = [];
  const read = async (c: Candidate): Promise<Loaded | { kind: 'unreadable'; error: unknown }> => {
    deps.shutdown.checkpoint();
    try {
      return await loadCandidate(c, deps, o);
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      return { kind: 'unreadable', error };
    }
  };
  await mapLimit(candidates, o.concurrency, async (c, index) => {
    const isNew = c.kind === 'new';
    if (isNew && !(await places.take())) return void deferred.push(index);
    let loaded: Awaited<ReturnType<typeof read>> | undefined;
    try {
      loaded = await read(c);
    } finally {
      // An unreadable Secret keeps its place (it was attempted); one not to rotate gives it to the next.
      if (isNew) loaded?.kind === 'unrotated' || loaded?.kind === 'gone' ? places.giveBack() : places.keep();
    }
    switch (loaded.kind) {
      case 'unreadable':
        unreadable.push({ candidate: c, error: loaded.error });
        return;
      case 'unrotated':
        unrotated.push(loaded.item);
        return;
      case 'gone':
        deps.log.info({ secret: `${c.head.metadata.namespace}/${nameOf(c.head)}` }, `not rotated: ${loaded.why}`);
        return;
    }
    rotations.push({ index, rotation: loaded.rotation, detail: loaded.detail });
    await act(loaded.rotation);
  });
  rotations.sort((x, y) => x.index - y.index);
  return {
    rotations: rotations.map(({ rotation, detail }) => ({ rotation, detail })),
    unrotated,
    unreadable,
    deferred: deferred.sort((x, y) => x - y).map((i) => candidates[i]),
  };
}

/**
 * The places for new rotations (`--max-rotations`), taken in the candidates' order: a place is
 * held while its Secret is read, then kept or given back to the first candidate waiting for one.
 * A candidate gets none (and is deferred) once every place is kept.
 */
class Places {
  private kept = 0;
  private held = 0;
  private readonly waiting: Array<(granted: boolean) => void> = [];

  constructor(private readonly limit: number) {}

  /** Resolves true with a place held, or false when every place is kept. */
  take(): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.serve();
    });
  }

  keep(): void {
    this.held--;
    this.kept++;
    this.serve();
  }

  giveBack(): void {
    this.held--;
    this.serve();
  }

  private serve(): void {
    while (this.waiting.length > 0) {
      if (this.kept + this.held < this.limit) {
        this.held++;
        this.waiting.shift()!(true);
      } else if (this.held === 0) this.waiting.shift()!(false);
      else return;
    }
  }
}
