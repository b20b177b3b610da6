import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { restoreCommand } from '../../jobs/restore.js';
import type { RestoreReport } from '../../shared/restore/run-restore.js';
import { backupKeyArgs, preRestoreKeyArgs, readKeyArgs, seedDrillSecrets, seedMany } from '../shared/verify-restore/drill-fixtures.js';
import { INSTALLATIONS, type Installation } from './installations.js';
import { permissionsOf } from './rbac.js';
import { assertEachRuleUsed, forbidden, itShowsEachMissingPermission, type JobRun, RbacE2E, type Signal, usageTable } from './rbac-e2e.js';

/**
 * The restore job's RBAC is exactly sufficient. The backup (taken once, as admin) holds
 * namespaces payments and web (every common Secret type) and bulk (25 Secrets, more than
 * restore reads one by one, so it lists that namespace). Before each run the cluster has lost
 * namespace web, payments has one Secret changed and its immutable one replaced, bulk has 5 of
 * its 25. One restore, as restore's ServiceAccount with the rendered rules, with
 * `--mode overwrite --recreate-immutable --create-namespaces`, recreates web, creates every
 * missing Secret, overwrites the changed one and deletes and recreates the immutable one,
 * after saving both in a pre-restore backup. Without any single permission that restore fails
 * or visibly degrades. Further tests run create-missing and the undo under the same rules.
 *
 * The namespaced installation runs the same restores in its scope (payments, web, bulk), where
 * the lost namespace cannot be recreated (no cluster-wide right, and its RoleBinding would have
 * gone with it): there web exists and has lost its Secrets, and no namespace is created.
 */

const NAMESPACES = ['payments', 'web', 'bulk'];

const b64 = (s: string) => Buffer.from(s).toString('base64');

function restoreReport(r: JobRun): RestoreReport {
  return JSON.parse(r.stdout) as RestoreReport;
}

/** A `then` check: the restore reports Secrets it could not write, with the 403 as reason. */
const itemsFailed =
  (verbText: string) =>
  (_e: RbacE2E, r: JobRun): void => {
    const failed = restoreReport(r).items.filter((i) => i.outcome === 'failed');
    assert.ok(failed.length > 0, 'some Secret failed');
    assert.ok(
      failed.every((i) => new RegExp(`failed to ${verbText} .*403 Forbidden`).test(i.message ?? '')),
      JSON.stringify(failed.map((i) => i.message)),
    );
  };

/** A `then` check: no Secret was written (the restore stopped before its write stage). */
const nothingWritten = (e: RbacE2E): void =>
  assert.deepEqual(
    e.h.emulator.requests
      .filter((x) => x.resource === 'secrets' && ['create', 'update', 'patch', 'delete'].includes(x.verb))
      .map((x) => `${x.verb} ${x.namespace}/${x.name}`),
    [],
  );

/** What the run shows without each permission (key: `verb group/resource`). */
const SIGNALS: Record<string, Signal> = {
  'get secrets': {
    code: 1,
    evidence: forbidden('get', 'Secret payments/'),
    says: 'the live Secrets cannot be compared with the backup: nothing is written',
    then: nothingWritten,
  },
  'list secrets': {
    code: 1,
    evidence: forbidden('list', 'Secrets in namespace bulk'),
    says: 'a namespace with many Secrets to restore cannot be read: nothing is written',
    then: nothingWritten,
  },
  'create secrets': {
    code: 1,
    evidence: forbidden('create', 'Secret '),
    says: 'missing Secrets cannot be created: each is reported failed, and the immutable one is left in place (a dry-run create is refused before anything is deleted)',
    then: (e, r) => {
      itemsFailed('create')(e, r);
      assert.match(
        restoreReport(r).items.find((i) => i.target.name === 'immutable' && i.target.namespace === 'payments')?.message ?? '',
        /not recreated: the API server would refuse to create it again .*403 Forbidden.*left as it was/,
      );
      assert.ok(e.h.emulator.get('v1', 'Secret', 'payments', 'immutable'), 'the immutable Secret must not have been deleted');
    },
  },
  'update secrets': {
    code: 1,
    evidence: forbidden('replace', 'Secret payments/opaque'),
    says: 'the changed Secret cannot be overwritten: reported failed',
    then: itemsFailed('replace'),
  },
  'delete secrets': {
    code: 1,
    evidence: forbidden('delete', 'Secret payments/immutable'),
    says: 'the immutable Secret cannot be replaced: reported failed',
    then: itemsFailed('delete'),
  },
  'get namespaces': {
    code: 1,
    evidence: forbidden('get', 'Namespace '),
    says: 'it cannot check that the target namespaces exist: nothing is written',
    then: nothingWritten,
  },
  'create namespaces': {
    code: 1,
    evidence: forbidden('create', 'Namespace web'),
    says: 'the lost namespace cannot be recreated: the restore stops before writing any Secret',
    then: nothingWritten,
  },
  'create events': {
    code: 0,
    evidence: /could not record Event \(err: failed to create Event[^)]*: 403 Forbidden/,
    says: 'the restore completes without its RestoreCompleted Event (a warning says so)',
    then: (e, r) => {
      assert.equal(restoreReport(r).counts.failed, 0);
      assert.deepEqual(e.h.emulator.list('v1', 'Event', 'secret-steward'), []);
    },
  },
  'create coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('create', 'Lease secret-steward/secret-steward-restore'),
    says: 'it cannot create its Lease and fails',
  },
  'get coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('get', 'Lease secret-steward/secret-steward-restore'),
    says: 'it cannot read its Lease and fails',
  },
  'update coordination.k8s.io/leases': {
    code: 0,
    evidence:
      /could not release the lock; it expires on its own \(err: failed to replace Lease secret-steward\/secret-steward-restore: 403 Forbidden/,
    says: 'the restore completes but its Lease stays held until it expires',
    then: (e) => {
      const lease = e.h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-restore') as
        | { spec?: { holderIdentity?: string } }
        | undefined;
      assert.equal(lease?.spec?.holderIdentity, 'test-pod');
    },
  },
};

/** The signals in `inst`: namespaced, no namespace is created, and the cluster's identity has its own rule. */
function signalsFor(inst: Installation): Record<string, Signal> {
  if (inst.name === 'cluster-wide') return SIGNALS;
  const { 'create namespaces': _, ...rest } = SIGNALS;
  return {
    ...rest,
    'get namespaces': { ...SIGNALS['get namespaces'], says: 'it cannot check that a target namespace exists: nothing is written' },
    'get namespaces [kube-system]': {
      code: 1,
      evidence: /failed to get Namespace kube-system \(its UID binds backups to this cluster\): 403 Forbidden/,
      says: 'it cannot read the cluster identity the pre-restore backup is sealed with: nothing is written',
      then: nothingWritten,
    },
  };
}

for (const inst of INSTALLATIONS)
  describe(`manifests: RBAC end to end: restore (${inst.name})`, function () {
    this.timeout(120_000);
    const objects = inst.rbacObjectsFor('restore', NAMESPACES);
    const permissions = permissionsOf(objects);
    const namespaced = inst.name === 'namespaced';
    /** Cluster-wide, the lost namespace is recreated; namespaced, it is still there (empty). */
    const createNamespaces = namespaced ? [] : ['--create-namespaces'];
    let e: RbacE2E;
    let backupId: string;
    let backedUp: Map<string, Record<string, string>>;

    before(async () => {
      e = await RbacE2E.start('restore');
      await e.reset([]);
      backedUp = await seedDrillSecrets(e.h, ['payments', 'web']);
      seedMany(e.h, 25, 'bulk');
      backupId = JSON.parse((await e.runAsAdmin(backupCommand, [...backupKeyArgs(e.h), '--output', 'json'])).stdout).backupId;
    });
    after(async () => e?.stop());

    const secretData = (ns: string, name: string) =>
      (e.h.emulator.get('v1', 'Secret', ns, name) as { data?: Record<string, string> } | undefined)?.data;

    /** The cluster after the incident: web lost, payments drifted, bulk mostly gone. */
    function seedIncident(): void {
      const create = (o: Record<string, unknown>) => e.h.emulator.create(o as never);
      e.ensureNamespace('payments');
      create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'opaque', namespace: 'payments' },
        data: { password: b64('changed-after-the-backup') },
      });
      create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'immutable', namespace: 'payments' },
        immutable: true,
        data: { k: b64('other-frozen') },
      });
      e.ensureNamespace('bulk');
      for (let i = 0; i < 5; i++)
        create({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `s-${String(i).padStart(5, '0')}`, namespace: 'bulk' },
          data: { v: b64(`value-${i}-of-bulk`) },
        });
    }

    const restoreArgs = () => [...e.args(), ...inst.args(NAMESPACES), ...readKeyArgs(e.h), '--output', 'json'];
    const undoKeys = () => preRestoreKeyArgs(e.h);

    async function scenario(): Promise<JobRun> {
      seedIncident();
      return e.run(restoreCommand, [...restoreArgs(), '--mode', 'overwrite', '--recreate-immutable', ...createNamespaces, ...undoKeys()]);
    }

    it('restores everything (namespace recreated, missing created, changed overwritten, immutable recreated) with exactly the rendered rules', async () => {
      await e.reset(objects);

      const r = await scenario();

      assert.equal(r.code, 0, r.text);
      const report = restoreReport(r);
      assert.equal(report.backupId, backupId);
      assert.deepEqual(report.namespacesCreated, namespaced ? [] : ['web']);
      assert.equal(report.counts.overwrite, 1);
      assert.equal(report.counts.recreate, 1);
      assert.equal(report.counts.unchanged, 5);
      assert.equal(report.counts.failed, 0);
      assert.ok(report.preRestoreBackupId, 'the overwritten Secrets were saved first');
      for (const [key, data] of backedUp) {
        const [ns, name] = key.split('/');
        assert.deepEqual(secretData(ns, name) ?? {}, data, key);
      }
      assert.equal(e.h.emulator.list('v1', 'Secret', 'bulk').length, 25);
      const usage = e.usage(permissions);
      console.log(usageTable(permissions, usage));
      assert.deepEqual(usage.denied, [], 'no request was denied');
      assert.deepEqual(usage.foreign, []);
      assertEachRuleUsed(permissions, usage);
    });

    it('restores create-missing (existing Secrets left alone), then undoes an overwrite from its pre-restore backup, with exactly the rendered rules', async () => {
      await e.reset(objects);
      seedIncident();

      const missing = await e.run(restoreCommand, [...restoreArgs(), ...createNamespaces]);

      assert.equal(missing.code, 0, missing.text);
      assert.equal(
        Buffer.from(secretData('payments', 'opaque')!.password, 'base64').toString(),
        'changed-after-the-backup',
        'create-missing never touches an existing Secret',
      );
      assert.deepEqual(secretData('web', 'opaque'), backedUp.get('web/opaque'));

      const overwrite = await e.run(restoreCommand, [...restoreArgs(), '--mode', 'overwrite', '--name', 'payments/opaque', ...undoKeys()]);
      const preRestore = restoreReport(overwrite).preRestoreBackupId!;
      const undo = await e.run(restoreCommand, [...restoreArgs(), '--backup', preRestore, '--mode', 'overwrite', ...undoKeys()]);

      assert.equal(overwrite.code, 0, overwrite.text);
      assert.equal(undo.code, 0, undo.text);
      assert.equal(Buffer.from(secretData('payments', 'opaque')!.password, 'base64').toString(), 'changed-after-the-backup', 'undone');
      assert.deepEqual(e.usage(permissions).denied, [], 'no request was denied');
    });

    itShowsEachMissingPermission({ objects, permissions, signals: signalsFor(inst), e: () => e, scenario });
  });
