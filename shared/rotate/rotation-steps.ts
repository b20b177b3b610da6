import type { V1Secret } from '@kubernetes/client-node';
import { Annotations, Labels, type OutcomeResult, parseLastOutcome } from './metadata.js';
import { versionName } from './names.js';
import type { RotationPolicy, RotationStrategy } from './policy.js';
import { annotationsOf, labelsOf, pick, type SecretView } from './secret-access.js';
import { decodeData } from './values.js';

/**
 * The steps of a rotation as a state machine, in one place: the steps, where each one is
 * recorded, the transitions allowed between them, and how a run that finds a rotation left in
 * flight (a crash, SIGTERM, a failed write) tells where it stands and where it resumes.
 * shared/rotate/README.md shows the same tables and diagram; a test keeps them equal.
 *
 * The durable state is in the cluster: the annotation `secret-steward.io/rotation-step` on the
 * pending companion (in-place `<name>-pending`; versioned: the next version, not yet promoted),
 * or on the Secret itself once an in-place rotation has written its new values. `Rotation.step`
 * is the run's copy of it, changed only by the Rotation methods that apply a transition of
 * {@link TRANSITIONS} (see rotation.ts).
 */

/** Steps recorded while a rotation is in flight: the values of `secret-steward.io/rotation-step`. */
export type RotationStep = 'created' | 'set' | 'tested' | 'finished' | 'rolling-back';

/**
 * Where a rotation stands: a recorded step; `new` before anything of it is written; `ended` once
 * its outcome is recorded (`last-outcome` on the Secret names it, nothing of it is in flight).
 */
export type RotationState = 'new' | RotationStep | 'ended';

export const ROTATION_STATES: readonly RotationState[] = ['new', 'created', 'set', 'tested', 'finished', 'rolling-back', 'ended'];

export const STRATEGIES: readonly RotationStrategy[] = ['in-place', 'versioned'];

/**
 * Which object's `rotation-step` records each step, per strategy: the pending companion (or
 * unpromoted version), or the Secret itself. A strategy that never reaches a step has no entry.
 */
export const STEP_RECORDS: Readonly<Record<RotationStep, Partial<Record<RotationStrategy, 'pending' | 'head'>>>> = {
  created: { 'in-place': 'pending', versioned: 'pending' },
  set: { 'in-place': 'pending', versioned: 'pending' },
  tested: { 'in-place': 'pending', versioned: 'pending' },
  finished: { 'in-place': 'head' },
  'rolling-back': { 'in-place': 'head', versioned: 'pending' },
};

/** What happens to a rotation. */
export type RotationEvent =
  | 'create'
  | 'set'
  | 'test'
  | 'test-failed'
  | 'finish'
  | 'roll-out'
  | 'verify'
  | 'succeed'
  | 'fail-forward'
  | 'roll-back'
  | 'rollback-failed'
  | 'restore-consumers'
  | 'end-rollback'
  | 'fail'
  | 'fail-resumable';

export interface Transition {
  strategy: RotationStrategy;
  from: readonly RotationState[];
  event: RotationEvent;
  /** The state after the event; `unchanged`: the step stays (the event writes elsewhere). */
  to: RotationState | 'unchanged';
  /** When the event happens. */
  when: string;
  /** What it writes, and where. */
  writes: string;
}

const BEFORE_FINISH: readonly RotationState[] = ['created', 'set', 'tested'];

/** Transitions both strategies share (steps 1 to 3 and failures before any consumer sees the values). */
function shared(strategy: RotationStrategy, companion: string): Transition[] {
  return [
    {
      strategy,
      from: ['new'],
      event: 'create',
      to: 'created',
      when: 'the Secret is due',
      writes:
        strategy === 'in-place'
          ? '`<name>-pending` (owned by the Secret unless the policy names a backend, label `rotation-id`): the new values of the rotated keys; `rotation-step: created`, the slot, the reason, the rotated keys, a keyed digest of the data'
          : 'the next version `<base>-v<N>` (immutable, every key, labels `role: pending`, `rotation-id`); `rotation-step: created`, the slot, the reason, the rotated keys, a keyed digest of the data',
    },
    {
      strategy,
      from: ['created'],
      event: 'set',
      to: 'set',
      when: "the policy's backend accepts the new values",
      writes:
        strategy === 'in-place'
          ? `${companion}: \`rotation-step: set\` (a companion still owned by the Secret, created by an earlier release, first loses its ownerReference)`
          : `${companion}: \`rotation-step: set\``,
    },
    {
      strategy,
      from: ['set'],
      event: 'test',
      to: 'tested',
      when: 'the new values work against the backend',
      writes: `${companion}: \`rotation-step: tested\``,
    },
    {
      strategy,
      from: ['set'],
      event: 'test-failed',
      to: 'created',
      when: 'the test failed; the backend was set back to the current values',
      writes: `${companion}: \`rotation-step: created\` (the next run sets and tests the same values again)`,
    },
    {
      strategy,
      from: ['new', ...BEFORE_FINISH],
      event: 'fail',
      to: 'ended',
      when: 'a step before any consumer saw the new values failed (generation, conflict, backend), and no backend may hold them',
      writes: `${companion} deleted; the Secret: \`last-outcome: failed\` (\`rotate-now\` stays)`,
    },
    {
      strategy,
      from: BEFORE_FINISH,
      event: 'fail-resumable',
      to: 'unchanged',
      when: 'as `fail`, but the policy names a backend: it may already hold the new values',
      writes: `the Secret: \`last-outcome: failed\` with \`resumable: true\`; ${companion} kept, and the next run continues with its values`,
    },
  ];
}

/** Every transition, in the order of the protocol. */
export const TRANSITIONS: readonly Transition[] = [
  ...shared('in-place', 'the companion'),
  {
    strategy: 'in-place',
    from: BEFORE_FINISH,
    event: 'finish',
    to: 'finished',
    when: 'steps 1-3 are done',
    writes:
      '`<name>-previous`: the values being replaced; then one PUT: the Secret gets the new values and `rotation-id`, `rotation-step: finished`, `rotation-pending`, `rotation-slot`',
  },
  {
    strategy: 'in-place',
    from: ['finished'],
    event: 'roll-out',
    to: 'unchanged',
    when: 'consumers restart (`rollout.restart`)',
    writes: 'each consumer once: pod template `restartedAt: <time>;<rotation ids>`, workload `restart-previous`',
  },
  {
    strategy: 'in-place',
    from: ['finished'],
    event: 'verify',
    to: 'unchanged',
    when: 'the restarted consumers are watched',
    writes: 'nothing',
  },
  {
    strategy: 'in-place',
    from: ['finished'],
    event: 'succeed',
    to: 'ended',
    when: 'every consumer is ready',
    writes:
      'the Secret: `rotation-*` removed, `last-rotated`, `last-slot`, `last-outcome: succeeded`, `rotate-now` removed (if unchanged); the companion deleted',
  },
  {
    strategy: 'in-place',
    from: ['finished'],
    event: 'fail-forward',
    to: 'ended',
    when: 'a consumer is not ready and `rollbackOnFailure: false`',
    writes: 'as `succeed`, with `last-outcome: failed`',
  },
  {
    strategy: 'in-place',
    from: ['finished'],
    event: 'roll-back',
    to: 'rolling-back',
    when: 'a consumer is not ready',
    writes:
      'the backend set back first; then one PUT: the rotated keys get their previous values (keys the rotation added are removed), `rotation-step: rolling-back`',
  },
  {
    strategy: 'in-place',
    from: ['finished'],
    event: 'rollback-failed',
    to: 'unchanged',
    when: 'the previous values could not be written back (or the backend set back)',
    writes: 'the Secret: `last-outcome: rollback-failed`; its `rotation-*` stay, so the next run rolls out and verifies again',
  },
  {
    strategy: 'in-place',
    from: ['rolling-back'],
    event: 'restore-consumers',
    to: 'unchanged',
    when: 'the previous values are back',
    writes: 'each consumer: pod template annotation as `restart-previous` recorded it, that record removed; then verified',
  },
  {
    strategy: 'in-place',
    from: ['rolling-back'],
    event: 'end-rollback',
    to: 'ended',
    when: 'the consumers were restored',
    writes:
      'the Secret: `rotation-*` removed, `last-outcome: rolled-back` (`rollback-failed` when a consumer is still not ready); the companion deleted',
  },
  ...shared('versioned', 'the new version'),
  {
    strategy: 'versioned',
    from: BEFORE_FINISH,
    event: 'roll-out',
    to: 'unchanged',
    when: 'steps 1-3 are done (repointing is step 4)',
    writes:
      'each consumer once: references repointed to the new version, pod template `restartedAt`, workload `restart-previous` (CronJobs only repointed)',
  },
  {
    strategy: 'versioned',
    from: BEFORE_FINISH,
    event: 'verify',
    to: 'unchanged',
    when: 'the repointed consumers are watched',
    writes: 'nothing',
  },
  {
    strategy: 'versioned',
    from: BEFORE_FINISH,
    event: 'succeed',
    to: 'ended',
    when: 'every consumer is ready',
    writes:
      'the new version: the policy, `last-rotated`, `last-slot`, `last-outcome: succeeded`, pending labels and `rotation-*` removed; the old one: `superseded-by`, its policy removed; versions beyond `keepVersions` deleted',
  },
  {
    strategy: 'versioned',
    from: BEFORE_FINISH,
    event: 'fail-forward',
    to: 'ended',
    when: 'a consumer is not ready and `rollbackOnFailure: false`',
    writes: 'the new version promoted as by `succeed` (the run reports the failure)',
  },
  {
    strategy: 'versioned',
    from: BEFORE_FINISH,
    event: 'roll-back',
    to: 'rolling-back',
    when: 'a consumer is not ready',
    writes: 'the backend set back first; the new version: `rotation-step: rolling-back`',
  },
  {
    strategy: 'versioned',
    from: BEFORE_FINISH,
    event: 'rollback-failed',
    to: 'ended',
    when: 'the backend could not be set back, or `rolling-back` not recorded',
    writes: 'the Secret: `last-outcome: rollback-failed`; the new version deleted',
  },
  {
    strategy: 'versioned',
    from: ['rolling-back'],
    event: 'restore-consumers',
    to: 'unchanged',
    when: 'the rollback is recorded',
    writes: 'each consumer: references back to the old version, pod template annotation as `restart-previous` recorded it; then verified',
  },
  {
    strategy: 'versioned',
    from: ['rolling-back'],
    event: 'end-rollback',
    to: 'ended',
    when: 'the consumers were restored',
    writes: 'the Secret: `last-outcome: rolled-back` (`rollback-failed` when a consumer is still not ready); the new version deleted',
  },
];

/**
 * The state after `event` for a rotation of `strategy` at `from`. Throws when the event is not
 * allowed there: that is a bug in the caller, never a state of the cluster.
 */
export function nextState(strategy: RotationStrategy, from: RotationState, event: RotationEvent): RotationState {
  const t = TRANSITIONS.find((x) => x.strategy === strategy && x.event === event && x.from.includes(from));
  if (t === undefined) throw new Error(`rotation state machine: ${event} is not allowed at ${from} (${strategy})`);
  return t.to === 'unchanged' ? from : t.to;
}

/** What a run does next with a rotation at `state`: the first thing a rerun does after a crash there. */
export type Work = 'create' | 'set' | 'test' | 'finish' | 'roll-out' | 'restore-consumers' | 'nothing';

/**
 * The next protocol step for a rotation at `state`: set and test only when the policy names a
 * backend, finish only in place (a versioned rotation's step 4 is the repointing of the rollout).
 */
export function nextWork(state: RotationState, strategy: RotationStrategy, withBackend: boolean): Work {
  if (state === 'new') return 'create';
  if (state === 'created' && withBackend) return 'set';
  if (state === 'set' && withBackend) return 'test';
  if (BEFORE_FINISH.includes(state)) return strategy === 'in-place' ? 'finish' : 'roll-out';
  if (state === 'finished') return 'roll-out';
  if (state === 'rolling-back') return 'restore-consumers';
  return 'nothing';
}

/** True when `s` is the pending companion (or unpromoted version) of Secret `headName`. */
export function isPendingOf(s: SecretView, headName: string): boolean {
  return labelsOf(s)[Labels.role] === 'pending' && annotationsOf(s)[Annotations.companionOf] === headName;
}

/** True when `s` is the previous-values companion of Secret `headName`. */
export function isPreviousOf(s: SecretView, headName: string): boolean {
  return labelsOf(s)[Labels.role] === 'previous' && annotationsOf(s)[Annotations.companionOf] === headName;
}

/** The step a pending companion records (an unknown or missing value counts as `created`). */
export function stepOnPending(pending: SecretView, strategy: RotationStrategy): RotationStep {
  const step = annotationsOf(pending)[Annotations.rotationStep] as RotationStep | undefined;
  return step !== undefined && STEP_RECORDS[step]?.[strategy] === 'pending' ? step : 'created';
}

/**
 * True when a pending companion records a step after which a backend may hold its values (`set`,
 * `tested`): it must not be discarded, even when its Secret is gone or lost its policy.
 */
export function backendMayHoldValues(pending: SecretView): boolean {
  const step = annotationsOf(pending)[Annotations.rotationStep];
  return step === 'set' || step === 'tested';
}

/** The rotation id and step an in-place Secret records between its write of the new values and its outcome. */
export function stepOnHead(head: SecretView, strategy: RotationStrategy): { id: string; step: RotationStep } | undefined {
  const a = annotationsOf(head);
  const id = a[Annotations.rotationId];
  const step = a[Annotations.rotationStep] as RotationStep | undefined;
  if (id === undefined || step === undefined || STEP_RECORDS[step]?.[strategy] !== 'head') return undefined;
  return { id, step };
}

/** A rotation an earlier run left in flight, as the cluster records it. */
export type InFlight<S extends SecretView> =
  /** In place, between the write of its new values and its outcome: the step is on the Secret. */
  | { recordedOn: 'head'; id: string; step: RotationStep; slot: string; pending?: S }
  /** On its pending companion (or unpromoted version), whose values are the rotation's. */
  | { recordedOn: 'pending'; id: string; step: RotationStep; pending: S };

/** What {@link findInFlight} finds around one policy holder. */
export interface Found<S extends SecretView> {
  inFlight?: InFlight<S>;
  /** A pending companion whose rotation already has its outcome (the run that recorded it stopped before deleting it). */
  ended?: { pending: S; id: string; result: OutcomeResult };
}

/**
 * Where a rotation of the Secret `head` stands, from the Secret and its pending companion as
 * read (listed metadata is enough): recorded on the Secret (in-place `finished`,
 * `rolling-back`), on the companion (its `rotation-step`), or nothing in flight. A companion whose
 * rotation already has a final outcome on the Secret is reported as `ended`, not in flight.
 */
export function findInFlight<S extends SecretView>(head: S, pending: S | undefined, strategy: RotationStrategy): Found<S> {
  const a = annotationsOf(head);
  const lastOutcome = parseLastOutcome(a[Annotations.lastOutcome]);
  const pendingId = pending === undefined ? undefined : labelsOf(pending)[Labels.rotationId];
  let live = pending;
  let ended: Found<S>['ended'];
  if (
    pending !== undefined &&
    pendingId !== undefined &&
    pendingId === lastOutcome?.rotation &&
    lastOutcome.resumable !== true &&
    a[Annotations.rotationId] !== pendingId
  ) {
    ended = { pending, id: pendingId, result: lastOutcome.result };
    live = undefined;
  }
  const onHead = stepOnHead(head, strategy);
  if (onHead !== undefined) {
    const own = live !== undefined && labelsOf(live)[Labels.rotationId] === onHead.id ? live : undefined;
    return { ended, inFlight: { recordedOn: 'head', ...onHead, slot: a[Annotations.rotationSlot] ?? 'unknown', pending: own } };
  }
  if (live !== undefined)
    return { ended, inFlight: { recordedOn: 'pending', id: pendingId ?? 'unknown', step: stepOnPending(live, strategy), pending: live } };
  return { ended };
}

/**
 * True when the `-previous` companion holds the old values of the rotation in flight (so a
 * resume reads its data): always once the Secret records the rotation, else when it carries the
 * same rotation id as the pending companion.
 */
export function previousHoldsOldValues(inFlight: InFlight<SecretView>, previous: SecretView | undefined): boolean {
  if (previous === undefined) return false;
  if (inFlight.recordedOn === 'head') return true;
  const id = labelsOf(previous)[Labels.rotationId];
  return id !== undefined && id === labelsOf(inFlight.pending)[Labels.rotationId];
}

/** What a pending companion (or unpromoted version, read in full) records of its rotation. */
export interface PendingRecord {
  /** Its `rotation-id` label. */
  id?: string;
  step: RotationStep;
  slot?: string;
  reason?: string;
  rotateNowSeen?: string;
  /** The rotation's new values: the companion's data, restricted to its rotated keys. */
  newValues: Map<string, Buffer>;
  /** Versioned: the version it is. */
  version?: { number: number; name: string };
}

/** Reads what a pending companion records; its rotated keys default to the policy's. */
export function readPending(pending: V1Secret, policy: RotationPolicy): PendingRecord {
  const a = annotationsOf(pending);
  const keys = (a[Annotations.rotatedKeys] ?? policy.rotatedKeys.join(',')).split(',').filter((k) => k !== '');
  const record: PendingRecord = {
    id: labelsOf(pending)[Labels.rotationId],
    step: stepOnPending(pending, policy.strategy),
    slot: a[Annotations.rotationSlot],
    reason: a[Annotations.rotationReason],
    rotateNowSeen: a[Annotations.rotateNowSeen],
    newValues: pick(decodeData(pending.data), keys),
  };
  const number = Number(a[Annotations.version]);
  const base = a[Annotations.lineage];
  if (policy.strategy === 'versioned' && base !== undefined && Number.isSafeInteger(number))
    record.version = { number, name: pending.metadata?.name ?? versionName(base, number) };
  return record;
}

/** A rotation in flight rebuilt from full objects: what the run continues with. */
export interface Resumed {
  id: string;
  step: RotationStep;
  slot: string;
  reason: string;
  rotateNowSeen?: string;
  pending?: V1Secret;
  newValues?: Map<string, Buffer>;
  oldValues?: Map<string, Buffer>;
  version?: PendingRecord['version'];
}

/**
 * Where a rerun resumes a rotation in flight, with its values: the pending companion's values
 * (never generated again); once an in-place Secret records `finished`, exactly what it holds of
 * the rotated keys (templates included); the old values from the `-previous` companion, or, before
 * the finish, from the Secret itself.
 */
export function resume(inFlight: InFlight<V1Secret>, head: V1Secret, previous: V1Secret | undefined, policy: RotationPolicy): Resumed {
  const p = inFlight.pending === undefined ? undefined : readPending(inFlight.pending, policy);
  if (inFlight.recordedOn === 'pending') {
    return {
      id: p!.id ?? inFlight.id,
      step: p!.step,
      slot: p!.slot ?? 'unknown',
      reason: p!.reason ?? 'resumed',
      rotateNowSeen: p!.rotateNowSeen,
      pending: inFlight.pending,
      newValues: p!.newValues,
      oldValues: pick(decodeData(head.data), p!.newValues.keys()),
      version: p!.version,
    };
  }
  const keys = p !== undefined ? [...p.newValues.keys()] : policy.rotatedKeys;
  return {
    id: p?.id ?? inFlight.id,
    step: inFlight.step,
    slot: p?.slot ?? inFlight.slot,
    reason: p?.reason ?? 'resumed',
    rotateNowSeen: p?.rotateNowSeen,
    pending: inFlight.pending,
    // After the finish the Secret holds exactly what was promoted (templates included).
    newValues: inFlight.step === 'finished' ? pick(decodeData(head.data), keys) : p?.newValues,
    oldValues: previous === undefined ? undefined : pick(decodeData(previous.data), keys),
  };
}
