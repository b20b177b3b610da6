import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { restoreCommand } from '../../jobs/restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { secretDataDigest } from '../../shared/backup/secret-digest.js';
import { createObjectStore } from '../../shared/storage/index.js';
import { backupKeyArgs, preRestoreKeyArgs, readKeyArgs, seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { requireDependency } from '../support/dependencies.js';
import { type Harness, startHarness } from '../support/job-harness.js';
import { hasPushgateway, PUSHGATEWAY_INSTALL, startPushgateway } from '../support/pushgateway.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

interface SecretView {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    resourceVersion?: string;
  };
  type?: string;
  immutable?: boolean;
  data?: Record<string, string>;
}

function secret(h: Harness, ns: string, name: string): SecretView | undefined {
  return h.emulator.get('v1', 'Secret', ns, name) as unknown as SecretView | undefined;
}

function bytesOf(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('hex')]));
}

describe('jobs/restore', function () {
  this.timeout(180_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => h?.stop());

  const restoreArgs = () => [...h.baseArgs(), ...readKeyArgs(h)];

  async function backup(): Promise<string> {
    const r = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '--output', 'json']);
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    return JSON.parse(r.stdout).backupId as string;
  }

  function writes(): Array<{ verb: string; namespace: string; name: string; dryRun: boolean; resource: string }> {
    return h.emulator.requests.entries.filter(
      (e) => !['get', 'list', 'watch'].includes(e.verb) && e.resource !== 'leases' && e.resource !== 'events',
    );
  }

  it('DR: namespaces deleted, restored with --create-namespaces, every Secret byte-identical (type, immutability, labels, data)', async () => {
    const expected = await seedDrillSecrets(h, ['payments', 'web']);
    const before = new Map([...expected.keys()].map((k) => [k, secret(h, k.split('/')[0], k.split('/')[1])!]));
    await backup();
    h.emulator.delete('v1', 'Namespace', undefined, 'payments');
    h.emulator.delete('v1', 'Namespace', undefined, 'web');
    assert.equal(secret(h, 'payments', 'opaque'), undefined);

    const r = await h.run(restoreCommand, [...restoreArgs(), '--create-namespaces', '--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    const report = JSON.parse(r.stdout);
    assert.equal(report.counts.create, expected.size);
    assert.equal(report.counts.written, expected.size);
    assert.deepEqual(report.namespacesCreated, ['payments', 'web']);
    for (const data of expected.values()) {
      const digest = secretDataDigest(data);
      assert.ok(!r.stdout.includes(digest) && !r.logs.lines.some((l) => l.includes(digest)), 'an unkeyed digest of Secret data is printed');
    }
    for (const [key, data] of expected) {
      const [ns, name] = key.split('/');
      const got = secret(h, ns, name);
      assert.ok(got, `${key} restored`);
      assert.deepEqual(bytesOf(got.data), bytesOf(data), `${key} data byte-identical`);
      const was = before.get(key)!;
      assert.equal(got.type, was.type, `${key} type`);
      assert.equal(got.immutable ?? false, was.immutable ?? false, `${key} immutable`);
      assert.deepEqual(got.metadata.labels ?? {}, was.metadata.labels ?? {}, `${key} labels`);
    }
    assert.equal(secret(h, 'payments', 'sa-token'), undefined, 'service-account tokens are never restored');
    assert.ok(secret(h, 'payments', 'owned')!.metadata.annotations!['secret-steward.io/backup-owner-references']);
    assert.equal(secret(h, 'payments', 'owned')!.metadata.ownerReferences, undefined, 'no dangling ownerReferences');
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string }>;
    assert.ok(events.some((e) => e.reason === 'RestoreCompleted'));
  });

  it('refuses (exit 2, nothing written) when target namespaces are missing and --create-namespaces is not given', async () => {
    await seedDrillSecrets(h, ['payments']);
    await backup();
    h.emulator.delete('v1', 'Namespace', undefined, 'payments');
    h.emulator.requests.clear();

    const r = await h.run(restoreCommand, restoreArgs());

    assert.equal(r.code, 2);
    assert.match(r.stderr, /target namespace payments does not exist; .*--create-namespaces\. Nothing was written/);
    assert.deepEqual(writes(), []);
  });

  it('refuses (exit 1, nothing written) a target namespace that is being deleted, naming it', async () => {
    await seedDrillSecrets(h, ['payments']);
    await backup();
    h.emulator.namespaceDeletionDelayMs = 60_000;
    h.emulator.delete('v1', 'Namespace', undefined, 'payments');
    h.emulator.requests.clear();

    const r = await h.run(restoreCommand, [...restoreArgs(), '--create-namespaces']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      JSON.stringify(r.records),
      /target namespace payments is being deleted \(Terminating\).*--map-namespace payments=TO\. Nothing was written/,
    );
    assert.deepEqual(writes(), []);
  });

  it('--dry-run with --create-namespaces plans the namespace and its Secrets without creating anything', async () => {
    await seedDrillSecrets(h, ['payments']);
    await backup();
    h.emulator.delete('v1', 'Namespace', undefined, 'payments');
    h.emulator.requests.clear();

    const r = await h.run(restoreCommand, [...restoreArgs(), '--create-namespaces', '--dry-run']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /create +payments\/opaque +payments\/opaque +would +namespace payments would be created first/);
    assert.deepEqual(
      writes().map((w) => `${w.verb} ${w.resource} dryRun=${w.dryRun}`),
      ['create namespaces dryRun=true'],
    );
    assert.equal(h.emulator.get('v1', 'Namespace', undefined, 'payments'), undefined);
  });

  it('restores into mapped namespaces, leaving the originals alone', async () => {
    const expected = await seedDrillSecrets(h, ['payments', 'web']);
    await backup();
    h.emulator.patch('v1', 'Secret', 'payments', 'opaque', 'application/merge-patch+json', { data: { password: b64('changed-live') } });

    const r = await h.run(restoreCommand, [
      ...restoreArgs(),
      '--namespace',
      'payments',
      '--map-namespace',
      'payments=payments-copy',
      '--create-namespaces',
    ]);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const [key, data] of expected) {
      const [ns, name] = key.split('/');
      if (ns !== 'payments') continue;
      assert.deepEqual(bytesOf(secret(h, 'payments-copy', name)?.data), bytesOf(data), `payments-copy/${name}`);
    }
    assert.equal(
      h.emulator.list('v1', 'Secret', 'payments-copy').length,
      [...expected.keys()].filter((k) => k.startsWith('payments/')).length,
    );
    assert.equal(Buffer.from(secret(h, 'payments', 'opaque')!.data!.password, 'base64').toString(), 'changed-live');
    assert.match(r.stdout, /create +payments\/opaque +payments-copy\/opaque +done/);
  });

  it('pushes its metrics to a real Pushgateway: Secrets by result, success and when it ran', async function () {
    requireDependency(this, 'prometheus-pushgateway', hasPushgateway(), PUSHGATEWAY_INSTALL);
    const gw = await startPushgateway();
    try {
      const expected = await seedDrillSecrets(h, ['payments']);
      await backup();
      h.emulator.delete('v1', 'Secret', 'payments', 'opaque');

      const r = await h.run(restoreCommand, [...restoreArgs(), '--namespace', 'payments', '--pushgateway', gw.url]);

      assert.equal(r.code, 0, r.stdout + r.stderr);
      const text = await gw.metrics();
      const value = (name: string, labels = '') =>
        Number(
          new RegExp(`^${name}\\{cluster="test-cluster",instance="",job="secret-steward-restore"${labels}\\} (\\S+)$`, 'm').exec(text)?.[1],
        );
      assert.equal(value('secret_steward_restore_success'), 1);
      assert.equal(value('secret_steward_restore_secrets', ',result="created"'), 1);
      assert.equal(value('secret_steward_restore_secrets', ',result="unchanged"'), expected.size - 1);
      assert.equal(value('secret_steward_restore_secrets', ',result="failed"'), 0);
      assert.ok(value('secret_steward_restore_last_success_timestamp_seconds') > 1_700_000_000);
      assert.equal(
        value('secret_steward_restore_last_run_timestamp_seconds'),
        value('secret_steward_restore_last_success_timestamp_seconds'),
      );
    } finally {
      await gw.stop();
    }
  });

  it('create-missing vs overwrite vs dry-run, and an overwrite undone from its pre-restore backup', async () => {
    const expected = await seedDrillSecrets(h, ['payments']);
    const backupId = await backup();
    // Drift after the backup: one changed, one deleted, the immutable one replaced with other data.
    h.emulator.patch('v1', 'Secret', 'payments', 'opaque', 'application/merge-patch+json', {
      data: { password: b64('changed-after-backup') },
    });
    h.emulator.delete('v1', 'Secret', 'payments', 'basic');
    h.emulator.delete('v1', 'Secret', 'payments', 'immutable');
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'immutable', namespace: 'payments' },
      immutable: true,
      data: { k: b64('other-frozen') },
    } as never);
    const changedOpaque = secret(h, 'payments', 'opaque')!.data!;

    // Dry run, create-missing: the plan, every write with dryRun=All, nothing persisted.
    h.emulator.requests.clear();
    const dry = await h.run(restoreCommand, [...restoreArgs(), '--dry-run']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /Dry run/);
    assert.match(dry.stdout, /create +payments\/basic +payments\/basic +would/);
    assert.match(
      dry.stdout,
      /skip +payments\/opaque +payments\/opaque +skipped +exists \(--mode create-missing never touches an existing Secret\)/,
    );
    assert.match(dry.stdout, /unchanged +payments\/tls/);
    assert.ok(writes().length > 0 && writes().every((w) => w.dryRun), JSON.stringify(writes()));
    assert.equal(secret(h, 'payments', 'basic'), undefined);

    // create-missing: only the deleted one comes back.
    const missing = await h.run(restoreCommand, restoreArgs());
    assert.equal(missing.code, 0, missing.stdout + missing.stderr);
    assert.deepEqual(bytesOf(secret(h, 'payments', 'basic')!.data), bytesOf(expected.get('payments/basic')));
    assert.deepEqual(secret(h, 'payments', 'opaque')!.data, changedOpaque);

    // Dry run, overwrite: says what would be overwritten; no pre-restore backup, nothing changed.
    const dryOverwrite = await h.run(restoreCommand, [...restoreArgs(), '--mode', 'overwrite', '--dry-run']);
    assert.equal(dryOverwrite.code, 0, dryOverwrite.stdout + dryOverwrite.stderr);
    assert.match(dryOverwrite.stdout, /overwrite +payments\/opaque +payments\/opaque +would/);
    assert.match(dryOverwrite.stdout, /skip +payments\/immutable .*--recreate-immutable/);
    assert.match(dryOverwrite.stdout, /A pre-restore backup of the 1 Secret\(s\) to be overwritten would be taken first/);
    assert.deepEqual(secret(h, 'payments', 'opaque')!.data, changedOpaque);

    // overwrite: opaque goes back to the backup, the immutable one is skipped, the live versions are saved first.
    const over = await h.run(restoreCommand, [
      ...restoreArgs(),
      '--backup',
      backupId,
      '--mode',
      'overwrite',
      ...preRestoreKeyArgs(h),
      '--output',
      'json',
    ]);
    assert.equal(over.code, 0, over.stdout + over.stderr);
    const report = JSON.parse(over.stdout);
    assert.equal(report.counts.overwrite, 1);
    assert.deepEqual(bytesOf(secret(h, 'payments', 'opaque')!.data), bytesOf(expected.get('payments/opaque')));
    assert.equal(Buffer.from(secret(h, 'payments', 'immutable')!.data!.k, 'base64').toString(), 'other-frozen');
    const preRestore = report.preRestoreBackupId as string;
    assert.ok(preRestore);
    const listed = await h.run(listBackupsCommand, [
      ...h.s3.args('bk'),
      '--cluster-name',
      'test-cluster',
      '--trusted-signer-key',
      h.signer.publicKey,
      '--pre-restore-signer-key',
      h.preRestoreSigner.publicKey,
      '--output',
      'json',
    ]);
    assert.equal(listed.code, 0, listed.stderr + JSON.stringify(listed.records));
    assert.equal(JSON.parse(listed.stdout).backups.find((b: { id: string }) => b.id === preRestore).kind, 'pre-restore');

    // "latest" never means a pre-restore backup.
    const latest = await h.run(restoreCommand, [...restoreArgs(), '--dry-run', '--output', 'json']);
    assert.equal(JSON.parse(latest.stdout).backupId, backupId);

    // Undo: restore the pre-restore backup, and the changed value is back byte for byte.
    const undo = await h.run(restoreCommand, [...restoreArgs(), '--backup', preRestore, '--mode', 'overwrite', ...preRestoreKeyArgs(h)]);
    assert.equal(undo.code, 0, undo.stdout + undo.stderr);
    assert.deepEqual(secret(h, 'payments', 'opaque')!.data, changedOpaque);

    // --recreate-immutable replaces the immutable one by delete + create.
    const recreate = await h.run(restoreCommand, [
      ...restoreArgs(),
      '--backup',
      backupId,
      '--name',
      'payments/immutable',
      '--mode',
      'overwrite',
      '--recreate-immutable',
      ...preRestoreKeyArgs(h),
    ]);
    assert.equal(recreate.code, 0, recreate.stdout + recreate.stderr);
    assert.match(recreate.stdout, /recreate +payments\/immutable +payments\/immutable +done/);
    assert.equal(Buffer.from(secret(h, 'payments', 'immutable')!.data!.k, 'base64').toString(), 'frozen-value-0f3c');
    assert.equal(secret(h, 'payments', 'immutable')!.immutable, true);
  });

  it('takes kubectl-style -n, -l and -o: a dry run of one namespace by label', async () => {
    await seedDrillSecrets(h, ['payments', 'web']);
    await backup();
    h.emulator.requests.clear();

    const r = await h.run(restoreCommand, [...restoreArgs(), '-n', 'payments', '-l=app in (x)', '-o', 'json', '--dry-run']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).items.map((i: { source: { namespace: string; name: string } }) => `${i.source.namespace}/${i.source.name}`),
      ['payments/opaque'],
    );
    assert.ok(
      writes().every((w) => w.dryRun),
      JSON.stringify(writes()),
    );
  });

  it('filters by --name and --selector, and refuses (exit 1, nothing written) a --name that is not in the backup', async () => {
    await seedDrillSecrets(h, ['payments', 'web']);
    await backup();
    for (const ns of ['payments', 'web']) h.emulator.delete('v1', 'Namespace', undefined, ns);

    const byName = await h.run(restoreCommand, [
      ...restoreArgs(),
      '--name',
      'web/basic',
      '--name',
      'tls',
      '--namespace',
      'payments',
      '--create-namespaces',
      '--output',
      'json',
    ]);
    const bySelector = await h.run(restoreCommand, [
      ...restoreArgs(),
      '--selector',
      'app in (x)',
      '--create-namespaces',
      '--output',
      'json',
    ]);
    h.emulator.requests.clear();
    const unknown = await h.run(restoreCommand, [...restoreArgs(), '--name', 'payments/nope']);

    assert.equal(byName.code, 0, byName.stdout + byName.stderr);
    assert.deepEqual(
      JSON.parse(byName.stdout)
        .items.map((i: { source: { namespace: string; name: string } }) => `${i.source.namespace}/${i.source.name}`)
        .sort(),
      ['payments/tls', 'web/basic'],
    );
    assert.equal(bySelector.code, 0, bySelector.stdout + bySelector.stderr);
    assert.deepEqual(
      JSON.parse(bySelector.stdout)
        .items.map((i: { source: { namespace: string; name: string } }) => `${i.source.namespace}/${i.source.name}`)
        .sort(),
      ['payments/opaque', 'web/opaque'],
    );
    assert.equal(unknown.code, 1);
    assert.match(JSON.stringify(unknown.records), /not in backup .*: payments\/nope; nothing was written/);
    assert.deepEqual(writes(), []);
  });

  it('writes nothing from a backup that fails verification (exit 1, the specific reason)', async () => {
    await seedDrillSecrets(h, ['payments']);
    const id = await backup();
    const store = createObjectStore(h.s3.settings('bk'));
    const key = new BackupLayout('test-cluster').segmentKey(id, 1, 'gzip');
    const bytes = await store.getBytes(key, 64 * 1024 * 1024);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await store.put(key, bytes);
    h.emulator.delete('v1', 'Namespace', undefined, 'payments');
    h.emulator.requests.clear();

    const r = await h.run(restoreCommand, [...restoreArgs(), '--create-namespaces']);

    assert.equal(r.code, 1);
    assert.match(JSON.stringify(r.records), /segment-00001\.json\.gz\.pgp of backup .* is damaged: it has the recorded size/);
    assert.deepEqual(writes(), []);
    assert.equal(h.emulator.get('v1', 'Namespace', undefined, 'payments'), undefined);
  });

  it('rejects inconsistent options with every problem at once (exit 2)', async () => {
    const r = await h.run(restoreCommand, [
      ...restoreArgs(),
      '--mode',
      'overwrite',
      '--name',
      'bare',
      '--map-namespace',
      'a=b',
      '--map-namespace',
      'a=c',
      '--map-namespace',
      'bad',
      '--selector',
      'a in (',
      '--restore-spool-limit',
      '1.5Gi',
    ]);

    assert.equal(r.code, 2);
    assert.match(r.stderr, /--map-namespace.*FROM=TO/);
    assert.match(r.stderr, /--selector.*label selector/);
    assert.match(r.stderr, /--restore-spool-limit.*a size in bytes such as 1536Mi/);
  });

  it('requires --recipient-key for overwrite, --namespace for a bare --name, and rejects a mapping merging namespaces', async () => {
    const r = await h.run(restoreCommand, [
      ...restoreArgs(),
      '--mode',
      'overwrite',
      '--name',
      'bare',
      '--map-namespace',
      'a=c',
      '--map-namespace',
      'b=c',
      '--recreate-immutable',
    ]);

    assert.equal(r.code, 2);
    assert.match(r.stderr, /--recipient-key.*is required with --mode overwrite/);
    assert.match(r.stderr, /"bare" has no namespace/);
    assert.match(r.stderr, /several namespaces are mapped into c/);
  });
});
