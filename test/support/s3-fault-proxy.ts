import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
 * - `drop`: destroy the connection at once, mid-body for uploads (the SDK sees ECONNRESET/EPIPE).
 */
export type FaultAction = 'error-500' | 'slow-down' | 'drop';

export interface FaultRule {
  operation: S3Operation;
  /** Fail from the nth request of this operation on (1-based, counted from when the rule was added). @default 1 */
  nth?: number;
  /** How many requests to fail. @default 1 */
  times?: number;
  action: FaultAction;
}

/** A request as seen by the proxy. Header values are kept except credentials and signatures. */
export interface RecordedRequest {
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
  private rules: Array<Required<FaultRule> & { seen: number }> = [];
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
    const record: RecordedRequest = { operation, method: req.method ?? 'GET', path: url.pathname + url.search, headers };
    this.requests.push(record);

    const rule = this.rules.find((r) => r.operation === operation && r.times > 0 && ++r.seen >= r.nth);
    if (rule !== undefined) {
      rule.times--;
      record.fault = rule.action;
      if (rule.action === 'drop') {
        req.socket.destroy();
        return;
      }
      const [status, code] = rule.action === 'slow-down' ? [503, 'SlowDown'] : [500, 'InternalError'];
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/xml', connection: 'close' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the test proxy</Message></Error>`);
      });
      return;
    }

    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        this.trackUploads(operation, url, up);
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
