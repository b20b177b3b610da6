import type { V1Secret } from '@kubernetes/client-node';
import type { EventRecorder } from '../kube/events.js';
import type { SecretStore } from '../kube/secrets.js';
import type { WorkloadStore } from '../kube/workloads.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Shutdown } from '../runtime/shutdown.js';
import type { BackendRegistry } from './backend.js';
import type { OutcomeResult, RotationStep } from './metadata.js';
import type { RotationPolicy } from './policy.js';

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

/**
 * One Secret's rotation as it moves through the protocol in this run. The durable state is
 * in the cluster (annotations of the Secret and its pending companion); this object caches
 * what the run learned, and is rebuilt from the cluster by a rerun.
 */
export class Rotation {
  /** The latest version of the Secret that carries the policy, read in full (data included). */
  head: V1Secret;
  /** The pending companion (versioned: the new version), once created or found. */
  pending?: V1Secret;
  /**
   * The `<name>-previous` companion, when known: read in full when it holds this rotation's old
   * values (a resumed rotation); for a new rotation its listed metadata only (no `data`): it
   * belongs to an earlier rotation and is replaced whatever it holds, so only its identity and
   * resourceVersion are needed.
   */
  previous?: V1Secret;
  /** New values of the rotated keys. */
  newValues?: Map<string, Buffer>;
  /** The values the rotation replaces (rotated keys only; an absent key did not exist). */
  oldValues?: Map<string, Buffer>;
  /** The rotate-now value seen when the rotation was planned (cleared at the end only if unchanged). */
  rotateNowSeen?: string;
  versioned?: VersionedState;
  /** Workloads (kind/namespace/name) that consume the Secret, resolved in the rollout phase. */
  consumers: string[] = [];
  /** Notes for the report and the Event (paused Deployments, clamped validity...). */
  warnings: string[] = [];
  outcome?: RotationResult;
  /** Workload keys whose rollout failed in this run. */
  failedWorkloads: string[] = [];
  /** The failure was transient (API unreachable after retries): a later run may succeed. */
  transient = false;
  readonly namespace: string;
  /** The Secret's name when the rotation began (for versioned rotations: the version being replaced). */
  readonly name: string;

  constructor(
    head: V1Secret,
    readonly policy: RotationPolicy,
    /** The policy's text (copied to new versions). */
    readonly policyText: string,
    public id: string,
    public step: RotationStep | 'new',
    /** The slot this rotation satisfies (ISO time, `rotate-now@...`, `max-age@...`). */
    public slot: string,
    /** Why it started: `schedule`, `max-age`, `rotate-now`, or `resumed`. */
    public reason: string,
  ) {
    this.head = head;
    this.namespace = head.metadata?.namespace ?? '';
    this.name = head.metadata?.name ?? '';
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
}
