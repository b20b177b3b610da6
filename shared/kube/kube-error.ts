import { ExitCode } from '../errors/exit-codes.js';
import { StewardError } from '../errors/index.js';

/** What was being done to which object; names the operation in every error and log line. */
export interface KubeOp {
  /** Kubernetes verb: get, list, create, update, patch, delete, deletecollection, watch. */
  verb: string;
  /** Kind, e.g. `Secret`, `Deployment`, `Lease`. */
  kind: string;
  namespace?: string;
  name?: string;
  /** Extra words after the object, e.g. {@link DRY_RUN_DETAIL}. */
  detail?: string;
}

/** {@link KubeOp.detail} of a write sent with `dryRun=All`. */
export const DRY_RUN_DETAIL = '(dry run)';

/** `Secret payments/db-creds`, `Secrets in all namespaces`, `Namespace payments`. */
export function describeObject(op: Pick<KubeOp, 'kind' | 'namespace' | 'name'>): string {
  if (op.name === undefined) return op.namespace ? `${op.kind}s in namespace ${op.namespace}` : `${op.kind}s in all namespaces`;
  return op.namespace ? `${op.kind} ${op.namespace}/${op.name}` : `${op.kind} ${op.name}`;
}

const VERB_TEXT: Record<string, string> = { update: 'replace' };

/** `failed to replace Secret payments/db-creds (dry run)`: how every error about `op` begins. */
export function failedTo(op: KubeOp): string {
  return `failed to ${VERB_TEXT[op.verb] ?? op.verb} ${describeObject(op)}${op.detail ? ` ${op.detail}` : ''}`;
}

/**
 * A failed Kubernetes API call: the operation and object, the HTTP status and the Status
 * reason. The response body and the client library's message (which embeds the body) are
 * never kept: for Secrets a body may contain data. Field paths from a 422's causes are kept,
 * as they name keys, not values.
 */
export class KubeError extends StewardError {
  readonly op: KubeOp;
  /** HTTP status; 0 when no response arrived (network error). */
  readonly status: number;
  /** Status reason (`Conflict`, `AlreadyExists`, `NotFound`, `Expired`, `Invalid`, ...) or network error code. */
  readonly reason: string;
  /** True when the call may succeed later (429, 5xx, network). */
  readonly transient: boolean;
  /** For writes that failed transiently: the write may or may not have happened; re-read before acting. */
  readonly outcomeUnknown: boolean;
  readonly retryAfterMs?: number;
  readonly fields: readonly string[];
  /** The types of the Status's `details.causes` (e.g. `NamespaceTerminating`, `FieldValueInvalid`). */
  readonly causes: readonly string[];
  /** The admission policy or webhook that denied the request (403 or 422), by name. */
  readonly deniedBy?: string;

  constructor(
    op: KubeOp,
    init: {
      status: number;
      reason: string;
      retryAfterMs?: number;
      fields?: readonly string[];
      causes?: readonly string[];
      deniedBy?: string;
      cause?: unknown;
    },
  ) {
    const transient = init.status === 0 || init.status === 429 || init.status >= 500;
    const statusText = init.status === 0 ? init.reason : `${init.status} ${init.reason}`;
    const terminating = init.status === 403 && (init.causes ?? []).includes(NAMESPACE_TERMINATING);
    // Neither a terminating namespace nor a denial in admission is an RBAC matter.
    const hint = terminating
      ? ` (namespace ${op.namespace ?? '?'} is being deleted (Terminating): nothing can be created in it until it is gone)`
      : init.deniedBy
        ? ` (denied by ${init.deniedBy})`
        : (HINTS[init.reason] ?? (init.status === 0 && UNREACHABLE.has(init.reason) ? UNREACHABLE_HINT : ''));
    const fields = init.fields?.length ? ` (fields: ${init.fields.join(', ')})` : '';
    super(`${failedTo(op)}: ${statusText}${hint}${fields}`, {
      exitCode: transient ? ExitCode.Transient : ExitCode.Failed,
      cause: init.cause,
    });
    this.op = op;
    this.status = init.status;
    this.reason = init.reason;
    this.transient = transient;
    this.outcomeUnknown = transient && init.status !== 429 && !['get', 'list', 'watch'].includes(op.verb);
    this.retryAfterMs = init.retryAfterMs;
    this.fields = init.fields ?? [];
    this.causes = init.causes ?? [];
    this.deniedBy = init.deniedBy;
  }

  get notFound(): boolean {
    return this.status === 404;
  }
  get conflict(): boolean {
    return this.status === 409 && this.reason !== 'AlreadyExists';
  }
  get alreadyExists(): boolean {
    return this.status === 409 && this.reason === 'AlreadyExists';
  }
  get expired(): boolean {
    return this.status === 410;
  }
  get forbidden(): boolean {
    return this.status === 403;
  }
  /**
   * A create refused because its namespace is being deleted (NamespaceLifecycle's 403 with the
   * NamespaceTerminating cause): not an RBAC problem, and nothing is created there until it is gone.
   */
  get namespaceTerminating(): boolean {
    return this.status === 403 && this.causes.includes(NAMESPACE_TERMINATING);
  }
  get invalid(): boolean {
    return this.status === 422;
  }
}

/** StatusCause type of NamespaceLifecycle's 403 on a create in a namespace being deleted (core/v1 NamespaceTerminatingCause). */
const NAMESPACE_TERMINATING = 'NamespaceTerminating';

const HINTS: Record<string, string> = {
  Conflict: ' (resourceVersion stale: the object changed since it was read)',
  Forbidden: " (check the RBAC rules of this job's ServiceAccount)",
  Unauthorized: ' (credentials rejected: check the kubeconfig or service account token)',
  Expired: ' (list continue token expired)',
};

/** Network failures where nothing answered at all: the address itself may be wrong. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const UNREACHABLE_HINT =
  ' (the API server cannot be reached: check the server of --kubeconfig / KUBECONFIG, or the in-cluster service, and the NetworkPolicy secret-steward-allow-apiserver, whose address each installation sets: README, Install)';

/** True for `KubeError`s matching a predicate; handy in catch blocks. */
export function isKubeError(e: unknown, test?: (k: KubeError) => boolean): e is KubeError {
  return e instanceof KubeError && (test === undefined || test(e));
}
