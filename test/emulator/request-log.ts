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

export class RequestLog {
  /** All entries, oldest first. */
  readonly entries: RequestLogEntry[] = [];

  /** @internal */
  add(entry: RequestLogEntry): void {
    this.entries.push(entry);
  }

  /** Forgets every entry. */
  clear(): void {
    this.entries.length = 0;
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
