import type { V1Secret } from '@kubernetes/client-node';
import type { EventRecorder } from '../kube/events.js';
import type { SecretStore } from '../kube/secrets.js';
import type { WorkloadStore } from '../kube/workloads.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Shutdown } from '../runtime/shutdown.js';
import type { BackendRegistry } from './backend.js';
import type { Fingerprinter } from './fingerprint.js';
import type { OutcomeResult } from './metadata.js';
import type { RotationPolicy } from './policy.js';
import type { GroupRun } from './rotation-group-decision.js';
import { nextState, type PendingRecord, type Resumed, type RotationEvent, type RotationStep } from './rotation-steps.js';

/** What the rotation code talks to; the job wires the real ones, tests may wire others. */
export interface RotationDeps {
  secrets: SecretStore;
  workloads: WorkloadStore;
  /** Events on Secrets and workloads (a MemoryEventRecorder in dry runs). */
  events: EventRecorder;
  backends: BackendRegistry;
  clock: Clock;
  log: Logger;
  /** SIGTERM: `checkpoint()` between steps, `signal` aborts waits. */
  shutdown: Shutdown;
  /** Registers secret values with the redactor. */
  register(value: string | Uint8Array): void;
  /** Fingerprints of values for logs, Events and the report (keyed: see `Fingerprinter`). */
  fingerprinter: Fingerprinter;
  /** Poll interval when a rollout cannot be watched. @default 2000 */
  pollIntervalMs?: number;
}

/** Versioned strategy: where the lineage stands. */
export interface VersionedState {
  /** The lineage's base name (`api-keys` for `api-keys-v3`). */
  base: string;
  /** Version number of the current head. */
  fromVersion: number;
  /** Version number and name of the version being made. */
  toVersion: number;
  toName: string;
}

/** The final state of one Secret's rotation in this run. */
export interface RotationResult {
  result: OutcomeResult;
  message: string;
}

/** What a plan knows of a Secret it rotates, besides the Secret itself. */
export interface RotationPlanned {
  head: V1Secret;
  policy: RotationPolicy;
  /** The policy's text (copied to new versions). */
  policyText: string;
  versioned?: VersionedState;
  /** The `<name>-previous` companion, if there is one. */
  previous?: V1Secret;
  /** A member of a rotation group: the group as this run acts on it. */
  group?: GroupRun;
}

/**
 * One Secret's rotation as it moves through the protocol in this run. The durable state is
 * in the cluster (annotations of the Secret and its pending companion); this object caches
 * what the run learned, and is rebuilt from the cluster by a rerun (rotation-steps.ts `resume`).
 *
 * Its state changes only through the methods below, each named for the transition of
 * rotation-steps.ts it applies (`created`, `recorded`, `finished`, `restored`, `end`...), called
 * once the cluster records it; a transition the state machine does not allow throws.
 */
export class Rotation {
  private readonly state: {
    head: V1Secret;
    pending?: V1Secret;
    previous?: V1Secret;
    id: string;
    step: RotationStep | 'new';
    slot: string;
    reason: string;
    newValues?: Map<string, Buffer>;
    oldValues?: Map<string, Buffer>;
    rotateNowSeen?: string;
    versioned?: VersionedState;
    consumers: string[];
    warnings: string[];
    failedWorkloads: string[];
    outcome?: RotationResult;
    transient: boolean;
  };
  readonly namespace: string;
  /** The Secret's name when the rotation began (for versioned rotations: the version being replaced). */
  readonly name: string;
  /** A member of a rotation group: the group as this run acts on it (rotation-group.ts). */
  group?: GroupRun;

  constructor(
    head: V1Secret,
    readonly policy: RotationPolicy,
    /** The policy's text (copied to new versions). */
    readonly policyText: string,
    id: string,
    step: RotationStep | 'new',
    /** The slot this rotation satisfies (ISO time, `rotate-now@...`, `max-age@...`). */
    slot: string,
    /** Why it started: `schedule`, `max-age`, `rotate-now`, or `resumed`. */
    reason: string,
  ) {
    this.state = { head, id, step, slot, reason, consumers: [], warnings: [], failedWorkloads: [], transient: false };
    this.namespace = head.metadata?.namespace ?? '';
    this.name = head.metadata?.name ?? '';
  }

  /** A rotation the plan found due: nothing of it is written yet. */
  static planned(p: RotationPlanned, due: { slot: string; reason: string; rotateNowSeen?: string }): Rotation {
    const rot = new Rotation(p.head, p.policy, p.policyText, '', 'new', due.slot, due.reason);
    Object.assign(rot.state, { versioned: p.versioned, previous: p.previous, rotateNowSeen: due.rotateNowSeen });
    rot.group = p.group;
    return rot;
  }

  /** A rotation an earlier run left in flight, at the step and with the values the cluster records. */
  static resumed(p: RotationPlanned, r: Resumed): Rotation {
    const rot = new Rotation(p.head, p.policy, p.policyText, r.id, r.step, r.slot, r.reason);
    const { pending, newValues, oldValues, rotateNowSeen } = r;
    Object.assign(rot.state, {
      previous: p.previous,
      pending,
      newValues,
      oldValues,
      rotateNowSeen,
      versioned: rot.withVersion(p.versioned, r),
    });
    rot.group = p.group;
    return rot;
  }

  /** The latest version of the Secret that carries the policy, read in full (data included). */
  get head(): V1Secret {
    return this.state.head;
  }
  /** The pending companion (versioned: the new version), once created or found. */
  get pending(): V1Secret | undefined {
    return this.state.pending;
  }
  /**
   * The `<name>-previous` companion, when known: read in full when it holds this rotation's old
   * values (a resumed rotation); for a new rotation its listed metadata only (no `data`): it
   * belongs to an earlier rotation and is replaced whatever it holds, so only its identity and
   * resourceVersion are needed.
   */
  get previous(): V1Secret | undefined {
    return this.state.previous;
  }
  get id(): string {
    return this.state.id;
  }
  /** The last step recorded in the cluster (`new` before the create). */
  get step(): RotationStep | 'new' {
    return this.state.step;
  }
  get slot(): string {
    return this.state.slot;
  }
  get reason(): string {
    return this.state.reason;
  }
  /** New values of the rotated keys. */
  get newValues(): ReadonlyMap<string, Buffer> | undefined {
    return this.state.newValues;
  }
  /** The values the rotation replaces (rotated keys only; an absent key did not exist). */
  get oldValues(): ReadonlyMap<string, Buffer> | undefined {
    return this.state.oldValues;
  }
  /** The rotate-now value seen when the rotation was planned (cleared at the end only if unchanged). */
  get rotateNowSeen(): string | undefined {
    return this.state.rotateNowSeen;
  }
  get versioned(): VersionedState | undefined {
    return this.state.versioned;
  }
  /** Workloads (kind/namespace/name) that consume the Secret, resolved in the rollout phase. */
  get consumers(): readonly string[] {
    return this.state.consumers;
  }
  /** Notes for the report and the Event (paused Deployments, clamped validity...). */
  get warnings(): readonly string[] {
    return this.state.warnings;
  }
  /** Workload keys whose rollout failed in this run. */
  get failedWorkloads(): readonly string[] {
    return this.state.failedWorkloads;
  }
  /** How the rotation ended in this run; undefined while it goes on. */
  get outcome(): RotationResult | undefined {
    return this.state.outcome;
  }
  /** The failure was transient (API unreachable after retries): a later run may succeed. */
  get transient(): boolean {
    return this.state.transient;
  }

  get label(): string {
    return `${this.namespace}/${this.name}`;
  }

  get strategy(): RotationPolicy['strategy'] {
    return this.policy.strategy;
  }

  /** True when a backend may already hold the pending values: the pending companion must then never be discarded. */
  get backendInvolved(): boolean {
    return this.policy.backend !== undefined;
  }

  // Transitions of the state machine (rotation-steps.ts), applied once the cluster records them.

  /** A new rotation gets its id, right before step 1. */
  begin(id: string): void {
    this.expectStep('new', 'begin');
    this.state.id = id;
  }

  /** `create`: the pending companion holds the new values. */
  created(pending: V1Secret, newValues: Map<string, Buffer>, oldValues: Map<string, Buffer>): void {
    this.advance('create');
    Object.assign(this.state, { pending, newValues, oldValues });
  }

  /**
   * `create` found the pending companion an earlier run made (it crashed right after the
   * create): its rotation goes on, at the step the companion records, with its values.
   */
  adopted(pending: V1Secret, record: PendingRecord, oldValues: Map<string, Buffer>): void {
    this.expectStep('new', 'adopt');
    const s = this.state;
    Object.assign(s, {
      pending,
      oldValues,
      id: record.id ?? s.id,
      step: record.step,
      slot: record.slot ?? s.slot,
      reason: record.reason ?? s.reason,
      rotateNowSeen: record.rotateNowSeen,
      newValues: record.newValues,
      versioned: this.withVersion(s.versioned, record),
    });
  }

  /** `set`, `test`, `test-failed`, versioned `roll-back`: the step the event leads to is recorded on the pending companion. */
  recorded(event: 'set' | 'test' | 'test-failed' | 'roll-back', pending: V1Secret): void {
    this.advance(event);
    this.state.pending = pending;
  }

  /** The step `event` leads to from here (throws when the event is not allowed). */
  stepAfter(event: RotationEvent): RotationStep {
    return nextState(this.strategy, this.state.step, event) as RotationStep;
  }

  /** In-place `finish`: the Secret holds the new values (templates as rendered then) and records the rotation. */
  finished(head: V1Secret, newValues: Map<string, Buffer>, oldValues: Map<string, Buffer>): void {
    this.advance('finish');
    Object.assign(this.state, { head, newValues, oldValues });
  }

  /** In-place `roll-back`: the Secret holds the previous values again and records `rolling-back`. */
  restored(head: V1Secret): void {
    this.advance('roll-back');
    this.state.head = head;
  }

  /**
   * The Secret already records this rotation at `step` (a write whose answer was lost had
   * happened): the run goes on from there.
   */
  recordedAhead(step: 'finished' | 'rolling-back'): void {
    this.state.step = step;
  }

  /**
   * The rotation's outcome in this run, by the event that ends it (`succeed`, `fail`,
   * `fail-resumable`, `fail-forward`, `rollback-failed`, `end-rollback`). `transient`: the failure
   * was the API server's or a backend's reachability, and the next run tries again.
   */
  end(event: RotationEvent, outcome: RotationResult, transient = false): void {
    nextState(this.strategy, this.state.step, event);
    this.state.outcome = outcome;
    this.state.transient = transient;
  }

  // What the run learned on the way; the step does not change.

  /** The latest state of the Secret or its companions, as a write returned it or a re-read found it. */
  observe(seen: { head?: V1Secret; pending?: V1Secret | undefined; previous?: V1Secret }): void {
    if (seen.head !== undefined) this.state.head = seen.head;
    if ('pending' in seen) this.state.pending = seen.pending;
    if (seen.previous !== undefined) this.state.previous = seen.previous;
  }

  /** The consumers the rollout acts on (workload keys). */
  consumersFound(keys: string[]): void {
    this.state.consumers = keys;
  }

  /** The consumers whose rollout failed in this run. */
  rolloutFailed(keys: string[]): void {
    this.state.failedWorkloads = keys;
  }

  warn(message: string): void {
    this.state.warnings.push(message);
  }

  private advance(event: RotationEvent): void {
    this.state.step = this.stepAfter(event);
  }

  private expectStep(step: RotationStep | 'new', what: string): void {
    if (this.state.step !== step) throw new Error(`rotation ${this.label}: cannot ${what} at step ${this.state.step}`);
  }

  /** `versioned` with the version a pending one records (versioned rotations only). */
  private withVersion(versioned: VersionedState | undefined, r: { version?: PendingRecord['version'] }): VersionedState | undefined {
    if (versioned === undefined || r.version === undefined) return versioned;
    return { ...versioned, toVersion: r.version.number, toName: r.version.name };
  }
}
