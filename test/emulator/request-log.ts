/**
 * Log of every request the emulator served, with its Kubernetes attributes
 * (verb, resource, namespace, name...), identity, status and the RBAC
 * decision, for assertions like "the job never listed Secrets cluster-wide".
 */
import type { AuthzDecision } from './rbac.js';

/** One served request. Entries are appended when the request arrives; `status` is set when answered. */
export interface RequestLogEntry {
  /** Index in the fault injector's request sequence (shared with other servers when a test shares one). */
  seq: number;
  time: Date;
  method: string;
  /** URL path without the query string. */
  path: string;
  /** Query parameters (last value wins). */
  query: Record<string, string>;
  /** Authenticated username ('' for rejected credentials). */
  user: string;
  groups: string[];
  /** HTTP status answered (0 while in flight; 0 for dropped connections). */
  status: number;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection; lower-case method for non-resource paths. */
  verb: string;
  /** Resource plural ('' for non-resource paths). */
  resource: string;
  apiGroup: string;
  namespace: string;
  name: string;
  subresource: string;
  /** The Accept header ('' when absent): tells e.g. a metadata-only list (`as=PartialObjectMetadataList`) from a full one. */
  accept: string;
  /** The User-Agent header ('' when absent): who made the request, as the API server's audit log records it. */
  userAgent: string;
  /** `dryRun=All` was requested. */
  dryRun: boolean;
  /** A fault fired for this request. */
  fault: boolean;
  /** RBAC decision (absent when not evaluated: admin, rbac off, or 401). */
  authz?: AuthzDecision;
}

/** Requests being served at once, split as kube-apiserver's max-in-flight filter splits them. */
export interface InFlight {
  /** get, list (watches are long-running and not counted). */
  readOnly: number;
  /** Every other verb: create, update, patch, delete, deletecollection. */
  mutating: number;
}

export class RequestLog {
  /** All entries, oldest first. */
  readonly entries: RequestLogEntry[] = [];
  /** Requests being served now (arrived, not yet answered or dropped). */
  readonly inFlight: InFlight = { readOnly: 0, mutating: 0 };
  /**
   * The most requests served at once since the start or the last `clear()`: the watermark of
   * kube-apiserver's max-in-flight filter (`apiserver_current_inflight_requests`).
   */
  readonly peakInFlight: InFlight = { readOnly: 0, mutating: 0 };

  /**
   * @internal Counts `entry` in flight until `done` fires, unless it is long-running (a watch,
   * a followed log), which the max-in-flight filter does not track either.
   */
  track(entry: RequestLogEntry, done: (callback: () => void) => void): void {
    if (entry.verb === 'watch' || (entry.subresource === 'log' && entry.query.follow === 'true')) return;
    const kind: keyof InFlight = ['get', 'list'].includes(entry.verb) ? 'readOnly' : 'mutating';
    this.inFlight[kind]++;
    this.peakInFlight[kind] = Math.max(this.peakInFlight[kind], this.inFlight[kind]);
    done(() => {
      this.inFlight[kind]--;
    });
  }

  /** @internal */
  add(entry: RequestLogEntry): void {
    this.entries.push(entry);
  }

  /** Forgets every entry, and the peaks (they start again from what is in flight now). */
  clear(): void {
    this.entries.length = 0;
    this.peakInFlight.readOnly = this.inFlight.readOnly;
    this.peakInFlight.mutating = this.inFlight.mutating;
  }

  /** Entries satisfying `predicate`. */
  filter(predicate: (entry: RequestLogEntry) => boolean): RequestLogEntry[] {
    return this.entries.filter(predicate);
  }

  /** Number of entries satisfying `predicate` (all when omitted). */
  count(predicate: (entry: RequestLogEntry) => boolean = () => true): number {
    let n = 0;
    for (const e of this.entries) if (predicate(e)) n++;
    return n;
  }
}
