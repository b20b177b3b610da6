import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RequestSequence } from '../emulator/faults.js';

/** The S3 API call a request is, told from method and query (path-style addressing). */
export type S3Operation =
  | 'PutObject'
  | 'CopyObject'
  | 'UploadPart'
  | 'CreateMultipartUpload'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListMultipartUploads'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'ListObjects'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'Other';

/**
 * What to do to a matching request:
 * - `error-500`: read the body, answer 500 InternalError (the SDK retries it);
 * - `slow-down`: read the body, answer 503 SlowDown (throttling; retried);
 * - `drop`: destroy the connection at once, mid-body for uploads (the SDK sees ECONNRESET/EPIPE);
 * - `drop-mid-upload`: read about half of the request body, then destroy the connection (nothing reaches the store);
 * - `drop-mid-download`: serve the request, send the headers and about half of the response body, then destroy
 *   the connection (the client sees fewer bytes than Content-Length, then a reset);
 * - `truncate`: serve the request, but answer only the first half of the body with a Content-Length that matches
 *   the short body: what a broken gateway or cache in front of the store does. HTTP cannot notice; only the
 *   reader's own size and hash checks can (a short body with the original Content-Length would be a
 *   `drop-mid-download`, which every HTTP client already detects);
 * - `lose-response`: serve the request in full (a write is stored), then destroy the connection instead of
 *   answering, so the client cannot tell whether it happened;
 * - `pass`: serve it normally (only `onFire` runs: tests signal a process at that point).
 */
export type FaultAction =
  | 'error-500'
  | 'slow-down'
  | 'drop'
  | 'drop-mid-upload'
  | 'drop-mid-download'
  | 'truncate'
  | 'lose-response'
  | 'pass';

export interface FaultRule {
  /** Only requests of this operation; any when omitted (then give `atRequest` or `when`). */
  operation?: S3Operation;
  /** Only the request with this index in the proxy's {@link RequestSequence}. */
  atRequest?: number;
  /** Only requests this predicate accepts. */
  when?: (request: RecordedRequest) => boolean;
  /** Fail from the nth matching request on (1-based, counted from when the rule was added). @default 1 */
  nth?: number;
  /** How many requests to fail. @default 1 */
  times?: number;
  action: FaultAction;
  /**
   * Also fail every later request identical to a failed one (same method and URL: the client's
   * retries of it) the same way, so that the operation fails for good however often it is retried.
   * @default false
   */
  sticky?: boolean;
  /** Called when the rule fires and awaited before its action; for `lose-response`, once the store has answered. */
  onFire?: (request: RecordedRequest) => void | Promise<void>;
}

/** A request as seen by the proxy. Header values are kept except credentials and signatures. */
export interface RecordedRequest {
  /** Index in the proxy's request sequence (shared with other servers when a test shares one). */
  seq: number;
  operation: S3Operation;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The fault applied, if any. */
  fault?: FaultAction;
}

const SECRET_HEADERS = new Set(['authorization', 'x-amz-security-token', 'cookie']);

/**
 * A small HTTP proxy in front of an S3 stand-in that can fail chosen requests and records
 * every request, because s3rver has no fault injection. Point the SDK's endpoint at `endpoint`;
 * the Host header is passed through unchanged so SigV4 signatures still verify.
 */
export class S3FaultProxy {
  readonly requests: RecordedRequest[] = [];
  private rules: Array<FaultRule & { nth: number; times: number; seen: number }> = [];
  /** `METHOD url` of requests a sticky rule failed, with the rule. */
  private sticky = new Map<string, FaultRule>();
  private seq = new RequestSequence();
  /** uploadId -> key of multipart uploads created through the proxy and not yet completed or aborted. */
  private readonly uploads = new Map<string, string>();
  private readonly agent = new Agent({ keepAlive: true });

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  /** Starts the proxy on 127.0.0.1 (random port) in front of `upstream` (`http://host:port`). */
  static async start(upstream: string): Promise<S3FaultProxy> {
    const target = new URL(upstream);
    let proxy: S3FaultProxy | undefined;
    const server = createServer((req, res) => proxy!.handle(req, res, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new S3FaultProxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** Adds a fault rule. Counting for `nth` starts now. */
  fail(rule: FaultRule): void {
    this.rules.push({ nth: 1, times: 1, ...rule, seen: 0 });
  }

  /** Numbers requests in `sequence` from now on (share one with the Kubernetes emulator). */
  useSequence(sequence: RequestSequence): void {
    this.seq = sequence;
  }

  /** Requests of one operation seen so far (since the last `reset`). */
  count(operation: S3Operation): number {
    return this.requests.filter((r) => r.operation === operation).length;
  }

  /**
   * Multipart uploads created through the proxy that no successful Complete or Abort has
   * closed yet, as seen on the wire: an independent check that does not trust the server's
   * own bookkeeping.
   */
  openUploads(): Array<{ key: string; uploadId: string }> {
    return [...this.uploads].map(([uploadId, key]) => ({ key, uploadId }));
  }

  /** Forgets rules and recorded requests (not open uploads). */
  reset(): void {
    this.rules = [];
    this.sticky.clear();
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, target: URL): void {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const operation = classify(req.method ?? 'GET', url, req.headers);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!SECRET_HEADERS.has(name) && value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const record: RecordedRequest = {
      seq: this.seq.next(),
      operation,
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      headers,
    };
    this.requests.push(record);
    const rule = this.pick(record);
    if (rule === undefined) return this.forward(req, res, target, operation, url);
    record.fault = rule.action;
    void this.applyFault(rule, record, req, res, target, url).catch(() => res.destroy());
  }

  /** The rule that fires for this request, if any (sticky retries first). */
  private pick(record: RecordedRequest): FaultRule | undefined {
    const identity = `${record.method} ${record.path}`;
    const repeated = this.sticky.get(identity);
    if (repeated !== undefined) return repeated;
    const rule = this.rules.find(
      (r) =>
        r.times > 0 &&
        (r.operation === undefined || r.operation === record.operation) &&
        (r.atRequest === undefined || r.atRequest === record.seq) &&
        (r.when === undefined || r.when(record)) &&
        ++r.seen >= r.nth,
    );
    if (rule === undefined) return undefined;
    rule.times--;
    if (rule.sticky) this.sticky.set(identity, rule);
    return rule;
  }

  private async applyFault(
    rule: FaultRule,
    record: RecordedRequest,
    req: IncomingMessage,
    res: ServerResponse,
    target: URL,
    url: URL,
  ): Promise<void> {
    if (rule.action !== 'lose-response') await rule.onFire?.(record);
    switch (rule.action) {
      case 'pass':
        return this.forward(req, res, target, record.operation, url);
      case 'drop':
        req.socket.destroy();
        return;
      case 'drop-mid-upload': {
        const half = Math.floor(Number(req.headers['content-length'] ?? 0) / 2);
        let got = 0;
        if (half === 0) return void req.socket.destroy();
        req.on('data', (c: Buffer) => {
          got += c.length;
          if (got >= half) req.socket.destroy();
        });
        return;
      }
      case 'drop-mid-download':
      case 'truncate':
      case 'lose-response':
        return this.forward(req, res, target, record.operation, url, async (up) => {
          const body = await readStream(up);
          if (rule.action === 'lose-response') {
            await rule.onFire?.(record);
            return void req.socket.destroy();
          }
          const half = body.subarray(0, Math.floor(body.length / 2));
          if (rule.action === 'truncate') {
            res.writeHead(up.statusCode ?? 502, { ...up.headers, 'content-length': String(half.length) });
            return void res.end(half);
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.write(half, () => req.socket.destroy());
        });
      default: {
        const [status, code] = rule.action === 'slow-down' ? [503, 'SlowDown'] : [500, 'InternalError'];
        req.resume();
        req.on('end', () => {
          res.writeHead(status, { 'content-type': 'application/xml', connection: 'close' });
          res.end(
            `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the test proxy</Message></Error>`,
          );
        });
      }
    }
  }

  /** Passes the request to the store; `respond` (when given) answers the client instead of piping the response. */
  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: URL,
    operation: S3Operation,
    url: URL,
    respond?: (up: IncomingMessage) => Promise<void>,
  ): void {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
      (up) => {
        this.trackUploads(operation, url, up);
        if (respond !== undefined) {
          respond(up).catch(() => res.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  }

  private trackUploads(operation: S3Operation, url: URL, up: IncomingMessage): void {
    const ok = (up.statusCode ?? 500) < 300;
    if (!ok) return;
    const uploadId = url.searchParams.get('uploadId');
    if ((operation === 'AbortMultipartUpload' || operation === 'CompleteMultipartUpload') && uploadId !== null) {
      // A Complete can answer 200 with an <Error> body; only a CompleteMultipartUploadResult closes it.
      if (operation === 'AbortMultipartUpload') this.uploads.delete(uploadId);
      else collectText(up, (xml) => xml.includes('<CompleteMultipartUploadResult') && this.uploads.delete(uploadId));
    }
    if (operation === 'CreateMultipartUpload') {
      collectText(up, (xml) => {
        const id = /<UploadId>([^<]+)<\/UploadId>/.exec(xml)?.[1];
        const key = /<Key>([^<]+)<\/Key>/.exec(xml)?.[1];
        if (id !== undefined) this.uploads.set(id, key ?? '');
      });
    }
  }
}

/** Reads a whole (test-sized) stream, alongside other 'data' listeners such as {@link collectText}. */
function readStream(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Calls `done` with a (small) response body once it has been read, without consuming it for the client. */
function collectText(stream: IncomingMessage, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

function classify(method: string, url: URL, headers: IncomingMessage['headers']): S3Operation {
  const q = url.searchParams;
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const onBucket = segments.length <= 1;
  switch (method) {
    case 'PUT':
      if (onBucket) return 'CreateBucket';
      if (q.has('uploadId') && q.has('partNumber')) return 'UploadPart';
      return headers['x-amz-copy-source'] !== undefined ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (onBucket && q.has('delete')) return 'DeleteObjects';
      if (q.has('uploads')) return 'CreateMultipartUpload';
      if (q.has('uploadId')) return 'CompleteMultipartUpload';
      return 'Other';
    case 'DELETE':
      if (q.has('uploadId')) return 'AbortMultipartUpload';
      return onBucket ? 'Other' : 'DeleteObject';
    case 'HEAD':
      return onBucket ? 'HeadBucket' : 'HeadObject';
    case 'GET':
      if (onBucket) return q.has('uploads') ? 'ListMultipartUploads' : 'ListObjects';
      return 'GetObject';
    default:
      return 'Other';
  }
}
