import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ExitCode } from '../../../shared/errors/exit-codes.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { fixedClock } from '../../../shared/runtime/clock.js';
import { createObjectStore } from '../../../shared/storage/create-object-store.js';
import { S3_CONNECTION_TIMEOUT_MS } from '../../../shared/storage/s3-client.js';
import { toStorageError } from '../../../shared/storage/s3-error-mapping.js';
import { normalizeEtag, type S3ObjectStore } from '../../../shared/storage/s3-object-store.js';
import { StorageError } from '../../../shared/storage/storage-error.js';
import type { StoreSettings } from '../../../shared/storage/store-settings.js';
import { freePort } from '../../support/free-port.js';
import { requireS3Server, S3_SERVERS, type S3TestServer, startS3Server } from '../../support/s3-server.js';
import {
  collect,
  failingStream,
  MIB,
  md5Hex,
  multipartEtag,
  objectStoreContract,
  patternBytes,
  patternStream,
  sha256,
} from './object-store-contract.js';

/**
 * The S3 store against both S3 implementations of the suite (`test/support/s3-server.ts`):
 * s3rver and Ceph RGW, through the fault proxy. A test that holds on one server only says which
 * and why in its name.
 */
for (const server of S3_SERVERS) {
  describe(`shared/storage/s3-object-store (against ${server})`, () => {
    let s3: S3TestServer;
    let n = 0;
    /** A fresh prefix per test, so tests never see each other's objects. */
    const freshPrefix = () => `t${++n}`;
    const storeFor = (prefix: string, overrides: Partial<StoreSettings> = {}, deps: Parameters<typeof createObjectStore>[1] = {}) =>
      createObjectStore(s3.settings(prefix, { s3PartSize: 5, s3MaxAttempts: 2, ...overrides }), { credentials: s3.credentials, ...deps });

    async function rawGet(key: string): Promise<Buffer> {
      const r = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    }

    before(async function () {
      requireS3Server(this, server);
      this.timeout(120_000);
      s3 = await startS3Server({ server });
    });
    after(async () => {
      await s3?.stop();
    });
    beforeEach(() => s3.faults.reset());
    afterEach(async () => {
      // No test may leave a multipart upload behind: neither in s3rver's upload directory nor
      // as seen on the wire (created, never completed or aborted).
      assert.deepEqual(await s3.listMultipartUploads(), []);
      assert.deepEqual(s3.faults.openUploads(), []);
    });

    describe('contract', () => {
      objectStoreContract(
        async () => ({
          store: storeFor(freshPrefix()),
          partSize: 5 * MIB,
          assertNothingLeftBehind: async () => {
            assert.deepEqual(await s3.listMultipartUploads(), []);
            assert.deepEqual(s3.faults.openUploads(), []);
          },
          // s3rver walks its directory tree (below); RGW lists in S3's UTF-8 byte order.
          listOrderIsServers: server === 's3rver',
        }),
        // s3rver has no object versions, and its multipart ETag is the whole object's MD5.
        server === 's3rver' ? { versions: false, multipartEtag: 'whole-object-md5' } : { multipartEtag: 'parts' },
      );
    });

    if (server === 's3rver')
      it('s3rver quirk: it lists a "directory" before keys that sort before it in S3 (a/x before a-b)', async () => {
        const store = storeFor(freshPrefix());
        for (const k of ['a-b', 'a/x', 'a0']) await store.put(k, Buffer.from(k));

        const keys = (await collect(store.list(''))).map((o) => o.key);

        // AWS S3 would answer a-b, a/x, a0 (UTF-8 byte order). If this starts failing, s3rver
        // was fixed and `listOrderIsServers` can go.
        assert.deepEqual(keys, ['a/x', 'a-b', 'a0']);
      });

    it('has an s3:// location without endpoint or credentials', () => {
      assert.equal(storeFor('backups/prod').location, `s3://${s3.bucket}/backups/prod`);
      assert.equal(storeFor('').location, `s3://${s3.bucket}`);
    });

    describe('what is stored, read with the raw SDK client', () => {
      const cases: Array<[string, Buffer]> = [
        ['small', Buffer.from('{"secrets":1}')],
        ['empty', Buffer.alloc(0)],
        ['binary non-UTF-8', Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x00]), patternBytes(70_000, 5)])],
      ];
      for (const [name, bytes] of cases) {
        it(`${name}: the stored object is exactly the bytes sent`, async () => {
          const prefix = freshPrefix();

          await storeFor(prefix).put('obj', Readable.from(bytes.length ? [bytes] : []));

          assert.equal(sha256(await rawGet(`${prefix}/obj`)), sha256(bytes));
        });
      }

      // What goes on the wire is ours, the same whatever the server: checked once, on s3rver
      // (RGW's multipart byte-identity is the contract's 8-part test).
      if (server === 's3rver')
        it('40 MiB in 5 MiB parts: 8 UploadParts, each with Content-MD5 and Content-Length, never aws-chunked', async function () {
          this.timeout(120_000);
          const prefix = freshPrefix();
          const body = patternStream(40 * MIB, 1 * MIB);

          const put = await storeFor(prefix).put('big.bin', body.stream);

          const expected = body.sha256();
          assert.equal(put.sha256, expected);
          assert.equal(sha256(await rawGet(`${prefix}/big.bin`)), expected);
          const parts = s3.faults.requests.filter((r) => r.operation === 'UploadPart');
          assert.equal(parts.length, 8);
          for (const p of parts) {
            assert.equal(p.headers['content-length'], String(5 * MIB));
            assert.ok(p.headers['content-md5'], 'Content-MD5 on every part');
            assert.equal(p.headers['content-encoding'], undefined);
          }
          assert.equal(s3.faults.count('CreateMultipartUpload'), 1);
          assert.equal(s3.faults.count('CompleteMultipartUpload'), 1);
        });

      it('a body of exactly one part size is one PutObject', async () => {
        const prefix = freshPrefix();

        await storeFor(prefix).put('exact', patternBytes(5 * MIB));

        assert.equal(s3.faults.count('PutObject'), 1);
        assert.equal(s3.faults.count('CreateMultipartUpload'), 0);
      });
    });

    describe('checksum mode (REFERENCE §2)', () => {
      /** A plain SDK client with its own default checksums, through the proxy. */
      const sdkDefaultsClient = () =>
        new S3Client({
          endpoint: s3.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: s3.credentials,
          requestChecksumCalculation: 'WHEN_SUPPORTED',
          // The SDK warns on the console about a failed streaming request; the tests read the error.
          logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
        });

      if (server === 'rgw')
        it("RGW refuses a plain SDK streaming PutObject with 'when-supported' (aws-chunked, trailing CRC32): 411 MissingContentLength, a clear StorageError", async () => {
          const prefix = freshPrefix();
          const bytes = Buffer.from('backup bytes that must survive\n'.repeat(200));
          const sdkDefaults = sdkDefaultsClient();

          const e = await sdkDefaults
            .send(
              new PutObjectCommand({
                Bucket: s3.bucket,
                Key: `${prefix}/streamed`,
                Body: Readable.from([bytes]),
                ContentLength: bytes.length,
              }),
            )
            .then(
              () => assert.fail('RGW 16.2 took an aws-chunked upload: --s3-checksum when-supported may be fine for streaming uploads now'),
              (err: unknown) =>
                toStorageError(err, { operation: 'put', location: `s3://${s3.bucket}/${prefix}/streamed`, step: 'PutObject' }),
            );
          sdkDefaults.destroy();

          assert.ok(e instanceof StorageError, String(e));
          assert.equal(e.message, `failed to put s3://${s3.bucket}/${prefix}/streamed: PutObject: 411 MissingContentLength`);
          assert.equal(s3.faults.requests.at(-1)?.headers['content-encoding'], 'aws-chunked');
          assert.equal(await storeFor(prefix).head('streamed'), undefined);
        });

      if (server === 's3rver')
        it("a plain SDK streaming PutObject with 'when-supported' stores the aws-chunked framing, and digest() exposes it", async () => {
          const prefix = freshPrefix();
          const bytes = Buffer.from('backup bytes that must survive\n'.repeat(200));
          const sdkDefaults = sdkDefaultsClient();

          await sdkDefaults.send(
            new PutObjectCommand({
              Bucket: s3.bucket,
              Key: `${prefix}/streamed`,
              Body: Readable.from([bytes]),
              ContentLength: bytes.length,
            }),
          );
          sdkDefaults.destroy();

          const readBack = await storeFor(prefix).digest('streamed');
          assert.notEqual(readBack.sha256, sha256(bytes), 's3rver kept the chunk framing: read-back verification must catch it');
          assert.ok(readBack.size > bytes.length);
          assert.match((await rawGet(`${prefix}/streamed`)).subarray(0, 12).toString(), /^[0-9a-f]+\r\n/);
        });

      it('our put stores identical bytes in either mode: parts go as Buffers, so the SDK never uses aws-chunked', async function () {
        this.timeout(60_000);
        for (const mode of ['when-supported', 'when-required'] as const) {
          const prefix = freshPrefix();
          s3.faults.reset();
          const small = patternStream(100_000);
          const big = patternStream(11 * MIB);
          const store = storeFor(prefix, { s3Checksum: mode });

          await store.put('small', small.stream);
          await store.put('big', big.stream);

          assert.equal((await store.digest('small')).sha256, small.sha256(), mode);
          assert.equal((await store.digest('big')).sha256, big.sha256(), mode);
          const uploads = s3.faults.requests.filter((r) => r.operation === 'PutObject' || r.operation === 'UploadPart');
          assert.ok(
            uploads.every((r) => r.headers['content-encoding'] === undefined),
            mode,
          );
          const sentCrc = uploads.some((r) => r.headers['x-amz-checksum-crc32'] !== undefined);
          assert.equal(sentCrc, mode === 'when-supported', `${mode}: CRC32 headers only when supported`);
        }
      });
    });

    describe('failures', () => {
      const failures: Array<{
        name: string;
        rule: Parameters<S3TestServer['faults']['fail']>[0];
        size: number;
        kind: StorageError['kind'];
        step: RegExp;
      }> = [
        {
          name: 'the 2nd UploadPart answers 500 on every attempt',
          rule: { operation: 'UploadPart', nth: 2, times: 100, action: 'error-500' },
          size: 12 * MIB,
          kind: 'unreachable',
          step: /UploadPart 2: 500 InternalError after 2 attempts/,
        },
        {
          name: 'the 3rd UploadPart drops the connection on every attempt',
          rule: { operation: 'UploadPart', nth: 3, times: 100, action: 'drop' },
          size: 12 * MIB,
          kind: 'unreachable',
          step: /UploadPart 3: (ECONNRESET|EPIPE)/,
        },
        {
          name: 'CompleteMultipartUpload answers 500 on every attempt',
          rule: { operation: 'CompleteMultipartUpload', times: 100, action: 'error-500' },
          size: 11 * MIB,
          kind: 'unreachable',
          step: /CompleteMultipartUpload: 500/,
        },
        {
          name: 'PutObject answers 500 on every attempt',
          rule: { operation: 'PutObject', times: 100, action: 'error-500' },
          size: 1000,
          kind: 'unreachable',
          step: /PutObject: 500 InternalError after 2 attempts/,
        },
        {
          name: 'PutObject drops the connection on every attempt',
          rule: { operation: 'PutObject', times: 100, action: 'drop' },
          size: 3 * MIB,
          kind: 'unreachable',
          step: /PutObject: (ECONNRESET|EPIPE)/,
        },
      ];
      for (const f of failures) {
        it(`${f.name}: put rejects with a StorageError, nothing at the key, no upload left`, async function () {
          this.timeout(60_000);
          const prefix = freshPrefix();
          const store = storeFor(prefix);
          s3.faults.fail(f.rule);

          const e = await store.put('victim', patternStream(f.size).stream).then(
            () => assert.fail('put should have failed'),
            (err: unknown) => err,
          );

          assert.ok(e instanceof StorageError, String(e));
          assert.equal(e.kind, f.kind);
          assert.equal(e.exitCode, ExitCode.Transient);
          assert.match(e.message, new RegExp(`^failed to put s3://${s3.bucket}/${prefix}/victim: `));
          assert.match(e.message, f.step);
          assert.equal(await store.head('victim'), undefined);
          assert.deepEqual(await s3.listMultipartUploads(), []);
          assert.deepEqual(s3.faults.openUploads(), []);
          if (f.size > 5 * MIB) assert.equal(s3.faults.count('AbortMultipartUpload'), 1);
        });
      }

      it('one 503 SlowDown is retried by the SDK and the put succeeds', async () => {
        const prefix = freshPrefix();
        s3.faults.fail({ operation: 'PutObject', action: 'slow-down' });

        await storeFor(prefix).put('retried', Buffer.from('payload'));

        assert.equal(s3.faults.count('PutObject'), 2);
        assert.equal((await rawGet(`${prefix}/retried`)).toString(), 'payload');
      });

      it('a part that fails once is retried and the object is complete', async function () {
        this.timeout(60_000);
        const prefix = freshPrefix();
        const body = patternStream(12 * MIB);
        s3.faults.fail({ operation: 'UploadPart', nth: 2, action: 'drop' });

        await storeFor(prefix).put('resent', body.stream);

        assert.equal(s3.faults.count('UploadPart'), 4);
        assert.equal(sha256(await rawGet(`${prefix}/resent`)), body.sha256());
      });

      it('when the abort fails too, the error says the upload remains (and a lifecycle rule must clean it)', async function () {
        this.timeout(60_000);
        const prefix = freshPrefix();
        const sink = new MemorySink();
        const store = storeFor(prefix, {}, { log: createLogger({ sink }) });
        s3.faults.fail({ operation: 'UploadPart', nth: 2, times: 100, action: 'error-500' });
        s3.faults.fail({ operation: 'AbortMultipartUpload', times: 100, action: 'error-500' });

        const e = await store.put('stranded', patternStream(12 * MIB).stream).catch((err: unknown) => err);

        assert.ok(e instanceof StorageError);
        assert.match(
          e.message,
          // Upload ids are opaque: s3rver's are hex, RGW's look like 2~lUbXDUUKlu2hXeQEc8xuXlpyQKxSD4x.
          /UploadPart 2: 500 InternalError.*aborting the multipart upload \S+ failed too.*AbortIncompleteMultipartUpload/,
        );
        const left = await s3.listMultipartUploads();
        assert.deepEqual(
          left.map((u) => u.key),
          [`${prefix}/stranded`],
        );
        assert.deepEqual(s3.faults.openUploads(), left);
        assert.ok(sink.lines.some((l) => l.includes('aborting the multipart upload failed too')));
        // Clean up so the afterEach check holds for the next test.
        s3.faults.reset();
        const { AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
        await new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials }).send(
          new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: left[0].key, UploadId: left[0].uploadId }),
        );
      });

      it("abortUploads aborts the open multipart uploads under a prefix (a killed writer's), and no others", async () => {
        const prefix = freshPrefix();
        const { CreateMultipartUploadCommand, UploadPartCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
        const open = async (key: string) => {
          const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${prefix}/${key}` }));
          await s3.client.send(
            new UploadPartCommand({ Bucket: s3.bucket, Key: `${prefix}/${key}`, UploadId, PartNumber: 1, Body: Buffer.from('part') }),
          );
          return UploadId!;
        };
        await open('dead/segment-1');
        await open('dead/segment-2');
        const other = await open('alive/segment-1');

        const aborted = await storeFor(prefix).abortUploads('dead/');

        assert.equal(aborted, 2);
        assert.deepEqual(
          (await s3.listMultipartUploads()).map((u) => u.key),
          [`${prefix}/alive/segment-1`],
        );
        assert.equal(await storeFor(prefix).abortUploads('dead/'), 0);
        await s3.client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: `${prefix}/alive/segment-1`, UploadId: other }));
      });

      it('a body stream error midway through a multipart upload aborts it and rethrows the body error', async function () {
        this.timeout(60_000);
        const prefix = freshPrefix();

        await assert.rejects(storeFor(prefix).put('half', failingStream(11 * MIB)), /producer failed midway/);

        assert.equal(s3.faults.count('UploadPart'), 2);
        assert.equal(s3.faults.count('AbortMultipartUpload'), 1);
        assert.equal(s3.faults.count('CompleteMultipartUpload'), 0);
      });

      it('an unreachable endpoint fails fast with kind unreachable (exit 4) after the configured attempts', async function () {
        this.timeout(4 * S3_CONNECTION_TIMEOUT_MS);
        const closedPort = await freePort();
        const store = storeFor('x', { s3Endpoint: `http://127.0.0.1:${closedPort}`, s3MaxAttempts: 2 });
        const started = Date.now();

        const errors = await Promise.all([
          store.put('k', Buffer.from('x')).catch((e: unknown) => e),
          store.head('k').catch((e: unknown) => e),
          collect(store.list('')).catch((e: unknown) => e),
        ]);

        for (const e of errors) {
          assert.ok(e instanceof StorageError, String(e));
          assert.equal(e.kind, 'unreachable');
          assert.equal(e.exitCode, ExitCode.Transient);
          assert.match(e.message, /ECONNREFUSED/);
          assert.match(e.message, new RegExp(`s3://${s3.bucket}/x`));
          assert.match(e.message, /after 2 attempts/);
        }
        // "Fast": a refused connection is not waited out. Waiting for the connection timeout on
        // both attempts is what slow would look like; a busy machine stays far below that.
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 2 * S3_CONNECTION_TIMEOUT_MS, `took ${elapsed} ms`);
      });

      it('rejected credentials are access-denied, and the message holds neither key nor secret', async () => {
        const store = storeFor('x', {}, { credentials: { accessKeyId: 'AKIAWRONGKEY0000', secretAccessKey: 'wrong-secret-value-123' } });

        const e = await store.getBytes('anything').catch((err: unknown) => err);

        assert.ok(e instanceof StorageError);
        assert.equal(e.kind, 'access-denied');
        assert.match(e.message, /403 InvalidAccessKeyId/);
        assert.ok(!e.message.includes('AKIAWRONGKEY0000') && !e.message.includes('wrong-secret-value-123'));
        assert.equal(e.cause, undefined, 'the SDK error (with the raw response) is not kept');
      });

      it('a missing bucket is not-found with a hint', async () => {
        const store = createObjectStore(s3.settings('', { store: { kind: 's3', bucket: 'no-such-bucket', prefix: '' } }), {
          credentials: s3.credentials,
        });

        const e = await store.getBytes('k').catch((err: unknown) => err);

        assert.ok(e instanceof StorageError);
        assert.equal(e.kind, 'not-found');
        assert.match(e.message, /NoSuchBucket \(the bucket does not exist\)/);
      });
    });

    describe('request options from settings', () => {
      // s3rver takes these headers and ignores them, so what is sent can be seen here; on RGW a
      // bucket without Object Lock refuses the retention and the KMS alias does not exist.
      // object-lock.test.ts and server-side-encryption.test.ts test what RGW does with them.
      if (server === 's3rver')
        it('sends Object Lock retention, SSE and storage class on PutObject and CreateMultipartUpload', async function () {
          this.timeout(60_000);
          const prefix = freshPrefix();
          const clock = fixedClock(new Date('2030-01-02T03:04:05Z'));
          const store = storeFor(
            prefix,
            {
              s3ObjectLockMode: 'COMPLIANCE',
              s3ObjectLockDays: 30,
              s3Sse: 'aws:kms',
              s3SseKmsKeyId: 'alias/backups',
              s3StorageClass: 'STANDARD_IA',
            },
            { clock },
          );

          await store.put('small', Buffer.from('x'));
          await store.put('big', patternStream(6 * MIB).stream);

          const writes = s3.faults.requests.filter((r) => r.operation === 'PutObject' || r.operation === 'CreateMultipartUpload');
          assert.equal(writes.length, 2);
          for (const w of writes) {
            assert.equal(w.headers['x-amz-object-lock-mode'], 'COMPLIANCE', w.operation);
            assert.equal(w.headers['x-amz-object-lock-retain-until-date'], '2030-02-01T03:04:05Z', w.operation);
            assert.equal(w.headers['x-amz-server-side-encryption'], 'aws:kms');
            assert.equal(w.headers['x-amz-server-side-encryption-aws-kms-key-id'], 'alias/backups');
            assert.equal(w.headers['x-amz-storage-class'], 'STANDARD_IA');
          }
          // Object Lock requires Content-MD5 (or a checksum) on every upload request.
          const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');
          assert.equal(s3.faults.requests.find((r) => r.operation === 'PutObject')?.headers['content-md5'], md5(Buffer.from('x')));
          assert.ok(s3.faults.requests.filter((r) => r.operation === 'UploadPart').every((r) => r.headers['content-md5']));
        });

      it('sends Content-MD5 with DeleteObjects (older S3-compatible stores demand it) and batches by 1000', async function () {
        this.timeout(60_000);
        const prefix = freshPrefix();
        const store = storeFor(prefix);
        const keys = Array.from({ length: 1001 }, (_, i) => `gone/${i}`);

        await store.delete(keys);

        const deletes = s3.faults.requests.filter((r) => r.operation === 'DeleteObjects');
        assert.equal(deletes.length, 2);
        assert.ok(deletes.every((r) => /^[A-Za-z0-9+/]{22}==$/.test(r.headers['content-md5'] ?? '')));
      });

      it('stores user metadata as x-amz-meta-* that the raw client reads back', async () => {
        const prefix = freshPrefix();

        await storeFor(prefix).put('m', Buffer.from('x'), {
          metadata: { 'backup-id': '2030-01-01T000000Z' },
          contentType: 'application/json',
        });

        const r = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/m` }));
        await r.Body!.transformToByteArray();
        assert.deepEqual(r.Metadata, { 'backup-id': '2030-01-01T000000Z' });
        assert.equal(r.ContentType, 'application/json');
      });
    });

    describe('credentials come from the AWS SDK default chain', () => {
      const saved: Record<string, string | undefined> = {};
      const vars = [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
        'AWS_PROFILE',
        'AWS_SHARED_CREDENTIALS_FILE',
        'AWS_CONFIG_FILE',
      ];
      let dir: string;
      beforeEach(async () => {
        for (const v of vars) saved[v] = process.env[v];
        for (const v of vars) delete process.env[v];
        dir = await mkdtemp(join(tmpdir(), 'aws-creds-'));
      });
      afterEach(async () => {
        for (const v of vars) {
          if (saved[v] === undefined) delete process.env[v];
          else process.env[v] = saved[v];
        }
        await rm(dir, { recursive: true, force: true });
      });

      it('reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', async () => {
        Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
        const store = createObjectStore(s3.settings(freshPrefix()));

        await store.put('env', Buffer.from('ok'));

        assert.equal((await store.getBytes('env')).toString(), 'ok');
      });

      it('reads a mounted shared credentials file (AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE)', async () => {
        const file = join(dir, 'credentials');
        await writeFile(file, '[backup]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n', { mode: 0o600 });
        await writeFile(join(dir, 'config'), '', { mode: 0o600 });
        Object.assign(process.env, { AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: join(dir, 'config'), AWS_PROFILE: 'backup' });
        const store = createObjectStore(s3.settings(freshPrefix()));

        await store.put('file', Buffer.from('ok'));

        assert.equal((await store.getBytes('file')).toString(), 'ok');
      });
    });

    describe('answers that differ between stores (docs/storage-compatibility.md)', () => {
      it('an error answer names operation, key, status and code even when its Message is empty (RGW sends none)', async () => {
        const prefix = freshPrefix();
        const store = storeFor(prefix);

        const errors = await Promise.all([
          store.getBytes('nope/missing.bin').catch((e: unknown) => e),
          createObjectStore(s3.settings('', { store: { kind: 's3', bucket: 'no-such-bucket', prefix: '' } }), {
            credentials: s3.credentials,
          })
            .put('k', Buffer.from('x'))
            .catch((e: unknown) => e),
          storeFor(prefix, {}, { credentials: { accessKeyId: 'AKIAWRONGKEY0000', secretAccessKey: 'wrong' } })
            .head('k')
            .catch((e: unknown) => e),
        ]);

        assert.deepEqual(
          errors.map((e) => (e instanceof StorageError ? [e.kind, e.status, e.code] : String(e))),
          [
            ['not-found', 404, 'NoSuchKey'],
            ['not-found', 404, 'NoSuchBucket'],
            // A HEAD answer has no body: the status names it.
            ['access-denied', 403, 'Forbidden'],
          ],
        );
        assert.match(
          (errors[0] as Error).message,
          new RegExp(`^failed to getBytes s3://${s3.bucket}/${prefix}/nope/missing.bin: 404 NoSuchKey$`),
        );
        assert.match((errors[1] as Error).message, /^failed to put s3:\/\/no-such-bucket\/k: PutObject: 404 NoSuchBucket/);
        assert.match((errors[2] as Error).message, new RegExp(`^failed to head s3://${s3.bucket}/${prefix}/k: 403 Forbidden`));
        for (const e of errors) assert.ok(!(e as Error).message.includes('Unknown'), (e as Error).message);
      });

      it(`CompleteMultipartUpload's ETag is ${server === 'rgw' ? 'empty on RGW' : "the whole object's MD5 on s3rver"}; head() has the store's own either way`, async function () {
        this.timeout(60_000);
        const prefix = freshPrefix();
        const Key = `${prefix}/completed`;
        const parts = [patternBytes(5 * MIB, 1), patternBytes(1000, 2)];
        const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key }));
        const etags: string[] = [];
        for (const [i, Body] of parts.entries()) {
          etags.push((await s3.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key, UploadId, PartNumber: i + 1, Body }))).ETag!);
        }

        const done = await s3.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: s3.bucket,
            Key,
            UploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          }),
        );

        const expected = server === 'rgw' ? multipartEtag(Buffer.concat(parts), 5 * MIB) : md5Hex(Buffer.concat(parts));
        assert.equal(normalizeEtag(done.ETag), server === 'rgw' ? undefined : expected);
        assert.equal((await storeFor(prefix).head('completed'))?.etag, expected);
      });

      it(`CopyObject's ETag ${server === 'rgw' ? 'comes without quotes on RGW' : 'is quoted on s3rver'}; normalizeEtag makes it the one head() returns`, async () => {
        const prefix = freshPrefix();
        const store = storeFor(prefix);
        await store.put('source', Buffer.from('copied bytes'));

        const copy = await s3.client.send(
          new CopyObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/copy`, CopySource: `${s3.bucket}/${prefix}/source` }),
        );

        const raw = copy.CopyObjectResult?.ETag ?? '';
        assert.equal(raw.startsWith('"'), server !== 'rgw', raw);
        assert.equal(normalizeEtag(raw), md5Hex(Buffer.from('copied bytes')));
        assert.equal((await store.head('copy'))?.etag, normalizeEtag(raw));
      });
    });

    if (server === 'rgw')
      describe('HTTPS (RGW with a self-signed certificate)', () => {
        const httpsStore = (prefix: string, overrides: Partial<StoreSettings> = {}) =>
          storeFor(prefix, { s3Endpoint: s3.rgw!.httpsEndpoint, s3CaFile: s3.rgw!.caFile, ...overrides });

        for (const mode of ['when-required', 'when-supported'] as const) {
          it(`--s3-checksum ${mode}: a single-part and a multipart put read back byte-identical over HTTPS with --s3-ca-file`, async function () {
            this.timeout(60_000);
            const prefix = freshPrefix();
            const store = httpsStore(prefix, { s3Checksum: mode });
            const small = patternStream(100_000);
            const big = patternStream(6 * MIB);

            await store.put('small', small.stream);
            await store.put('big', big.stream);

            assert.equal((await store.digest('small')).sha256, small.sha256());
            assert.equal((await store.digest('big')).sha256, big.sha256());
            assert.deepEqual(await store.lockStatus('big'), {});
          });
        }

        it("the SDK's own streaming upload with 'when-supported' (aws-chunked, trailing CRC32) is refused over HTTPS too: 411 MissingContentLength", async () => {
          const prefix = freshPrefix();
          const bytes = Buffer.from('x'.repeat(5000));
          const sdkDefaults = new S3Client({
            endpoint: s3.rgw!.httpsEndpoint,
            region: 'us-east-1',
            forcePathStyle: true,
            credentials: s3.credentials,
            requestChecksumCalculation: 'WHEN_SUPPORTED',
            requestHandler: { httpsAgent: new HttpsAgent({ ca: await readFile(s3.rgw!.caFile, 'utf8') }) },
            logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
          });

          const e = await sdkDefaults
            .send(
              new PutObjectCommand({
                Bucket: s3.bucket,
                Key: `${prefix}/streamed`,
                Body: Readable.from([bytes]),
                ContentLength: bytes.length,
              }),
            )
            .then(
              () => assert.fail('RGW took an aws-chunked upload over HTTPS'),
              (err: unknown) =>
                toStorageError(err, { operation: 'put', location: `s3://${s3.bucket}/${prefix}/streamed`, step: 'PutObject' }),
            );
          sdkDefaults.destroy();

          assert.ok(e instanceof StorageError, String(e));
          assert.equal(e.message, `failed to put s3://${s3.bucket}/${prefix}/streamed: PutObject: 411 MissingContentLength`);
          assert.equal(await httpsStore(prefix).head('streamed'), undefined);
        });

        it('without --s3-ca-file the certificate is refused: a StorageError naming the setting, not retried', async () => {
          const prefix = freshPrefix();
          const store = storeFor(prefix, { s3Endpoint: s3.rgw!.httpsEndpoint });

          const e = await store.put('k', Buffer.from('x')).catch((err: unknown) => err);

          assert.ok(e instanceof StorageError, String(e));
          assert.equal(e.kind, 'other');
          assert.equal(e.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
          assert.match(
            e.message,
            /^failed to put s3:\/\/.*\/k: PutObject: DEPTH_ZERO_SELF_SIGNED_CERT: the store's TLS certificate is not trusted; .*--s3-ca-file/,
          );
        });

        it('an --s3-ca-file that cannot be read is a configuration error (exit 2) naming the setting', () => {
          for (const [file, why] of [
            ['/nonexistent/ca.pem', /cannot read \/nonexistent\/ca.pem \(ENOENT\)/],
            [join(s3.rgw!.dir, 'ceph.conf'), /holds no PEM certificate/],
          ] as const) {
            assert.throws(
              () => storeFor('x', { s3Endpoint: s3.rgw!.httpsEndpoint, s3CaFile: file }),
              (e: unknown) =>
                e instanceof ConfigError && e.exitCode === ExitCode.Config && /--s3-ca-file/.test(e.message) && why.test(e.message),
            );
          }
        });
      });

    it('exposes the part size it was built with', () => {
      assert.equal((storeFor('x', { s3PartSize: 7 }) as S3ObjectStore).partSize, 7 * MIB);
    });
  });
}
