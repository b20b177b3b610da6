/**
 * Kubernetes `Status` errors, shaped exactly like kube-apiserver's
 * (k8s.io/apimachinery/pkg/api/errors): `kind: Status`, `apiVersion: v1`,
 * `metadata: {}`, `status: Failure`, `message`, `reason`, `details`, `code`.
 */

/** One entry of `details.causes`. `reason` is e.g. FieldValueInvalid. */
export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

/** `details` of a Status. `kind` is the resource (plural) except for Invalid, where it is the Kind. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A `kind: Status` object as sent on the wire. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string; resourceVersion?: string };
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** Names a resource in messages: `secrets`, `deployments.apps`. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** Thrown by every emulator operation that fails; carries the Status to send. */
export class KubeApiError extends Error {
  readonly status: Status;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'KubeApiError';
    this.status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details ? { details: compactDetails(details) } : {}),
      code,
    };
  }

  get code(): number {
    return this.status.code;
  }

  get reason(): string {
    return this.status.reason ?? '';
  }
}

function compactDetails(details: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (details.name) out.name = details.name;
  if (details.group) out.group = details.group;
  if (details.kind) out.kind = details.kind;
  if (details.uid) out.uid = details.uid;
  if (details.causes && details.causes.length > 0) out.causes = details.causes;
  if (details.retryAfterSeconds !== undefined) out.retryAfterSeconds = details.retryAfterSeconds;
  return out;
}

/** `secrets` or `deployments.apps`, as the real server prints a GroupResource. */
export function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function grDetails(gr: GroupResource, name?: string): StatusDetails {
  return { name, group: gr.group, kind: gr.resource };
}

export function notFound(gr: GroupResource, name: string): KubeApiError {
  return new KubeApiError(404, 'NotFound', `${qualified(gr)} "${name}" not found`, grDetails(gr, name));
}

export function alreadyExists(gr: GroupResource, name: string): KubeApiError {
  return new KubeApiError(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, grDetails(gr, name));
}

/** The optimistic-concurrency failure (stale resourceVersion). */
export function conflict(
  gr: GroupResource,
  name: string,
  why = 'the object has been modified; please apply your changes to the latest version and try again',
): KubeApiError {
  return new KubeApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, grDetails(gr, name));
}

/** 422 Invalid. `kind` is the Kind (e.g. Secret); message lists every cause like the real server. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): KubeApiError {
  const rendered = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  return new KubeApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${summary}`, { name, group, kind, causes });
}

export function badRequest(message: string): KubeApiError {
  return new KubeApiError(400, 'BadRequest', message);
}

/** 403 with the RBAC authorizer's message shape. */
export function forbidden(gr: GroupResource, name: string | undefined, why: string): KubeApiError {
  const subject = name ? `${qualified(gr)} "${name}"` : qualified(gr);
  return new KubeApiError(403, 'Forbidden', `${subject} is forbidden: ${why}`, grDetails(gr, name));
}

/** 403 for a non-resource URL (e.g. `forbidden: User "x" cannot get path "/api"`). */
export function forbiddenPath(why: string): KubeApiError {
  return new KubeApiError(403, 'Forbidden', `forbidden: ${why}`, {});
}

export function unauthorized(): KubeApiError {
  return new KubeApiError(401, 'Unauthorized', 'Unauthorized');
}

export function notFoundPath(): KubeApiError {
  return new KubeApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function methodNotAllowed(): KubeApiError {
  return new KubeApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

/** 410 Gone, reason Expired (stale continue token, too-old watch resourceVersion). */
export function expired(message: string): KubeApiError {
  return new KubeApiError(410, 'Expired', message);
}

export function unsupportedMediaType(contentType: string, accepted: readonly string[]): KubeApiError {
  return new KubeApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    contentType ? {} : undefined,
  );
}

export function requestEntityTooLarge(limit: number): KubeApiError {
  return new KubeApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

export function internalError(message: string): KubeApiError {
  return new KubeApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}

/** Common Status for an HTTP code, as used by fault injection. */
export function statusForCode(code: number, message?: string, retryAfterSeconds?: number): Status {
  const table: Record<number, [string, string]> = {
    400: ['BadRequest', 'the server rejected our request for an unknown reason'],
    401: ['Unauthorized', 'Unauthorized'],
    403: ['Forbidden', 'forbidden'],
    404: ['NotFound', 'the server could not find the requested resource'],
    409: ['Conflict', 'the server reported a conflict'],
    410: ['Expired', 'The provided continue parameter is too old to display a consistent list result.'],
    422: ['Invalid', 'the server rejected our request due to an error in our request'],
    429: ['TooManyRequests', 'Too many requests, please try again later.'],
    500: ['InternalError', 'Internal error occurred: injected fault'],
    502: ['InternalError', 'an error on the server ("Bad Gateway") has prevented the request from succeeding'],
    503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
    504: ['Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'],
  };
  const [reason, defaultMessage] = table[code] ?? [
    'Unknown',
    `the server responded with the status code ${code} but did not return more information`,
  ];
  const details: StatusDetails = {};
  if (retryAfterSeconds !== undefined) details.retryAfterSeconds = retryAfterSeconds;
  return new KubeApiError(code, reason, message ?? defaultMessage, retryAfterSeconds !== undefined ? details : undefined).status;
}
