import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { Shutdown } from '../../shared/runtime/shutdown.js';
import { createObjectStore } from '../../shared/storage/index.js';
import { readBackup } from '../support/backup-reader.js';
import { type Harness, startHarness } from '../support/job-harness.js';
import { seedCommonSecrets } from '../support/seed-secrets.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function storedKeys(h: Harness, prefix = 'bk'): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of createObjectStore(h.s3.settings(prefix)).list('')) keys.push(o.key);
  return keys;
}

function seedMany(h: Harness, n: number, ns = 'bulk', valueBytes = 64): void {
  h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never);
  for (let i = 0; i < n; i++) {
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `s-${String(i).padStart(4, '0')}`, namespace: ns },
      data: { v: b64(`value-${i}-`.padEnd(valueBytes, 'x')) },
    } as never);
  }
}

describe('jobs/backup (failures)', function () {
  this.timeout(120_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => h?.stop());

  const keyArgs = () => ['--recipient-key', h.recipient.publicKey, ...h.signingArgs()];

  it('aborts the multipart upload when a part upload fails: nothing stored, no stranded upload', async () => {
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'big' } } as never);
    for (let i = 0; i < 20; i++) {
      h.emulator.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `b${i}`, namespace: 'big' },
        data: { v: Buffer.from(Array.from({ length: 700_000 }, (_, j) => (i * 7 + j * 13) % 256)).toString('base64') },
      } as never);
    }
    h.s3.faults.fail({ operation: 'UploadPart', nth: 2, times: 100, action: 'error-500' });

    const r = await h.run(backupCommand, [
      ...h.baseArgs(),
      ...keyArgs(),
      '--compression',
      'none',
      '--s3-part-size',
      '5',
      '--s3-max-attempts',
      '2',
    ]);

    assert.equal(r.code, 4, r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    assert.deepEqual(await storedKeys(h), []);
    assert.deepEqual(await h.s3.listMultipartUploads(), []);
    assert.deepEqual(h.s3.faults.openUploads(), []);
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string }>;
    assert.ok(events.some((e) => e.reason === 'BackupFailed'));
  });

  it('retries the list on 429 (honouring Retry-After) and 500 and backs up everything', async () => {
    seedMany(h, 200);
    // Each fault counts every matching request: the 429 hits the 2nd list call, the 500s the 3rd and 4th.
    h.emulator.faults.inject({ method: 'GET', path: /^\/api\/v1\/secrets$/, status: 429, retryAfterSeconds: 1, after: 1, times: 1 });
    h.emulator.faults.inject({ method: 'GET', path: /^\/api\/v1\/secrets$/, status: 500, after: 2, times: 2 });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--page-size', '10', '--output', 'json']);

    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).secrets, 200);
    assert.equal(r.records.filter((x) => x.msg === 'Kubernetes API call failed; retrying').length, 3);
  });

  it('restarts the list after 410 Gone mid-list and stores one consistent copy', async () => {
    seedMany(h, 200);
    h.emulator.faults.inject({ method: 'GET', path: /^\/api\/v1\/secrets$/, status: 410, after: 2, times: 1 });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--page-size', '10', '--segment-size', '1', '--output', 'json']);

    assert.equal(r.code, 0, r.stderr);
    const back = await readBackup(createObjectStore(h.s3.settings('bk')), 'test-cluster', JSON.parse(r.stdout).backupId, h.recipient);
    assert.equal(back.secrets.length, 200);
    assert.equal(new Set(back.secrets.map((s) => s.metadata.name)).size, 200);
    assert.ok(r.records.some((x) => /restarting the list/.test(String(x.msg))));
  });

  it('exits 4 when the API server stays unavailable, leaving nothing behind', async () => {
    seedMany(h, 30);
    h.emulator.faults.inject({ method: 'GET', path: /^\/api\/v1\/secrets$/, status: 503, after: 1, times: Infinity });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--page-size', '10', '--api-retry-budget', '2']);

    assert.equal(r.code, 4);
    assert.deepEqual(await storedKeys(h), []);
  });

  it('stops at a safe point on SIGTERM: exit 143, no partial backup, lock released', async () => {
    seedMany(h, 60);
    const shutdown = new Shutdown();
    let pages = 0;
    h.emulator.faults.inject({ method: 'GET', path: /^\/api\/v1\/secrets$/, delayMs: 50, times: Infinity });
    const timer = setInterval(() => {
      pages = h.emulator.requests.entries.filter((e) => e.verb === 'list' && e.resource === 'secrets').length;
      if (pages >= 3) shutdown.request('received SIGTERM');
    }, 5);

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--page-size', '10'], { shutdown });
    clearInterval(timer);

    assert.equal(r.code, 143);
    assert.deepEqual(await storedKeys(h), []);
    const lease = h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-backup') as {
      spec?: { holderIdentity?: string };
    };
    assert.equal(lease?.spec?.holderIdentity ?? '', '');
  });

  it('exits 3 and does nothing while another run holds the lock', async () => {
    seedMany(h, 3);
    h.emulator.create({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'secret-steward-backup', namespace: 'secret-steward' },
      spec: { holderIdentity: 'other-pod', leaseDurationSeconds: 60, renewTime: new Date().toISOString().replace('Z', '000Z') },
    } as never);

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs()]);

    assert.equal(r.code, 3);
    assert.match(JSON.stringify(r.records), /another run holds lock secret-steward\/secret-steward-backup \(holder other-pod/);
    assert.deepEqual(await storedKeys(h), []);
  });

  it('when reading the index back fails (connection dropped mid-download), deletes the index first, then the segments: no backup looks complete', async () => {
    seedMany(h, 20);
    h.s3.faults.fail({ operation: 'GetObject', when: (r) => r.path.includes('index.json'), action: 'drop-mid-download' });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs()]);

    assert.equal(r.code, 4, r.stderr);
    assert.deepEqual(await storedKeys(h), []);
    const deletes = h.s3.faults.requests.filter((x) => x.operation === 'DeleteObjects');
    assert.equal(deletes.length, 2, 'the index in one request, then the segments');
  });

  it('when the index cannot be deleted after a failed read-back, keeps the segments with it: a stored index never names missing segments', async () => {
    seedMany(h, 20);
    h.s3.faults.fail({ operation: 'GetObject', when: (r) => r.path.includes('index.json'), action: 'drop-mid-download' });
    h.s3.faults.fail({ operation: 'DeleteObjects', action: 'error-500', sticky: true });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--s3-max-attempts', '2', '--output', 'json']);

    assert.equal(r.code, 4, r.stderr);
    const keys = await storedKeys(h);
    const id = keys[0].split('/')[2];
    assert.deepEqual(keys, [`test-cluster/backups/${id}/index.json.pgp`, `test-cluster/backups/${id}/segment-00001.json.gz.pgp`]);
    const back = await readBackup(createObjectStore(h.s3.settings('bk')), 'test-cluster', id, h.recipient);
    assert.equal(back.secrets.length, 20, 'the backup left behind is whole');
  });

  it('notes the backup it writes on its Lease until the backup is complete', async () => {
    seedMany(h, 5);
    const notes: Array<string | undefined> = [];
    const noteNow = () =>
      (
        h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-backup')?.metadata?.annotations as
          | Record<string, string>
          | undefined
      )?.['secret-steward.io/in-flight'];
    h.s3.faults.fail({ operation: 'PutObject', action: 'pass', onFire: () => void notes.push(noteNow()) });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--output', 'json']);

    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(notes, [`backup ${JSON.parse(r.stdout).backupId}`]);
    assert.equal(noteNow(), undefined);
  });

  it('writes no index when its lock was taken over while it uploaded (the new holder may be cleaning up its segments)', async () => {
    seedMany(h, 5);
    const intrude = () => {
      const lease = h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-backup')!;
      h.emulator.update({ ...lease, spec: { ...(lease as unknown as { spec: object }).spec, holderIdentity: 'intruder' } } as never);
    };
    // The first PutObject is the (only) segment; the index would be the second.
    h.s3.faults.fail({ operation: 'PutObject', action: 'pass', onFire: intrude });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--output', 'json']);

    assert.equal(r.code, 143, r.stderr);
    assert.ok(
      (await storedKeys(h)).every((k) => !k.endsWith('index.json.pgp')),
      'no index names segments another run may delete',
    );
  });

  it('cleans up after a run killed mid-upload: aborts its open multipart upload and deletes its segments, then backs up', async () => {
    seedMany(h, 5);
    const dead = '20260101T000000Z-dead01';
    const store = createObjectStore(h.s3.settings('bk'));
    await store.put(`test-cluster/backups/${dead}/segment-00001.json.gz.pgp`, Buffer.from('half a backup'));
    const { CreateMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    await h.s3.client.send(
      new CreateMultipartUploadCommand({ Bucket: h.s3.bucket, Key: `bk/test-cluster/backups/${dead}/segment-00002.json.gz.pgp` }),
    );
    h.emulator.create({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: 'secret-steward-backup',
        namespace: 'secret-steward',
        annotations: { 'secret-steward.io/in-flight': `backup ${dead}` },
      },
      spec: { holderIdentity: 'test-pod', leaseDurationSeconds: 60 },
    } as never);

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--output', 'json']);

    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await h.s3.listMultipartUploads(), []);
    assert.ok((await storedKeys(h)).every((k) => !k.includes(dead)));
    assert.ok(
      r.records.some(
        (x) =>
          x.msg === 'cleaned up after an earlier run that was killed while writing this backup' &&
          x.abortedUploads === 1 &&
          x.deletedObjects === 1,
      ),
    );
  });

  it('keeps a backup its Lease note names when its index was written (killed after completing it)', async () => {
    seedMany(h, 5);
    const first = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--output', 'json']);
    const id = JSON.parse(first.stdout).backupId as string;
    const lease = h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-backup')!;
    h.emulator.update({ ...lease, metadata: { ...lease.metadata, annotations: { 'secret-steward.io/in-flight': `backup ${id}` } } });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs()]);

    assert.equal(r.code, 0, r.stderr);
    const back = await readBackup(createObjectStore(h.s3.settings('bk')), 'test-cluster', id, h.recipient);
    assert.equal(back.secrets.length, 5);
  });

  it('never lets a secret value reach logs, Events, S3 metadata, temp files or unencrypted bytes', async () => {
    const canary = 'CANARY-8d7f6e5a4b3c2d1e';
    seedCommonSecrets(h, ['canary']);
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'canary', namespace: 'canary' },
      data: { pw: b64(canary) },
    } as never);
    const tmpBefore = new Set((await import('node:fs')).readdirSync((await import('node:os')).tmpdir()));

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--compression', 'none', '--log-level', 'debug']);
    const second = await h.run(backupCommand, [
      ...h.baseArgs('other'),
      ...keyArgs(),
      '--shrink-threshold',
      '0',
      '--namespace',
      'canary',
      '--exclude-type',
      'Opaque',
      '--log-level',
      'debug',
    ]);

    assert.equal(r.code, 0, r.stderr);
    assert.equal(second.code, 0, second.stderr);
    const forms = [canary, b64(canary), Buffer.from(canary).toString('hex')];
    const scanned: Array<[string, string]> = [
      ['logs', [...r.logs.lines, ...second.logs.lines].join('')],
      ['output', r.stdout + r.stderr + second.stdout + second.stderr],
      ['events', JSON.stringify(h.emulator.list('v1', 'Event'))],
    ];
    const store = createObjectStore(h.s3.settings(''));
    for await (const o of store.list('')) {
      scanned.push([`object ${o.key}`, (await store.getBytes(o.key, 64 * 1024 * 1024)).toString('latin1')]);
      scanned.push([`metadata ${o.key}`, JSON.stringify((await store.head(o.key))?.metadata ?? {})]);
    }
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const tmp = (await import('node:os')).tmpdir();
    for (const name of readdirSync(tmp)) {
      if (tmpBefore.has(name)) continue;
      const p = join(tmp, name);
      if (statSync(p).isFile()) scanned.push([`temp ${name}`, readFileSync(p).toString('latin1')]);
    }
    // The S3 server's own directory holds exactly the stored objects; scan it raw too.
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
    const s3Dir = h.s3.dir;
    assert.ok(s3Dir, 'the harness runs s3rver, whose directory holds the stored objects');
    for (const f of walk(s3Dir)) scanned.push([`s3 file ${f}`, readFileSync(f).toString('latin1')]);
    assert.ok(scanned.length > 6);
    for (const [where, text] of scanned) {
      for (const form of forms) assert.ok(!text.includes(form), `${form} found in ${where}`);
    }
  });
});
