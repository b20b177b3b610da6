import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { CreateBucketCommand, GetBucketVersioningCommand, GetObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CEPH_INSTALL, cephAvailable, sharedCephRgw, startCephRgw } from './ceph-rgw.js';
import { requireDependency } from './dependencies.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test/support/ceph-rgw', function () {
  this.timeout(120_000);
  before(function () {
    requireDependency(this, 'Ceph (ceph-mon, ceph-osd, radosgw, ceph-common)', cephAvailable(), CEPH_INSTALL);
  });

  it('starts a private cluster on loopback, serves S3 over HTTP and HTTPS, makes buckets of each kind, and stop() ends exactly its processes', async () => {
    const shared = await sharedCephRgw();
    const rgw = await startCephRgw();
    const pids = Object.values(rgw.pids);
    const memory = await rgw.memoryKiB();
    let stopped = false;
    try {
      await rgw.createBucket('plain-bucket');
      await rgw.createBucket('versioned-bucket', { versioned: true });
      await rgw.createBucket('locked-bucket', { objectLock: true });
      const client = new S3Client({ endpoint: rgw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: rgw.credentials });
      const versioning = await client.send(new GetBucketVersioningCommand({ Bucket: 'versioned-bucket' }));
      const lock = await client.send(new GetObjectLockConfigurationCommand({ Bucket: 'locked-bucket' }));
      client.destroy();
      const tls = await fetch(rgw.httpsEndpoint).catch((e: unknown) => e);

      assert.equal(versioning.Status, 'Enabled');
      assert.equal(lock.ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled');
      assert.ok(tls instanceof Error, 'HTTPS answers with a certificate nobody trusts without the fixture’s CA file');
      assert.match(rgw.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(rgw.httpsEndpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(pids.every(alive));
      assert.ok(Object.values(memory).every((kib) => kib > 0));
      process.stdout.write(
        `      private cluster: started in ${(rgw.startupMs / 1000).toFixed(1)} s; RSS mon ${Math.round(memory.mon / 1024)} MiB, osd ${Math.round(memory.osd / 1024)} MiB, rgw ${Math.round(memory.rgw / 1024)} MiB\n`,
      );

      await rgw.stop();
      stopped = true;

      assert.deepEqual(pids.filter(alive), []);
      assert.equal(existsSync(rgw.dir), false);
      assert.ok(Object.values(shared.pids).every(alive), 'the shared cluster was left alone');
    } finally {
      if (!stopped) await rgw.stop();
    }
  });

  it('a start that fails stops what it had started and says which processes', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const e = await startCephRgw({ httpPort: port, startupTimeoutMs: 2000 }).then(
        (rgw) => rgw.stop().then(() => assert.fail('the gateway started on a taken port')),
        (err: unknown) => err as Error,
      );

      const pids = (/stopped pids ([\d, ]+)/.exec(e.message)?.[1] ?? '').split(', ').map(Number);
      assert.equal(pids.length, 3, e.message);
      assert.deepEqual(pids.filter(alive), []);
    } finally {
      taken.close();
    }
  });

  it('the shared cluster is one per process', async () => {
    const [a, b] = await Promise.all([sharedCephRgw(), sharedCephRgw()]);

    assert.equal(a, b);
    await new S3Client({ endpoint: a.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: a.credentials }).send(
      new CreateBucketCommand({ Bucket: `shared-check-${process.pid}` }),
    );
  });
});
