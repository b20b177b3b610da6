import assert from 'node:assert/strict';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { pruneCommand } from '../../jobs/prune.js';
import { restoreCommand } from '../../jobs/restore.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import {
  backupKeyArgs,
  createDrillNamespace,
  drillArgs,
  drillSigningArgs,
  readKeyArgs,
  seedDrillSecrets,
} from '../shared/verify-restore/drill-fixtures.js';
import { readBackup } from '../support/backup-reader.js';
import { RGW_KMS_KEY_ID } from '../support/ceph-rgw.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server, type S3TestServer, startS3Server } from '../support/s3-server.js';

const CLUSTER = 'test-cluster';

async function keysUnder(store: ObjectStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys;
}

const failure = (r: RunResult) => r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error' || x.level === 'warn'));

/**
 * Every job that uses the store, end to end against Ceph RGW (a real S3 server) instead of
 * s3rver: backup, list-backups, verify-restore, restore, prune and status (rotate never touches
 * the store). Then what RGW adds: SSE-KMS from backup to drill, SSE-S3 that RGW accepts
 * without applying (a warning), a backup over HTTPS with --s3-ca-file, and one into an Object
 * Lock bucket.
 */
describe('jobs against Ceph RGW', function () {
  this.timeout(180_000);
  let h: Harness;
  let backupId: string;
  let expected: Map<string, Record<string, string>>;

  // With the trust list every reader has, which holds the backup's own key: no warning about it.
  const backup = async (prefix: string, extra: string[] = [], args = h.baseArgs(prefix)) => {
    const r = await h.run(backupCommand, [
      ...args,
      ...backupKeyArgs(h),
      '--trusted-signer-key',
      h.signer.publicKey,
      '--output',
      'json',
      ...extra,
    ]);
    assert.equal(r.code, 0, failure(r));
    return { id: JSON.parse(r.stdout).backupId as string, run: r };
  };

  before(async function () {
    requireS3Server(this, 'rgw');
    h = await startHarness({ s3: 'rgw' });
    createDrillNamespace(h);
    expected = await seedDrillSecrets(h, ['payments', 'web']);
    backupId = (await backup('bk')).id;
    const drill = await h.run(verifyRestoreCommand, [...drillArgs(h, 'bk'), ...drillSigningArgs(h)]);
    assert.equal(drill.code, 0, failure(drill));
  });
  after(async () => h?.stop());

  it('backup: every Secret stored encrypted and signed, decrypts byte-identical; no multipart upload left', async () => {
    const back = await readBackup(createObjectStore(h.s3.settings('bk')), CLUSTER, backupId, h.recipient, h.signer);

    assert.equal(back.signature, 'valid');
    assert.deepEqual(new Map(back.secrets.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s.data ?? {}])), expected);
    assert.deepEqual(await h.s3.listMultipartUploads(), []);
  });

  it('list-backups: the backup, sealed, with its count and the passing drill, verified', async () => {
    const r = await h.run(listBackupsCommand, [
      ...h.s3.args('bk'),
      '--cluster-name',
      CLUSTER,
      '--trusted-signer-key',
      h.signer.publicKey,
      '--drill-signer-key',
      h.drillSigner.publicKey,
      '--output',
      'json',
    ]);

    assert.equal(r.code, 0, failure(r));
    const listed = JSON.parse(r.stdout) as {
      backups: Array<{ id: string; status: string; secrets: number; lastDrill?: { result: string; verified: boolean } }>;
    };
    assert.deepEqual(
      listed.backups.map((b) => [b.id, b.status, b.secrets, b.lastDrill?.result, b.lastDrill?.verified]),
      [[backupId, 'sealed', expected.size, 'pass', true]],
    );
  });

  it('verify-restore: the drill passes every check and stores its report', async () => {
    const r = await h.run(verifyRestoreCommand, drillArgs(h, 'bk'));

    assert.equal(r.code, 0, failure(r));
    assert.match(r.stdout, new RegExp(`DR drill PASSED for backup ${backupId}`));
    const reports = await keysUnder(createObjectStore(h.s3.settings('bk')), `${CLUSTER}/reports/`);
    assert.equal(reports.filter((k) => k.endsWith('_pass.json')).length, 2);
  });

  it('status: the backup is fresh and drilled, nothing overdue', async () => {
    const r = await h.run(statusCommand, [
      '--kubeconfig',
      h.kubeconfig,
      ...h.s3.args('bk'),
      '--cluster-name',
      CLUSTER,
      '--namespace',
      'payments',
      '--recipient-key',
      h.recipient.publicKey,
      '--trusted-signer-key',
      h.signer.publicKey,
      '--drill-signer-key',
      h.drillSigner.publicKey,
      '--backup-schedule',
      '0 3 * * *',
      '--output',
      'json',
    ]);

    assert.equal(r.code, 0, failure(r));
    const s = JSON.parse(r.stdout) as StatusReport;
    assert.deepEqual(s.problems, []);
    assert.equal(s.backups?.backups[0].id, backupId);
    assert.equal(s.backups?.freshness?.fresh, true);
    assert.equal(s.backups?.backups[0].lastDrill?.result, 'pass');
  });

  it('restore: a deleted Secret comes back byte-identical', async () => {
    const [ns, name] = [...expected.keys()].find((k) => k.startsWith('payments/'))!.split('/');
    h.emulator.delete('v1', 'Secret', ns, name);

    const r = await h.run(restoreCommand, [...h.baseArgs('bk'), ...readKeyArgs(h), '--namespace', ns, '--output', 'json']);

    assert.equal(r.code, 0, failure(r));
    const back = h.emulator.get('v1', 'Secret', ns, name) as unknown as { data?: Record<string, string> };
    assert.deepEqual(back.data ?? {}, expected.get(`${ns}/${name}`));
  });

  it('prune: --keep-last 1 deletes the older of two backups and every object of it', async () => {
    const older = (await backup('prune')).id;
    const newer = (await backup('prune')).id;

    const r = await h.run(pruneCommand, [
      ...h.baseArgs('prune'),
      '--trusted-signer-key',
      h.signer.publicKey,
      '--keep-last',
      '1',
      '--output',
      'json',
    ]);

    assert.equal(r.code, 0, failure(r));
    assert.equal(JSON.parse(r.stdout).deletedBackups, 1);
    const ids = new Set((await keysUnder(createObjectStore(h.s3.settings('prune')), `${CLUSTER}/backups/`)).map((k) => k.split('/')[2]));
    assert.deepEqual([...ids], [newer]);
    assert.notEqual(older, newer);
  });

  it('SSE-KMS end to end: a backup written with --s3-sse aws:kms is encrypted by RGW and read back by verify-restore', async () => {
    const sse = ['--s3-sse', 'aws:kms', '--s3-sse-kms-key-id', RGW_KMS_KEY_ID];
    const { id, run } = await backup('kms', sse);

    const drill = await h.run(verifyRestoreCommand, [...drillArgs(h, 'kms'), ...sse]);

    assert.equal(drill.code, 0, failure(drill));
    assert.match(drill.stdout, new RegExp(`DR drill PASSED for backup ${id}`));
    const objects = await keysUnder(createObjectStore(h.s3.settings('kms')), `${CLUSTER}/backups/${id}/`);
    assert.ok(objects.length >= 2, JSON.stringify(objects));
    for (const key of objects) {
      const head = await h.s3.client.send(new HeadObjectCommand({ Bucket: h.s3.bucket, Key: `kms/${key}` }));
      assert.equal(head.ServerSideEncryption, 'aws:kms', key);
    }
    assert.deepEqual(
      run.records.filter((x) => x.level === 'warn'),
      [],
    );
  });

  it('SSE-S3 that RGW accepts but does not apply: the backup succeeds and warns, naming the store and --s3-sse', async () => {
    const { run } = await backup('aes', ['--s3-sse', 'AES256']);

    const warnings = run.records.filter((x) => x.level === 'warn' && x.setting === '--s3-sse');
    assert.equal(warnings.length, 1, failure(run));
    assert.equal(warnings[0].store, `s3://${h.s3.bucket}/aes`);
    assert.match(String(warnings[0].msg), /accepted --s3-sse AES256 but neither its answer to the upload nor HeadObject confirms/);
    assert.deepEqual(JSON.parse(run.stdout).warnings, [warnings[0].msg]);
  });

  it('backup over HTTPS with --s3-ca-file (the gateway’s self-signed certificate)', async () => {
    const rgw = h.s3.rgw!;
    const args = h
      .baseArgs('tls')
      .map((a) => (a === h.s3.endpoint ? rgw.httpsEndpoint : a))
      .concat('--s3-ca-file', rgw.caFile);

    const { id } = await backup('tls', [], args);

    const back = await readBackup(createObjectStore(h.s3.settings('tls')), CLUSTER, id, h.recipient, h.signer);
    assert.equal(back.signature, 'valid');
    assert.equal(back.secrets.length, expected.size);
  });

  describe('into an Object Lock bucket', () => {
    let locked: S3TestServer;
    before(async () => {
      locked = await startS3Server({ server: 'rgw', bucketOptions: { objectLock: true } });
    });
    after(async () => locked?.stop());

    const lockedArgs = (prefix: string) => [
      '--kubeconfig',
      h.kubeconfig,
      ...locked.args(prefix),
      '--cluster-name',
      CLUSTER,
      '--lock-namespace',
      'secret-steward',
    ];
    const prune = (prefix: string, extra: string[] = []) =>
      h.run(pruneCommand, [
        ...lockedArgs(prefix),
        '--trusted-signer-key',
        h.signer.publicKey,
        '--keep-last',
        '1',
        '--output',
        'json',
        ...extra,
      ]);
    const listed = async (prefix: string) => {
      const r = await h.run(listBackupsCommand, [
        ...locked.args(prefix),
        '--cluster-name',
        CLUSTER,
        '--trusted-signer-key',
        h.signer.publicKey,
        '--output',
        'json',
      ]);
      assert.equal(r.code, 0, failure(r));
      return new Map((JSON.parse(r.stdout) as { backups: { id: string; status: string }[] }).backups.map((b) => [b.id, b.status]));
    };
    const versionsOf = async (store: ObjectStore, prefix: string) => {
      const versions = [];
      for await (const v of store.listVersions(prefix)) versions.push(v);
      return versions;
    };
    interface PruneJson {
      deletedBackups: number;
      keptByStore: { id: string; sealKept: boolean; lockMode?: string; retainUntil?: string; reason: string }[];
      decisions: { id: string; keep: boolean; reasons: string[] }[];
    }

    it("GOVERNANCE: prune reports the backup retention wants gone as kept by the store's lock, deletes nothing of it, and exits 0", async () => {
      const lock = ['--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-retention', '1h'];
      const older = (await backup('gov', lock, lockedArgs('gov'))).id;
      const newer = (await backup('gov', lock, lockedArgs('gov'))).id;
      const store = createObjectStore(locked.settings('gov'));
      const before = await versionsOf(store, `${CLUSTER}/backups/${older}/`);

      const r = await prune('gov');

      assert.equal(r.code, 0, failure(r));
      const out = JSON.parse(r.stdout) as PruneJson;
      assert.equal(out.deletedBackups, 0);
      assert.deepEqual(
        out.keptByStore.map((k) => [k.id, k.sealKept, k.lockMode]),
        [[older, true, 'GOVERNANCE']],
      );
      assert.match(out.keptByStore[0].reason, /^kept by the store's lock \(GOVERNANCE\) until \d{4}-/);
      assert.match(out.decisions.find((d) => d.id === older)!.reasons.join('; '), /not deleted: kept by the store's lock/);
      assert.deepEqual(await versionsOf(store, `${CLUSTER}/backups/${older}/`), before);
      assert.deepEqual(
        await listed('gov'),
        new Map([
          [newer, 'sealed'],
          [older, 'sealed'],
        ]),
      );
      // Leave nothing held for an hour.
      const all = (await versionsOf(store, '')).map((v) => ({ key: v.key, versionId: v.versionId }));
      assert.deepEqual(
        (await store.deleteObjects(all, { bypassGovernanceRetention: true })).filter((o) => o.status !== 'deleted'),
        [],
      );
    });

    it("COMPLIANCE: the backup survives prune and an attacker's deletes, a delete marker only hides it, and once the lock expires prune deletes every version", async function () {
      this.timeout(240_000);
      const retentionSeconds = 20;
      const lock = ['--s3-object-lock-mode', 'COMPLIANCE', '--s3-object-lock-retention', `${retentionSeconds}s`];
      const older = (await backup('comp', lock, lockedArgs('comp'))).id;
      const newer = (await backup('comp', lock, lockedArgs('comp'))).id;
      const store = createObjectStore(locked.settings('comp'));
      const olderPrefix = `${CLUSTER}/backups/${older}/`;
      const stored = await versionsOf(store, olderPrefix);
      assert.ok(stored.length >= 3, JSON.stringify(stored));

      // Retention wants the older backup gone: the store keeps it, and prune says so.
      const first = await prune('comp');
      assert.equal(first.code, 0, failure(first));
      const kept = (JSON.parse(first.stdout) as PruneJson).keptByStore;
      assert.deepEqual(
        kept.map((k) => [k.id, k.sealKept, k.lockMode]),
        [[older, true, 'COMPLIANCE']],
      );
      const retainUntil = Date.parse(kept[0].retainUntil!);
      assert.ok(retainUntil > Date.now(), kept[0].retainUntil);

      // The attacker's credential deletes every version by id: each is refused by the lock.
      const attack = await store.deleteObjects(stored.map((v) => ({ key: v.key, versionId: v.versionId })));
      assert.deepEqual(
        attack.map((o) => (o.status === 'kept' ? o.error.kind : o.status)),
        stored.map(() => 'locked'),
      );
      // A delete without a version id is not refused: it adds a delete marker over the seal. The
      // backup is then not authenticated (its seal is out of sight), reported, and never used ...
      const [marker] = await store.deleteObjects([{ key: `${olderPrefix}seal.json.asc` }]);
      assert.equal(marker.status === 'deleted' && marker.deleteMarker, true);
      assert.match((await listed('comp')).get(older) ?? '', /^unsealed: an index without a seal .*hidden behind a delete marker/);
      // ... but no data went: every version is still there, and removing the marker brings it back.
      const withMarker = await versionsOf(store, olderPrefix);
      assert.deepEqual(
        withMarker.filter((v) => !v.deleteMarker).map((v) => v.versionId),
        stored.map((v) => v.versionId),
      );
      const markers = withMarker.filter((v) => v.deleteMarker).map((v) => ({ key: v.key, versionId: v.versionId }));
      assert.deepEqual(
        (await store.deleteObjects(markers)).map((o) => o.status),
        ['deleted'],
      );
      assert.deepEqual(
        await listed('comp'),
        new Map([
          [newer, 'sealed'],
          [older, 'sealed'],
        ]),
      );

      // Once the lock has expired, the next prune deletes every version of the older backup.
      const wait = retainUntil + 1500 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const later = await prune('comp');
      assert.equal(later.code, 0, failure(later));
      const out = JSON.parse(later.stdout) as PruneJson;
      assert.deepEqual([out.deletedBackups, out.keptByStore], [1, []]);
      assert.deepEqual(await versionsOf(store, olderPrefix), []);
      assert.deepEqual(await listed('comp'), new Map([[newer, 'sealed']]));
    });

    it('--s3-object-lock-mode GOVERNANCE --s3-object-lock-retention 1h: every object of the backup is retained', async () => {
      const args = ['--kubeconfig', h.kubeconfig, ...locked.args('bk'), '--cluster-name', CLUSTER, '--lock-namespace', 'secret-steward'];
      const lock = ['--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-retention', '1h'];
      const started = Date.now();

      const { id, run } = await backup('bk', lock, args);

      const store = createObjectStore(locked.settings('bk'));
      const objects = await keysUnder(store, `${CLUSTER}/backups/${id}/`);
      assert.ok(objects.length >= 2);
      for (const key of objects) {
        const status = await store.lockStatus(key);
        assert.equal(status?.lockMode, 'GOVERNANCE', key);
        assert.ok(status?.retainUntil && status.retainUntil.getTime() >= started + 3_600_000 - 1000, key);
      }
      assert.deepEqual(
        run.records.filter((x) => x.level === 'warn'),
        [],
      );
      // Leave nothing held for an hour: remove every version with the governance bypass.
      const versions = [];
      for await (const v of store.listVersions('')) versions.push({ key: v.key, versionId: v.versionId });
      const outcomes = await store.deleteObjects(versions, { bypassGovernanceRetention: true });
      assert.deepEqual(
        outcomes.filter((o) => o.status !== 'deleted'),
        [],
      );
    });
  });
});
