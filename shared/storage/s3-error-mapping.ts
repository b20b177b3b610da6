import { StorageError, type StorageErrorKind } from './storage-error.js';

/** Which of our operations, on which object, failed; `step` names the S3 call inside it. */
export interface S3OpContext {
  operation: string;
  /** `s3://bucket/key`, no credentials. */
  location: string;
  /** The S3 API call when it adds information, e.g. `UploadPart 3`, `CompleteMultipartUpload`. */
  step?: string;
}

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchUpload']);
const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
  'CredentialsProviderError',
  'AccountProblem',
]);
const UNREACHABLE = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'TimeoutError',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestTimeoutException',
]);
const INTEGRITY = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch', 'ChecksumMismatch', 'InvalidChecksum']);
const TOO_LARGE = new Set(['EntityTooLarge', 'EntityTooSmall', 'MaxMessageLengthExceeded']);
/** Network failures that mean "the store did not answer". */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EPROTO',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** What the SDK calls an error it could not read a code from. */
const UNNAMED = new Set(['Unknown', 'UnknownError', 'Error']);
const HTTP_REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  411: 'LengthRequired',
  412: 'PreconditionFailed',
  416: 'RangeNotSatisfiable',
  429: 'TooManyRequests',
  500: 'InternalError',
  501: 'NotImplemented',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};
/** Certificate verification failures (Node.js TLS error codes). */
const TLS_VERIFICATION = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const HINTS: Partial<Record<StorageErrorKind, string>> = {
  'access-denied':
    ' (check the credentials from the AWS SDK chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_SHARED_CREDENTIALS_FILE/AWS_PROFILE, or IRSA web identity; and the bucket policy)',
};

/** Shape of what the AWS SDK throws (service exceptions and wrapped network errors). */
interface SdkLikeError {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  cause?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/**
 * Converts what an S3 SDK call threw into a {@link StorageError}. Only the status, the error
 * code and the attempt count are kept: the SDK's message is the store's text (it may quote
 * request details) and the error object carries the raw response, so neither is kept.
 * Errors that are neither a store answer nor a network failure (a bug, or the caller's own
 * body stream failing) are returned unchanged.
 */
export function toStorageError(e: unknown, ctx: S3OpContext): unknown {
  if (e instanceof StorageError) return e;
  if (e === null || typeof e !== 'object') return e;
  const err = e as SdkLikeError;
  const status = err.$metadata?.httpStatusCode;
  const attempts = err.$metadata?.attempts ?? 1;
  const named = typeof err.Code === 'string' ? err.Code : typeof err.name === 'string' ? err.name : undefined;
  // A HEAD answer has no body to name the error, and a store may send an error without a code:
  // the SDK then says `Unknown`/`UnknownError`; the HTTP status says more.
  const name =
    named === undefined || UNNAMED.has(named) ? (status !== undefined ? (HTTP_REASONS[status] ?? `HTTP${status}`) : named) : named;
  const network = networkCode(e);
  const tls = tlsCode(e);

  let kind: StorageErrorKind | undefined;
  let code: string | undefined = name;
  if (tls !== undefined) {
    return new StorageError({
      kind: 'other',
      operation: ctx.operation,
      location: ctx.location,
      code: tls,
      detail: `${ctx.step ? `${ctx.step}: ` : ''}${tls}: the store's TLS certificate is not trusted; for a store behind a private CA give its certificate with --s3-ca-file`,
    });
  }
  if (network !== undefined) {
    kind = 'unreachable';
    code = network;
  } else if (name !== undefined && INTEGRITY.has(name)) {
    kind = 'integrity';
  } else if (isChecksumValidationFailure(err)) {
    kind = 'integrity';
    code = 'ChecksumMismatch';
  } else if (name !== undefined && TOO_LARGE.has(name)) {
    kind = 'too-large';
  } else if (status === 404 || (name !== undefined && NOT_FOUND.has(name))) {
    kind = 'not-found';
  } else if (status === 401 || status === 403 || (name !== undefined && ACCESS_DENIED.has(name))) {
    kind = 'access-denied';
  } else if (status === 429 || (status !== undefined && status >= 500) || (name !== undefined && UNREACHABLE.has(name))) {
    kind = 'unreachable';
  } else if (status !== undefined) {
    kind = 'other';
  }
  if (kind === undefined) return e;

  const what = status !== undefined && network === undefined ? `${status} ${code ?? 'Error'}` : (code ?? 'error');
  const bucketHint =
    code === 'NoSuchBucket' ? ' (the bucket does not exist); check the bucket named by --store / SECRET_STEWARD_STORE' : '';
  const retries = attempts > 1 ? ` after ${attempts} attempts` : '';
  return new StorageError({
    kind,
    operation: ctx.operation,
    location: ctx.location,
    detail: `${ctx.step ? `${ctx.step}: ` : ''}${what}${bucketHint}${retries}${HINTS[kind] ?? ''}`,
    status,
    code,
  });
}

/** The TLS verification failure (a Node.js error code) in an error chain, if any: retrying cannot help. */
function tlsCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur !== null && typeof cur === 'object'; depth++) {
    const c = cur as SdkLikeError;
    if (typeof c.code === 'string' && TLS_VERIFICATION.has(c.code)) return c.code;
    cur = c.cause;
  }
  return undefined;
}

/** The SDK's response checksum validation throws a plain Error naming the mismatch. */
function isChecksumValidationFailure(err: SdkLikeError): boolean {
  return typeof err.message === 'string' && /checksum mismatch/i.test(err.message);
}

/** A system or SDK network error code (ECONNREFUSED, TimeoutError...) in an error chain. */
function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur !== null && typeof cur === 'object'; depth++) {
    const c = cur as SdkLikeError;
    if (typeof c.code === 'string' && NETWORK.has(c.code)) return c.code;
    if (c.name === 'TimeoutError' || c.name === 'RequestTimeout') return String(c.name);
    cur = c.cause;
  }
  return undefined;
}
