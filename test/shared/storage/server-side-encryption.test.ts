import assert from 'node:assert/strict';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { createObjectStore } from '../../../shared/storage/create-object-store.js';
import { StorageError } from '../../../shared/storage/storage-error.js';
import type { StoreSettings } from '../../../shared/storage/store-settings.js';
import { RGW_KMS_KEY_ID } from '../../support/ceph-rgw.js';
import { requireS3Server, type S3TestServer, startS3Server } from '../../support/s3-server.js';
import { MIB, patternStream } from './object-store-contract.js';

/**
 * `--s3-sse` against Ceph RGW: SSE-KMS through its testing KMS backend is applied and
 * confirmed; SSE-S3 (AES256) is accepted but not applied by RGW 16 (with `rgw crypt require
 * ssl = false`, as the fixture runs it), and the store says so instead of letting a report
 * claim it. s3rver ignores SSE headers alike.
 */
describe('shared/storage server-side encryption (against rgw)', function () {
  this.timeout(60_000);
  let s3: S3TestServer;
  let n = 0;
  const freshPrefix = () => `sse${++n}`;
  const storeFor = (prefix: string, overrides: Partial<StoreSettings>, sink = new MemorySink()) =>
    createObjectStore(s3.settings(prefix, { s3PartSize: 5, s3MaxAttempts: 2, ...overrides }), {
      credentials: s3.credentials,
      log: createLogger({ sink }),
    });

  before(async function () {
    requireS3Server(this, 'rgw');
    this.timeout(120_000);
    s3 = await startS3Server({ server: 'rgw' });
  });
  after(async () => {
    await s3?.stop();
  });
  beforeEach(() => s3.faults.reset());

  it('SSE-KMS (testing backend): single-part and multipart objects are encrypted, confirmed by the upload answers, and read back identical', async () => {
    const prefix = freshPrefix();
    const store = storeFor(prefix, { s3Sse: 'aws:kms', s3SseKmsKeyId: RGW_KMS_KEY_ID });
    const small = patternStream(10_000);
    const big = patternStream(11 * MIB);

    await store.put('small', small.stream);
    await store.put('big', big.stream);

    for (const key of ['small', 'big']) {
      const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${key}` }));
      assert.equal(head.ServerSideEncryption, 'aws:kms', key);
      assert.equal(head.SSEKMSKeyId, RGW_KMS_KEY_ID, key);
    }
    assert.equal((await store.digest('small')).sha256, small.sha256());
    assert.equal((await store.digest('big')).sha256, big.sha256());
    assert.deepEqual(store.warnings(), []);
    assert.equal(s3.faults.count('HeadObject'), 0, 'PutObject and CreateMultipartUpload confirmed it: no extra request');
    const raw = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/small` }));
    await raw.Body!.transformToByteArray();
    assert.equal(raw.ServerSideEncryption, 'aws:kms');
  });

  it('SSE-KMS without a key id: RGW has no default key and refuses (400 InvalidArgument), a clear StorageError', async () => {
    const prefix = freshPrefix();
    const store = storeFor(prefix, { s3Sse: 'aws:kms' });

    const e = await store.put('k', Buffer.from('x')).catch((err: unknown) => err);

    assert.ok(e instanceof StorageError, String(e));
    assert.equal(e.kind, 'other');
    assert.equal(e.message, `failed to put s3://${s3.bucket}/${prefix}/k: PutObject: 400 InvalidArgument`);
  });

  it('SSE-S3 (AES256) is accepted but not applied: a warning names the store and the setting, once, and the bytes are intact', async () => {
    const prefix = freshPrefix();
    const sink = new MemorySink();
    const store = storeFor(prefix, { s3Sse: 'AES256' }, sink);
    const big = patternStream(6 * MIB);

    await store.put('one', Buffer.from('1'));
    await store.put('two', big.stream);
    await store.put('three', Buffer.from('3'));

    const expected = `s3://${s3.bucket}/${prefix}: the store accepted --s3-sse AES256 but neither its answer to the upload nor HeadObject confirms server-side encryption (x-amz-server-side-encryption: absent): objects may be stored without it; backups are still OpenPGP-encrypted by secret-steward`;
    assert.deepEqual(store.warnings(), [expected]);
    const warned = sink.records().filter((r) => r.level === 'warn');
    assert.deepEqual(
      warned.map((r) => [r.msg, r.store, r.setting]),
      [[expected, `s3://${s3.bucket}/${prefix}`, '--s3-sse']],
    );
    assert.equal(s3.faults.count('HeadObject'), 1, 'asked once; once unconfirmed, not again');
    assert.equal(
      (await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/one` }))).ServerSideEncryption,
      undefined,
    );
    assert.equal((await store.digest('two')).sha256, big.sha256());
  });
});

describe('shared/storage server-side encryption (against s3rver)', () => {
  let s3: S3TestServer;
  before(async () => {
    s3 = await startS3Server();
  });
  after(async () => s3?.stop());

  it('s3rver ignores --s3-sse too: the same warning', async () => {
    const store = createObjectStore(s3.settings('sse', { s3Sse: 'AES256' }), { credentials: s3.credentials });

    await store.put('x', Buffer.from('x'));

    assert.equal(store.warnings().length, 1);
    assert.match(store.warnings()[0], new RegExp(`^s3://${s3.bucket}/sse: the store accepted --s3-sse AES256 but`));
  });
});
