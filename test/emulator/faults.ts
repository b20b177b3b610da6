/**
 * Fault injection: make chosen requests fail (Status error with optional
 * Retry-After), stall (delay), lose their connection (drop), or be served in
 * full with the answer lost (loseResponse). Requests are chosen by method, path
 * and query, by their index in a {@link RequestSequence} (which can be shared
 * with other servers, so that "request 17" is one request across all of them),
 * or by a predicate.
 */

import type { Status } from './errors.js';
import { statusForCode } from './errors.js';

/**
 * Numbers requests 1, 2, 3... in the order they arrive. One sequence can be given to several
 * servers (the emulator, the S3 fault proxy) so that an index names one request among all.
 */
export class RequestSequence {
  private last = 0;

  /** The index of the next request (1-based). */
  next(): number {
    return ++this.last;
  }

  /** Indexes handed out so far. */
  get count(): number {
    return this.last;
  }
}

/** A request as fault selection sees it. */
export interface FaultRequest {
  /** Index in the injector's {@link RequestSequence}. */
  seq: number;
  method: string;
  path: string;
  /** Raw query string without '?'. */
  query: string;
}

/** What to inject and where. */
export interface FaultSpec {
  /** HTTP method to match (case-insensitive); any when omitted. */
  method?: string;
  /** URL path (no query string): exact string, or RegExp tested against the path. Any when omitted. */
  path?: string | RegExp;
  /** Only the request with this index in the injector's {@link RequestSequence} (1-based). */
  atRequest?: number;
  /** Only requests this predicate accepts (checked after method, path, query and atRequest). */
  when?: (request: FaultRequest) => boolean;
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
  /**
   * Serves the request in full (a write is committed), then destroys the socket instead of
   * sending the answer: the client cannot tell whether its request happened.
   */
  loseResponse?: boolean;
  /**
   * Called when the fault fires and awaited before its action (tests signal a process here).
   * With `loseResponse`, called once the request has been served, before the socket is destroyed.
   */
  onFire?: (request: FaultRequest) => void | Promise<void>;
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
  loseResponse: boolean;
  /** Status to answer, if any (otherwise serve normally after the delay). */
  status?: Status;
  retryAfterSeconds?: number;
  request: FaultRequest;
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

  matches(r: FaultRequest): boolean {
    const { method: m, path: p, query: q, atRequest, when } = this.spec;
    if (m && m.toUpperCase() !== r.method.toUpperCase()) return false;
    if (p !== undefined && !(typeof p === 'string' ? p === r.path : p.test(r.path))) return false;
    if (q && !q.test(r.query)) return false;
    if (atRequest !== undefined && atRequest !== r.seq) return false;
    return when === undefined || when(r);
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
  private seq = new RequestSequence();

  /** The sequence requests are numbered in (`atRequest`); its own unless {@link useSequence} shared one. */
  get sequence(): RequestSequence {
    return this.seq;
  }

  /** Numbers requests in `sequence` from now on (share one with other servers). */
  useSequence(sequence: RequestSequence): void {
    this.seq = sequence;
  }

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

  /** Decides the fault (if any) for a request (`seq`: its index, from {@link sequence}). */
  match(method: string, path: string, query: string, seq = 0): FaultAction | undefined {
    const request: FaultRequest = { seq, method, path, query };
    for (const fault of this.faults) {
      if (!fault.matches(request) || !fault.take()) continue;
      const spec = fault.spec;
      let status: Status | undefined;
      if (spec.status !== undefined) {
        const base = statusForCode(spec.status, spec.body?.message, spec.retryAfterSeconds);
        status = { ...base, ...spec.body, kind: 'Status', apiVersion: 'v1', code: spec.status };
      }
      return {
        fault,
        delayMs: spec.delayMs ?? 0,
        drop: spec.drop ?? false,
        loseResponse: spec.loseResponse ?? false,
        status,
        retryAfterSeconds: spec.retryAfterSeconds,
        request,
      };
    }
    return undefined;
  }
}
