import assert from 'node:assert/strict';
import { PutObjectLegalHoldCommand } from '@aws-sdk/client-s3';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { fixedClock } from '../../../shared/runtime/clock.js';
import { createObjectStore } from '../../../shared/storage/create-object-store.js';
import { FileObjectStore } from '../../../shared/storage/file-object-store.js';
import type { DeleteOutcome, ObjectStore } from '../../../shared/storage/object-store.js';
import { createS3Client } from '../../../shared/storage/s3-client.js';
import { S3ObjectStore } from '../../../shared/storage/s3-object-store.js';
import { StorageError } from '../../../shared/storage/storage-error.js';
import type { StoreSettings } from '../../../shared/storage/store-settings.js';
import { requireS3Server, type S3TestServer, startS3Server } from '../../support/s3-server.js';
import { collect, MIB, patternBytes } from './object-store-contract.js';

const SECOND = 1000;
/**
 * Retention of the objects a test waits out: long enough that the refusals checked first
 * still fall inside it on a busy machine (a few requests), short enough to wait for.
 */
const SHORT = 4 * SECOND;

/** Waits until `date` has passed (by a margin: the store's clock decides, and it has whole milliseconds). */
async function until(date: Date): Promise<void> {
  const wait = date.getTime() - Date.now() + 300;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

/** The version id of the one version of `key` under `prefix`. */
async function versionOf(store: ObjectStore, key: string): Promise<string> {
  const versions = (await collect(store.listVersions(key))).filter((v) => v.key === key && !v.deleteMarker);
  assert.equal(versions.length, 1, JSON.stringify(versions));
  return versions[0].versionId;
}

function kept(o: DeleteOutcome): StorageError {
  assert.equal(o.status, 'kept', JSON.stringify(o));
  return (o as { error: StorageError }).error;
}

/**
 * The storage layer's Object Lock primitives (issue "a second, real S3 implementation"): a
 * retention setting, versions listed and deleted by id, refusals of kind `locked` with the
 * retain-until date, per-key delete outcomes. Against Ceph RGW, which enforces Object Lock;
 * then what s3rver (which has none) and the file store answer.
 */
describe('shared/storage Object Lock (against rgw)', function () {
  this.timeout(60_000);
  let s3: S3TestServer;
  let n = 0;
  const freshPrefix = () => `lock${++n}`;
  const storeFor = (prefix: string, overrides: Partial<StoreSettings> = {}, deps: Parameters<typeof createObjectStore>[1] = {}) =>
    createObjectStore(s3.settings(prefix, { s3PartSize: 5, s3MaxAttempts: 2, ...overrides }), { credentials: s3.credentials, ...deps });

  before(async function () {
    requireS3Server(this, 'rgw');
    this.timeout(120_000);
    s3 = await startS3Server({ server: 'rgw', bucketOptions: { objectLock: true } });
  });
  after(async () => {
    await s3?.stop();
  });
  beforeEach(() => s3.faults.reset());

  it('--s3-object-lock-retention (here seconds) and --s3-object-lock-days set each object’s retain-until date, single-part and multipart', async () => {
    const prefix = freshPrefix();
    const clock = fixedClock(new Date(Math.floor(Date.now() / 1000) * 1000));
    // Not waited out (the bucket keeps these until the cluster stops): long enough that a slow
    // multipart upload cannot outlast it before PutObjectRetention sets it again.
    const seconds = storeFor(prefix, { s3ObjectLockMode: 'COMPLIANCE', s3ObjectLockRetention: 90 * SECOND }, { clock });
    const days = storeFor(prefix, { s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockDays: 1 }, { clock });

    await seconds.put('small', Buffer.from('x'));
    await seconds.put('big', patternBytes(6 * MIB));
    await days.put('daily', Buffer.from('d'));

    const in90Seconds = new Date(clock.now().getTime() + 90 * SECOND);
    assert.deepEqual(await seconds.lockStatus('small'), { lockMode: 'COMPLIANCE', retainUntil: in90Seconds });
    assert.deepEqual(await seconds.lockStatus('big'), { lockMode: 'COMPLIANCE', retainUntil: in90Seconds });
    assert.deepEqual(await days.lockStatus('daily'), { lockMode: 'GOVERNANCE', retainUntil: new Date(clock.now().getTime() + 86_400_000) });
    assert.deepEqual([...seconds.warnings(), ...days.warnings()], [], 'RGW applied the retention: nothing to warn about');
    // RGW 16.2 drops the retention sent with CreateMultipartUpload: the store sets it afterwards.
    assert.deepEqual(
      s3.faults.requests.filter((r) => r.path.includes('retention')).map((r) => `${r.method} ${r.path.split('?')[0]}`),
      [`PUT /${s3.bucket}/${prefix}/big`],
    );
    // Clean up the day-long GOVERNANCE version (with the bypass) so the bucket can be emptied.
    const daily = await versionOf(days, 'daily');
    assert.equal(
      (await days.deleteObjects([{ key: 'daily', versionId: daily }], { bypassGovernanceRetention: true }))[0].status,
      'deleted',
    );
  });

  it('COMPLIANCE: nobody deletes the version before it expires, bypass included; the refusal is kind locked with the retain-until date', async () => {
    const prefix = freshPrefix();
    const store = storeFor(prefix, { s3ObjectLockMode: 'COMPLIANCE', s3ObjectLockRetention: SHORT });
    await store.put('c', Buffer.from('compliance'));
    const versionId = await versionOf(store, 'c');
    const { retainUntil } = (await store.lockStatus('c', versionId))!;

    const [plain] = await store.deleteObjects([{ key: 'c', versionId }]);
    const [bypassed] = await store.deleteObjects([{ key: 'c', versionId }], { bypassGovernanceRetention: true });

    for (const o of [plain, bypassed]) {
      const e = kept(o);
      assert.equal(e.kind, 'locked');
      assert.equal(e.lockMode, 'COMPLIANCE');
      assert.deepEqual(e.retainUntil, retainUntil);
      assert.equal(e.exitCode, 1);
      assert.equal(
        e.message,
        `failed to deleteObjects s3://${s3.bucket}/${prefix}/c (version ${versionId}): AccessDenied: protected by Object Lock (COMPLIANCE retention until ${retainUntil!.toISOString()})`,
      );
    }
    assert.equal((await store.getBytes('c')).toString(), 'compliance');

    await until(retainUntil!);
    const [later] = await store.deleteObjects([{ key: 'c', versionId }]);
    assert.equal(later.status, 'deleted', 'once the retention has expired the version goes');
    assert.deepEqual(await collect(store.listVersions('')), []);
  });

  it('GOVERNANCE: refused without the bypass header, which is never sent unless asked for; deleted with it', async () => {
    const prefix = freshPrefix();
    const store = storeFor(prefix, { s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockRetention: 3600 * SECOND });
    await store.put('g', Buffer.from('governance'));
    const versionId = await versionOf(store, 'g');

    const refused = kept((await store.deleteObjects([{ key: 'g', versionId }]))[0]);
    const sentWithout = s3.faults.requests.filter((r) => r.operation === 'DeleteObjects').at(-1)!;
    const [bypassed] = await store.deleteObjects([{ key: 'g', versionId }], { bypassGovernanceRetention: true });
    const sentWith = s3.faults.requests.filter((r) => r.operation === 'DeleteObjects').at(-1)!;

    assert.equal(refused.kind, 'locked');
    assert.equal(refused.lockMode, 'GOVERNANCE');
    assert.equal(sentWithout.headers['x-amz-bypass-governance-retention'], undefined);
    assert.equal(bypassed.status, 'deleted');
    assert.equal(sentWith.headers['x-amz-bypass-governance-retention'], 'true');
    assert.deepEqual(await collect(store.listVersions('')), []);
  });

  it('delete() of keys on a locked bucket refuses nothing: it only adds delete markers (retention holds versions, not keys)', async () => {
    const prefix = freshPrefix();
    const store = storeFor(prefix, { s3ObjectLockMode: 'GOVERNANCE', s3ObjectLockRetention: 3600 * SECOND });
    await store.put('held', Buffer.from('h'));
    const versionId = await versionOf(store, 'held');

    await store.delete(['held']);

    assert.equal(await store.head('held'), undefined);
    assert.equal((await store.lockStatus('held', versionId))?.lockMode, 'GOVERNANCE');
    await store.deleteObjects(
      (await collect(store.listVersions(''))).map((v) => ({ key: v.key, versionId: v.versionId })),
      { bypassGovernanceRetention: true },
    );
  });

  it('a delete without version id only adds a delete marker: the key reads as absent, the locked version stays, and deleting the marker brings it back', async () => {
    const prefix = freshPrefix();
    const store = storeFor(prefix, { s3ObjectLockMode: 'COMPLIANCE', s3ObjectLockRetention: SHORT });
    await store.put('m', Buffer.from('still here'));
    const versionId = await versionOf(store, 'm');

    const [outcome] = await store.deleteObjects([{ key: 'm' }]);

    assert.equal(outcome.status, 'deleted');
    assert.equal(outcome.status === 'deleted' && outcome.deleteMarker, true);
    assert.equal(await store.head('m'), undefined);
    const versions = await collect(store.listVersions(''));
    assert.deepEqual(
      versions.map((v) => [v.key, v.deleteMarker, v.isLatest, v.deleteMarker ? 'marker' : v.versionId]),
      [
        ['m', true, true, 'marker'],
        ['m', false, false, versionId],
      ],
    );
    assert.equal((await store.lockStatus('m', versionId))?.lockMode, 'COMPLIANCE');
    // A delete marker is no data: no lock holds it.
    assert.equal((await store.deleteObjects([{ key: 'm', versionId: versions[0].versionId }]))[0].status, 'deleted');
    assert.equal((await store.getBytes('m')).toString(), 'still here');
  });

  it('a multi-object delete reports each key: deleted, kept by a lock (retention or legal hold), and missing ones', async () => {
    const prefix = freshPrefix();
    const locked = storeFor(prefix, { s3ObjectLockMode: 'COMPLIANCE', s3ObjectLockRetention: SHORT });
    const plain = storeFor(prefix);
    await locked.put('a/locked', Buffer.from('1'));
    await plain.put('a/free', Buffer.from('2'));
    await plain.put('a/held', Buffer.from('3'));
    const v = Object.fromEntries((await collect(plain.listVersions('a/'))).map((x) => [x.key.slice(2), x.versionId]));
    await s3.client.send(
      new PutObjectLegalHoldCommand({ Bucket: s3.bucket, Key: `${prefix}/a/held`, VersionId: v.held, LegalHold: { Status: 'ON' } }),
    );

    const outcomes = await plain.deleteObjects([
      { key: 'a/locked', versionId: v.locked },
      { key: 'a/free', versionId: v.free },
      { key: 'a/held', versionId: v.held },
      { key: 'a/never-existed' },
    ]);

    assert.deepEqual(
      outcomes.map((o) => [o.key, o.status, o.status === 'kept' ? o.error.kind : '']),
      [
        ['a/locked', 'kept', 'locked'],
        ['a/free', 'deleted', ''],
        ['a/held', 'kept', 'locked'],
        ['a/never-existed', 'deleted', ''],
      ],
    );
    const held = kept(outcomes[2]);
    assert.equal(held.legalHold, true);
    assert.match(held.message, /protected by Object Lock \(a legal hold\)/);
    assert.equal(kept(outcomes[0]).lockMode, 'COMPLIANCE');
    // Lift the hold so that emptying the bucket at the end can remove the version.
    await s3.client.send(
      new PutObjectLegalHoldCommand({ Bucket: s3.bucket, Key: `${prefix}/a/held`, VersionId: v.held, LegalHold: { Status: 'OFF' } }),
    );
  });

  it('listVersions lists every version and delete marker under a prefix, by key then newest first, across pages', async () => {
    const prefix = freshPrefix();
    const store = new S3ObjectStore({
      client: createS3Client(s3.settings(prefix), { credentials: s3.credentials }),
      bucket: s3.bucket,
      prefix,
      listPageSize: 2,
    });
    await store.put('p/k', Buffer.from('one'));
    await store.put('p/k', Buffer.from('two!'));
    await store.put('p/l', Buffer.from('l'));
    await store.put('q', Buffer.from('other prefix'));
    await store.deleteObjects([{ key: 'p/l' }]);

    const versions = await collect(store.listVersions('p/'));

    assert.deepEqual(
      versions.map((v) => [v.key, v.size, v.isLatest, v.deleteMarker]),
      [
        ['p/k', 4, true, false],
        ['p/k', 3, false, false],
        ['p/l', 0, true, true],
        ['p/l', 1, false, false],
      ],
    );
    assert.ok(s3.faults.count('ListObjects') >= 2, 'more than one page');
    await store.deleteObjects((await collect(store.listVersions(''))).map((v) => ({ key: v.key, versionId: v.versionId })));
    assert.deepEqual(await collect(store.listVersions('')), []);
  });
});

describe('shared/storage Object Lock (against s3rver, which has none)', () => {
  let s3: S3TestServer;
  before(async () => {
    s3 = await startS3Server();
  });
  after(async () => s3?.stop());

  it('accepts Object Lock headers without applying them: lockStatus shows none, and the store warns once, naming the setting', async () => {
    const sink = new MemorySink();
    const store = createObjectStore(s3.settings('s3rver-lock', { s3ObjectLockMode: 'COMPLIANCE', s3ObjectLockRetention: 60 * SECOND }), {
      credentials: s3.credentials,
      log: createLogger({ sink }),
    });

    await store.put('a', Buffer.from('a'));
    await store.put('b', Buffer.from('b'));
    const heads = s3.faults.count('HeadObject');

    assert.deepEqual(await store.lockStatus('a'), {});
    assert.deepEqual(store.warnings(), [
      `s3://${s3.bucket}/s3rver-lock: the store accepted --s3-object-lock-mode COMPLIANCE but HeadObject shows no retention: objects may not be protected against deletion`,
    ]);
    assert.equal(sink.records().filter((r) => r.level === 'warn' && r.setting === '--s3-object-lock-mode').length, 1);
    assert.equal(heads, 1, 'once the store is known not to apply it, no more HeadObjects');
    await store.delete(['a', 'b']);
  });

  it('has no object versions: listVersions fails with 405 MethodNotAllowed (deletes ignore version ids)', async () => {
    const store = createObjectStore(s3.settings('s3rver-versions'), { credentials: s3.credentials });
    await store.put('v', Buffer.from('v'));

    const e = await collect(store.listVersions('')).catch((err: unknown) => err);

    assert.ok(e instanceof StorageError, String(e));
    assert.equal(e.kind, 'other');
    assert.equal(e.message, `failed to listVersions s3://${s3.bucket}/s3rver-versions/: ListObjectVersions page 1: 405 MethodNotAllowed`);
    assert.deepEqual(await store.deleteObjects([{ key: 'v', versionId: 'anything' }]), [
      { key: 'v', versionId: 'anything', status: 'deleted' },
    ]);
    assert.equal(await store.head('v'), undefined);
  });
});

describe('shared/storage Object Lock (the file store, which has none)', () => {
  it('keeps one version per key, "null": another version id is kept as not-found, never deleted', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'file-lock-'));
    try {
      const store = new FileObjectStore(join(dir, 'store'));
      await store.put('k', Buffer.from('k'));

      const [other] = await store.deleteObjects([{ key: 'k', versionId: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY' }]);

      const e = kept(other);
      assert.equal(e.kind, 'not-found');
      assert.equal(e.code, 'NoSuchVersion');
      assert.equal((await store.getBytes('k')).toString(), 'k');
      assert.equal(await store.lockStatus('k', '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY'), undefined);
      assert.deepEqual(await store.lockStatus('k', 'null'), {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
