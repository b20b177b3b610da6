import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverFleet, globRegExp, ignoredPrefixesNote } from '../../../shared/backup/fleet-discovery.js';
import { FileObjectStore } from '../../../shared/storage/file-object-store.js';
import type { ObjectStore } from '../../../shared/storage/object-store.js';
import { createS3Client } from '../../../shared/storage/s3-client.js';
import { S3ObjectStore } from '../../../shared/storage/s3-object-store.js';
import { requireS3Server, type S3TestServer, startS3Server } from '../../support/s3-server.js';

/** Objects a store holds: three clusters, two planted prefixes outside the allow-list, one planted inside it, one bad name. */
const KEYS = [
  'prod-us-east-1/backups/20261201T030000Z-aaaaaa/seal.json.asc',
  'prod-eu-west-1/backups/20261201T030000Z-bbbbbb/seal.json.asc',
  'prod-eu-west-1/reports/x.json',
  'staging-eu-west-1/backups/20261201T030000Z-cccccc/seal.json.asc',
  'attacker/backups/20261201T030000Z-dddddd/seal.json.asc',
  'zz-unlisted/backups/x',
  'prod-planted/junk',
  'Prod-Upper/backups/x',
  'top-level-object',
];
const ALLOW = ['prod-*', 'staging-eu-?est-1'];

async function fill(store: ObjectStore): Promise<void> {
  for (const k of KEYS) await store.put(k, Buffer.from('x'));
}

describe('backup/fleet-discovery', () => {
  describe('globRegExp', () => {
    const cases: Array<[string, string, boolean]> = [
      ['prod-*', 'prod-eu-1', true],
      ['prod-*', 'staging-prod-1', false],
      ['prod-?', 'prod-1', true],
      ['prod-?', 'prod-12', false],
      ['prod.eu', 'prod.eu', true],
      ['prod.eu', 'prodxeu', false],
      ['*', 'anything', true],
    ];
    for (const [glob, name, matches] of cases)
      it(`${glob} ${matches ? 'matches' : 'does not match'} ${name}`, () => {
        assert.equal(globRegExp(glob).test(name), matches);
      });
  });

  it('on the file store: allowed valid names sorted; the rest counted, the first few named and escaped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-discovery-'));
    try {
      const store = new FileObjectStore(dir);
      await fill(store);

      const found = await discoverFleet(store, ALLOW);

      assert.deepEqual(found.clusters, ['prod-eu-west-1', 'prod-planted', 'prod-us-east-1', 'staging-eu-west-1']);
      assert.deepEqual(found.ignored, { count: 3, first: ['"Prod-Upper"', '"attacker"', '"zz-unlisted"'] });
      assert.equal(
        ignoredPrefixesNote(found, 'file:///x'),
        '3 prefix(es) under file:///x not allowed by --fleet-allow (or not a cluster name), ignored: "Prod-Upper", "attacker", "zz-unlisted"',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names only the first five ignored prefixes and counts the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-discovery-'));
    try {
      const store = new FileObjectStore(dir);
      for (let i = 0; i < 8; i++) await store.put(`planted-${i}/x`, Buffer.from('x'));

      const found = await discoverFleet(store, ['prod-*']);

      assert.deepEqual(found.clusters, []);
      assert.equal(found.ignored.count, 8);
      assert.equal(found.ignored.first.length, 5);
      assert.match(ignoredPrefixesNote(found, 'file:///x') ?? '', /^8 prefix\(es\) .*"planted-4", \.\.\.$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Against Ceph RGW (a real S3 server), two prefixes per page. Not against s3rver: its
  // filesystem store (3.7.1, lib/stores/filesystem.js listObjects) does not walk directories
  // beneath a common prefix, so a delimited listing of the root misses every cluster whose
  // objects all lie deeper (<cluster>/backups/<id>/...), i.e. every real cluster.
  describe('against rgw, a delimited listing two prefixes per page', function () {
    this.timeout(120_000);
    let s3: S3TestServer;

    before(async function () {
      requireS3Server(this, 'rgw');
      s3 = await startS3Server({ server: 'rgw' });
    });
    after(async () => s3?.stop());

    it('finds every prefix across pages: the same clusters and ignored names as the file store', async () => {
      const store = new S3ObjectStore({
        client: createS3Client(s3.settings('dr'), { credentials: s3.credentials }),
        bucket: s3.bucket,
        prefix: 'dr',
        listPageSize: 2,
      });
      await fill(store);

      const found = await discoverFleet(store, ALLOW);

      assert.deepEqual(found.clusters, ['prod-eu-west-1', 'prod-planted', 'prod-us-east-1', 'staging-eu-west-1']);
      assert.deepEqual(found.ignored, { count: 3, first: ['"Prod-Upper"', '"attacker"', '"zz-unlisted"'] });
    });
  });
});
