/**
 * The request sequence of a run across both servers, and how a case finds "request i" again in
 * a later run.
 *
 * Both servers number their requests in one shared RequestSequence, so the clean run's requests
 * form one ordered list (a `Step` per request). The Kubernetes calls and the S3 calls of a job
 * interleave (a segment uploads while the next page of Secrets is listed; drill creates run four
 * at a time), so the same logical request does not always get the same global index in another
 * run. A case therefore names its request by the global index of the clean run AND by what it
 * is: its signature (server, method, path with run-specific ids replaced) and which occurrence
 * of that signature it was. The trigger fires at that occurrence; `firedAt` records the global
 * index it actually had (usually the same).
 */
import type { RequestLogEntry } from '../emulator/index.js';
import type { RecordedRequest } from '../support/s3-fault-proxy.js';

export type Server = 'k8s' | 's3';

/** One request of a run. */
export interface Step {
  /** Global index in the run (1-based, both servers). */
  seq: number;
  server: Server;
  method: string;
  /** Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection) or S3 operation (PutObject, UploadPart...). */
  op: string;
  /** What it is, with run-specific ids replaced: equal for the same logical request in every run. */
  signature: string;
  /** Which request with this signature it is in its run (1-based). */
  occurrence: number;
  /** The request carries a body (an upload, a create, an update...). */
  hasBody: boolean;
  /** A Kubernetes write (create, update, patch, delete, deletecollection). */
  write: boolean;
}

/** Run-specific parts of paths and keys: backup ids, drill ids, report times, upload ids. */
export function normalise(text: string): string {
  return text
    .replace(/\d{8}T\d{6}Z-[0-9a-f]{6}/g, '<backup>')
    .replace(/\d{8}T\d{6}Z_/g, '<time>_')
    .replace(/drill-[0-9a-z]{8}/g, 'drill-<id>');
}

const K8S_WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** The signature of a Kubernetes request. */
export function k8sSignature(e: Pick<RequestLogEntry, 'method' | 'path' | 'verb'>): string {
  return `k8s ${e.verb} ${e.method} ${normalise(e.path)}`;
}

/** The signature of an S3 request: operation, key (ids replaced), part number or list prefix. */
export function s3Signature(r: Pick<RecordedRequest, 'operation' | 'path'>): string {
  const url = new URL(r.path, 'http://s3');
  const extra = url.searchParams.get('partNumber') ?? url.searchParams.get('prefix') ?? '';
  return `s3 ${r.operation} ${normalise(decodeURIComponent(url.pathname))}${extra ? ` ${normalise(extra)}` : ''}`;
}

/** The run's requests in arrival order, across both servers. */
export function stepsOf(k8s: readonly RequestLogEntry[], s3: readonly RecordedRequest[]): Step[] {
  const raw: Array<Omit<Step, 'occurrence'>> = [
    ...k8s.map((e) => ({
      seq: e.seq,
      server: 'k8s' as const,
      method: e.method,
      op: e.verb,
      signature: k8sSignature(e),
      hasBody: ['POST', 'PUT', 'PATCH'].includes(e.method),
      write: K8S_WRITES.has(e.verb),
    })),
    ...s3.map((r) => ({
      seq: r.seq,
      server: 's3' as const,
      method: r.method,
      op: r.operation,
      signature: s3Signature(r),
      hasBody: Number(r.headers['content-length'] ?? 0) > 0,
      write: false,
    })),
  ].sort((a, b) => a.seq - b.seq);
  const seen = new Map<string, number>();
  return raw.map((s) => {
    const occurrence = (seen.get(s.signature) ?? 0) + 1;
    seen.set(s.signature, occurrence);
    return { ...s, occurrence };
  });
}

/** A short human-readable label: `#12 k8s create POST /api/v1/namespaces/shop/secrets`. */
export function describeStep(s: Pick<Step, 'seq' | 'signature' | 'occurrence'>): string {
  return `#${s.seq} ${s.signature.replace(/^(k8s|s3) /, '$1 ')}${s.occurrence > 1 ? ` (${s.occurrence}.)` : ''}`;
}

/**
 * Fires once, at the `occurrence`-th request with `signature` in a run. Both servers ask it
 * about every request they receive (through their fault predicates).
 */
export class Trigger {
  private seen = 0;
  /** Global index of the request it fired at, once it has. */
  firedAt: number | undefined;

  constructor(readonly step: Pick<Step, 'signature' | 'occurrence' | 'seq'>) {}

  /** Counts the request; true exactly when this is the one. */
  check(seq: number, signature: string): boolean {
    if (this.firedAt !== undefined || signature !== this.step.signature) return false;
    if (++this.seen !== this.step.occurrence) return false;
    this.firedAt = seq;
    return true;
  }
}
