import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { rekeyCommand } from '../../jobs/rekey.js';
import { restoreCommand } from '../../jobs/restore.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import {
  backupKeyArgs,
  newKeyReadArgs,
  type RolloverKeys,
  rekeyKeyArgs,
  seedDrillSecrets,
  writeRolloverKeys,
} from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server, type S3TestServer, startS3Server } from '../support/s3-server.js';

const CLUSTER = 'test-cluster';
const failure = (r: RunResult) => r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error' || x.level === 'warn'));

async function versionsOf(store: ObjectStore, prefix: string): Promise<Array<{ key: string; versionId: string }>> {
  const out = [];
  for await (const v of store.listVersions(prefix)) out.push({ key: v.key.slice(prefix.length), versionId: v.versionId });
  return out;
}

/** `rekey` against Ceph RGW (a real S3 server): a plain bucket, and an Object Lock bucket whose old versions it cannot delete. */
describe('jobs/rekey against Ceph RGW', function () {
  this.timeout(300_000);
  let h: Harness;
  let keys: RolloverKeys;
  let expected: Map<string, Record<string, string>>;

  before(async function () {
    requireS3Server(this, 'rgw');
    h = await startHarness({ s3: 'rgw' });
    keys = await writeRolloverKeys(h);
    expected = await seedDrillSecrets(h, ['payments']);
  });
  after(async () => h?.stop());

  const rekeyArgs = (base: string[]) => [...base, ...rekeyKeyArgs(h, keys)];
  const backup = async (base: string[], extra: string[] = []) => {
    const r = await h.run(backupCommand, [...base, ...backupKeyArgs(h), '--segment-size', '1', '--output', 'json', ...extra]);
    assert.equal(r.code, 0, failure(r));
    return JSON.parse(r.stdout).backupId as string;
  };

  it('re-encrypts a backup; the new key alone restores it byte-identical; no version of an old object is left', async () => {
    const id = await backup(h.baseArgs('plain'));
    const store = createObjectStore(h.s3.settings('plain'));

    const r = await h.run(rekeyCommand, [...rekeyArgs(h.baseArgs('plain')), '--output', 'json']);

    assert.equal(r.code, 0, failure(r));
    assert.deepEqual(
      JSON.parse(r.stdout).outcomes.map((o: { id: string; action: string }) => [o.id, o.action]),
      [[id, 'rekeyed']],
    );
    const left = (await versionsOf(store, `${CLUSTER}/backups/${id}/`)).map((v) => v.key);
    assert.ok(left.length > 1 && left.every((k) => k === 'seal.json.asc' || /\.r1\.json/.test(k)), left.join(', '));
    const [ns, name] = [...expected.keys()][0].split('/');
    h.emulator.delete('v1', 'Secret', ns, name);
    const restored = await h.run(restoreCommand, [...h.baseArgs('plain'), ...newKeyReadArgs(h, keys), '--name', `${ns}/${name}`]);
    assert.equal(restored.code, 0, failure(restored));
    assert.deepEqual(
      (h.emulator.get('v1', 'Secret', ns, name) as { data?: Record<string, string> } | undefined)?.data ?? {},
      expected.get(`${ns}/${name}`),
    );
  });

  describe('in an Object Lock bucket', () => {
    let locked: S3TestServer;
    before(async () => {
      locked = await startS3Server({ server: 'rgw', bucketOptions: { objectLock: true } });
    });
    after(async () => locked?.stop());

    const lockedArgs = () => [
      '--kubeconfig',
      h.kubeconfig,
      ...locked.args('lk'),
      '--cluster-name',
      CLUSTER,
      '--lock-namespace',
      'secret-steward',
    ];

    it('GOVERNANCE: rekey switches to the new copy and says the old versions stay until their lock expires', async () => {
      const lock = ['--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-retention', '1h'];
      const id = await backup(lockedArgs(), lock);
      const store = createObjectStore(locked.settings('lk'));
      const before = await versionsOf(store, `${CLUSTER}/backups/${id}/`);

      const r = await h.run(rekeyCommand, [...rekeyArgs(lockedArgs()), ...lock]);

      assert.equal(r.code, 0, failure(r));
      assert.match(
        r.stdout,
        new RegExp(
          `${id}\\s+scheduled\\s+rekeyed\\s+1\\s+${h.recipient.fingerprint}\\s+kept by the store's lock \\(GOVERNANCE\\) until \\d{4}-`,
        ),
      );
      assert.match(
        r.stdout,
        /The store keeps \d+ old object version\(s\) \(Object Lock or legal hold\): until their lock expires they stay in the bucket, still encrypted to the old key/,
      );
      const after = await versionsOf(store, `${CLUSTER}/backups/${id}/`);
      for (const v of before)
        assert.ok(
          after.some((a) => a.versionId === v.versionId),
          `${v.key} ${v.versionId} was deleted under a lock`,
        );
      // Leave nothing held for an hour.
      const all = (await versionsOf(store, '')).map((v) => ({ key: v.key, versionId: v.versionId }));
      assert.deepEqual(
        (await store.deleteObjects(all, { bypassGovernanceRetention: true })).filter((o) => o.status !== 'deleted'),
        [],
      );
    });
  });
});
