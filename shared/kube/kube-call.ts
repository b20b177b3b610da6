import { ApiException } from '@kubernetes/client-node';
import type { Logger } from '../log/index.js';
import type { CongestionSignal } from '../runtime/adaptive-limit.js';
import type { Clock } from '../runtime/clock.js';
import { parseRetryAfter, type RetryDecision, withRetry } from '../runtime/retry.js';
import { KubeError, type KubeOp } from './kube-error.js';

/** Retry limits for API calls. */
export interface KubeRetryLimits {
  /** @default 6 */
  maxAttempts?: number;
  /** @default 200 */
  baseDelayMs?: number;
  /** @default 10000 */
  maxDelayMs?: number;
  /** @default 60000 */
  budgetMs?: number;
}

export interface KubeCallerDeps {
  clock: Clock;
  log: Logger;
  limits?: KubeRetryLimits;
  random?: () => number;
  /** Aborts waits between retries (SIGTERM). */
  signal?: AbortSignal;
  /** Told of every 429 and 5xx answer, retried or not (the restore's write concurrency backs off). */
  congestion?: CongestionSignal;
}

/**
 * Runs Kubernetes API calls with error conversion and retries. Which failures are retried
 * depends on whether repeating the call is safe:
 * - 429 (API Priority and Fairness rejected it before processing): always, honouring Retry-After;
 * - 5xx and network errors: reads always; writes only when the caller marks them idempotent
 *   (a delete, or an update guarded by resourceVersion), because a write that failed this way
 *   may have happened: the caller re-reads instead.
 * Everything else (404, 409, 422, 403...) is returned at once as a {@link KubeError}.
 */
export class KubeCaller {
  constructor(private readonly deps: KubeCallerDeps) {}

  async call<T>(op: KubeOp, fn: () => Promise<T>, opts: { idempotent?: boolean } = {}): Promise<T> {
    const read = op.verb === 'get' || op.verb === 'list' || op.verb === 'watch';
    const retryServerErrors = read || opts.idempotent === true;
    const limits = this.deps.limits ?? {};
    return withRetry(
      async () => {
        try {
          return await fn();
        } catch (e) {
          throw toKubeError(op, e, this.deps.clock.now());
        }
      },
      {
        ...limits,
        clock: this.deps.clock,
        random: this.deps.random,
        signal: this.deps.signal,
        classify: (e): RetryDecision => {
          if (!(e instanceof KubeError) || !e.transient) return { retry: false };
          if (e.status === 429 || e.status >= 500) this.deps.congestion?.congested({ retryAfterMs: e.retryAfterMs });
          if (e.status === 429) return { retry: true, afterMs: e.retryAfterMs, reason: '429 TooManyRequests' };
          if (e.status === 0 && e.reason === 'ECONNREFUSED') return { retry: true, reason: 'connection refused' };
          if (!retryServerErrors) return { retry: false };
          return { retry: true, afterMs: e.retryAfterMs, reason: e.status === 0 ? e.reason : `${e.status} ${e.reason}` };
        },
        onRetry: ({ attempt, delayMs, reason }) =>
          this.deps.log.warn({ op: opLabel(op), attempt, delayMs, reason }, 'Kubernetes API call failed; retrying'),
      },
    );
  }
}

function opLabel(op: KubeOp): string {
  return `${op.verb} ${op.kind}${op.namespace ? ` ${op.namespace}` : ''}${op.name ? `/${op.name}` : ''}`;
}

/**
 * Converts what a client-node call throws into a {@link KubeError} without keeping the body.
 * Errors that are neither an API answer nor a network failure (bugs) are returned unchanged.
 */
export function toKubeError(op: KubeOp, e: unknown, now: Date): unknown {
  if (e instanceof KubeError) return e;
  if (e instanceof ApiException) {
    const status = statusFromBody(e.body);
    const headers = (e.headers ?? {}) as Record<string, string>;
    return new KubeError(op, {
      status: e.code,
      reason: status.reason ?? defaultReason(e.code),
      retryAfterMs: parseRetryAfter(headers['retry-after'], now),
      fields: status.fields,
      causes: status.causes,
      deniedBy: status.deniedBy,
    });
  }
  const code = networkCode(e);
  return code === undefined ? e : new KubeError(op, { status: 0, reason: code });
}

/**
 * Who denied a request in admission, from the Status message of kube-apiserver's validating
 * admission (`... ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied request: ...`)
 * or webhook dispatcher (`admission webhook "<name>" denied the request: ...`). Only the names are
 * kept: the rest of the message is the policy's text, which a messageExpression may fill from the
 * object (a Secret's data).
 */
function admissionDenier(message: unknown): string | undefined {
  if (typeof message !== 'string') return undefined;
  const policy = /ValidatingAdmissionPolicy '([^']+)' with binding '([^']+)' denied request/.exec(message);
  if (policy) return `ValidatingAdmissionPolicy '${policy[1]}' (binding '${policy[2]}')`;
  const webhook = /admission webhook "([^"]+)" denied the request/.exec(message);
  return webhook ? `admission webhook "${webhook[1]}"` : undefined;
}

function statusFromBody(body: unknown): { reason?: string; fields: string[]; causes: string[]; deniedBy?: string } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { fields: [], causes: [] };
    }
  }
  if (parsed === null || typeof parsed !== 'object') return { fields: [], causes: [] };
  const s = parsed as { reason?: unknown; message?: unknown; details?: { causes?: Array<{ field?: unknown; reason?: unknown }> } };
  const strings = (key: 'field' | 'reason') => [
    ...new Set((s.details?.causes ?? []).map((c) => c?.[key]).filter((v): v is string => typeof v === 'string' && v !== '')),
  ];
  return {
    reason: typeof s.reason === 'string' && s.reason !== '' ? s.reason : undefined,
    fields: strings('field'),
    causes: strings('reason'),
    deniedBy: admissionDenier(s.message),
  };
}

function defaultReason(code: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    405: 'MethodNotAllowed',
    409: 'Conflict',
    410: 'Expired',
    413: 'RequestEntityTooLarge',
    415: 'UnsupportedMediaType',
    422: 'Invalid',
    429: 'TooManyRequests',
    500: 'InternalError',
    502: 'BadGateway',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return reasons[code] ?? 'Error';
}

/** Finds a system error code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET...) in an error chain. */
function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur !== null && typeof cur === 'object'; depth++) {
    const c = cur as { code?: unknown; cause?: unknown; name?: unknown };
    if (typeof c.code === 'string') return c.code;
    if (c.name === 'AbortError' || c.name === 'TimeoutError') return String(c.name);
    cur = c.cause;
  }
  return undefined;
}
