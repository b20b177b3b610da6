import assert from 'node:assert/strict';
import { request } from 'node:http';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { RequestSequence } from '../emulator/faults.js';
import { type S3TestServer, startS3Server } from './s3-server.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The connection ended before the whole body arrived (or before any answer). */
  error?: string;
}

/** One raw, unsigned request through the proxy (s3rver serves anonymous reads), to see exactly what arrives. */
function raw(endpoint: string, method: string, path: string, body?: Buffer): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const req = request(
      `${endpoint}${path}`,
      { method, headers: body ? { 'content-length': String(body.length) } : {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: e.message }),
        );
      },
    );
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: e.message }));
    req.end(body);
  });
}

describe('test/support/s3-fault-proxy', function () {
  this.timeout(30_000);
  let s3: S3TestServer;
  const object = Buffer.from(Array.from({ length: 4000 }, (_, i) => i % 251));

  before(async () => {
    s3 = await startS3Server();
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'k/object', Body: object }));
  });
  after(async () => s3?.stop());
  beforeEach(() => s3.faults.reset());

  const getPath = () => `/${s3.bucket}/k/object`;

  it('drop-mid-download: headers and part of the body, then the connection is reset', async () => {
    s3.faults.fail({ operation: 'GetObject', action: 'drop-mid-download' });

    const r = await raw(s3.endpoint, 'GET', getPath());

    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(object.length), 'the full length was announced');
    assert.ok(r.body.length < object.length, `${r.body.length} bytes received`);
    assert.ok(r.error, 'the client sees the connection end early');
  });

  it('truncate: a short body whose Content-Length matches it (HTTP cannot notice)', async () => {
    s3.faults.fail({ operation: 'GetObject', action: 'truncate' });

    const r = await raw(s3.endpoint, 'GET', getPath());
    const next = await raw(s3.endpoint, 'GET', getPath());

    assert.equal(r.error, undefined);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(object.length / 2));
    assert.deepEqual(r.body, object.subarray(0, object.length / 2));
    assert.deepEqual(next.body, object, 'times defaults to 1');
  });

  it('drop-mid-upload: reads half of the body, then resets; nothing is stored', async () => {
    s3.faults.fail({ operation: 'PutObject', action: 'drop-mid-upload' });

    await assert.rejects(sendPut(s3, 'k/dropped', Buffer.alloc(1024 * 1024, 7)), /ECONNRESET|EPIPE|socket hang up|aborted/i);

    assert.equal(s3.faults.requests.at(-1)!.fault, 'drop-mid-upload');
    await assert.rejects(s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'k/dropped' })), /NoSuchKey|does not exist/);
  });

  it('lose-response: the write is stored, the answer never arrives; onFire runs before the reset', async () => {
    const fired: number[] = [];
    s3.faults.fail({ operation: 'PutObject', action: 'lose-response', onFire: (r) => void fired.push(r.seq) });

    await assert.rejects(sendPut(s3, 'k/stored', Buffer.from('stored anyway')), /ECONNRESET|socket hang up/i);

    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'k/stored' }));
    assert.equal(await got.Body!.transformToString(), 'stored anyway');
    assert.deepEqual(fired, [s3.faults.requests.at(-1)!.seq]);
  });

  it('sticky: the request and every retry of it fail, other requests do not', async () => {
    s3.faults.fail({ operation: 'GetObject', action: 'error-500', sticky: true });

    const first = await raw(s3.endpoint, 'GET', getPath());
    const retry = await raw(s3.endpoint, 'GET', getPath());
    const other = await raw(s3.endpoint, 'HEAD', getPath());

    assert.deepEqual([first.status, retry.status, other.status], [500, 500, 200]);
  });

  it('atRequest and when: picks a request by its index in a sequence shared with another server', async () => {
    const shared = new RequestSequence();
    s3.faults.useSequence(shared);
    shared.next(); // another server's request
    s3.faults.fail({ atRequest: 3, action: 'slow-down' });
    s3.faults.fail({ when: (r) => r.method === 'HEAD', action: 'error-500' });

    const answers = [
      await raw(s3.endpoint, 'GET', getPath()),
      await raw(s3.endpoint, 'GET', getPath()),
      await raw(s3.endpoint, 'HEAD', getPath()),
    ];

    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 503, 500],
    );
    assert.deepEqual(
      s3.faults.requests.map((r) => [r.seq, r.fault]),
      [
        [2, undefined],
        [3, 'slow-down'],
        [4, 'error-500'],
      ],
    );
    s3.faults.useSequence(new RequestSequence());
  });

  it('pass: serves normally after onFire has finished', async () => {
    const order: string[] = [];
    s3.faults.fail({
      operation: 'GetObject',
      action: 'pass',
      onFire: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        order.push('fired');
      },
    });

    const r = await raw(s3.endpoint, 'GET', getPath());
    order.push('answered');

    assert.deepEqual(r.body, object);
    assert.deepEqual(order, ['fired', 'answered']);
  });
});

/** A signed PutObject through the proxy with the SDK (no retries), so that s3rver stores it. */
async function sendPut(s3: S3TestServer, key: string, body: Buffer): Promise<void> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentLength: body.length }));
  } finally {
    client.destroy();
  }
}
