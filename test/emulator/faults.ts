/**
 * Fault injection: make chosen requests fail (Status error with optional
 * Retry-After), stall (delay), or lose their connection (drop).
 */
import { statusForCode } from './errors.js';
import type { Status } from './errors.js';

/** What to inject and where. */
export interface FaultSpec {
  /** HTTP method to match (case-insensitive); any when omitted. */
  method?: string;
  /** URL path (no query string): exact string, or RegExp tested against the path. */
  path: string | RegExp;
  /** Optional RegExp tested against the raw query string (without '?'). */
  query?: RegExp;
  /** Answer with this HTTP status and a matching Status body. */
  status?: number;
  /** Sets `Retry-After` (and details.retryAfterSeconds). */
  retryAfterSeconds?: number;
  /** Overrides fields of the Status body (message, reason, details...). */
  body?: Partial<Status>;
  /** Waits this long before acting (alone: a slow but otherwise normal request). */
  delayMs?: number;
  /** Destroys the socket without any response. */
  drop?: boolean;
  /** How many matching requests fire the fault. @default 1 (Infinity allowed) */
  times?: number;
  /** Skip the first N matching requests: the fault starts at the (N+1)th. @default 0 */
  after?: number;
}

/** Handle of an injected fault. */
export interface Fault {
  readonly spec: Readonly<FaultSpec>;
  /** Times the fault fired. */
  readonly hits: number;
  /** Matching requests seen (including skipped and exhausted ones). */
  readonly matched: number;
  /** Stops the fault. */
  remove(): void;
}

/** The action the server must take for one request. */
export interface FaultAction {
  fault: Fault;
  delayMs: number;
  drop: boolean;
  /** Status to answer, if any (otherwise serve normally after the delay). */
  status?: Status;
  retryAfterSeconds?: number;
}

class ActiveFault implements Fault {
  hits = 0;
  matched = 0;

  constructor(
    readonly spec: Readonly<FaultSpec>,
    private readonly owner: FaultInjector,
  ) {}

  remove(): void {
    this.owner.removeFault(this);
  }

  matches(method: string, path: string, query: string): boolean {
    if (this.spec.method && this.spec.method.toUpperCase() !== method.toUpperCase()) return false;
    const pathOk = typeof this.spec.path === 'string' ? this.spec.path === path : this.spec.path.test(path);
    return pathOk && (!this.spec.query || this.spec.query.test(query));
  }

  /** Counts a matching request; true when this one must fire. */
  take(): boolean {
    this.matched++;
    const after = this.spec.after ?? 0;
    const times = this.spec.times ?? 1;
    if (this.matched <= after || this.hits >= times) return false;
    this.hits++;
    return true;
  }
}

export class FaultInjector {
  private faults: ActiveFault[] = [];

  /** Adds a fault; the earliest added matching fault wins. */
  inject(spec: FaultSpec): Fault {
    const fault = new ActiveFault({ ...spec }, this);
    this.faults.push(fault);
    return fault;
  }

  /** Removes every fault. */
  clear(): void {
    this.faults = [];
  }

  /** @internal */
  removeFault(fault: Fault): void {
    this.faults = this.faults.filter((f) => f !== fault);
  }

  /** Decides the fault (if any) for a request. */
  match(method: string, path: string, query: string): FaultAction | undefined {
    for (const fault of this.faults) {
      if (!fault.matches(method, path, query) || !fault.take()) continue;
      const spec = fault.spec;
      let status: Status | undefined;
      if (spec.status !== undefined) {
        const base = statusForCode(spec.status, spec.body?.message, spec.retryAfterSeconds);
        status = { ...base, ...spec.body, kind: 'Status', apiVersion: 'v1', code: spec.status };
      }
      return { fault, delayMs: spec.delayMs ?? 0, drop: spec.drop ?? false, status, retryAfterSeconds: spec.retryAfterSeconds };
    }
    return undefined;
  }
}
