import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { DRILL_LABEL } from '../../shared/verify-restore/drill-objects.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import { backupKeyArgs, readKeyArgs, seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { INSTALLATIONS } from './installations.js';
import { DRILL_NAMESPACE, describePermission, type Permission, permissionsOf, rbacObjectsFor, withoutPermission } from './rbac.js';
import { accessOf, assertSignal, forbidden, type JobRun, permissionKey, RbacE2E, type Signal, usageTable } from './rbac-e2e.js';

/**
 * The verify-restore job's RBAC is exactly sufficient, in the base and with the compare-live
 * overlay: a drill (with the leftovers of an interrupted earlier drill to remove first) passes
 * as verify-restore's ServiceAccount with the rendered rules, and without any single one of
 * them it fails or visibly degrades, in both installations (the namespaced one grants
 * verify-restore what the base does). The backup it drills is taken once, as admin.
 */

const LEFTOVER = 'leftover-of-an-interrupted-drill';

function drillReport(r: JobRun): DrillReport {
  return JSON.parse(r.stdout) as DrillReport;
}

function checkStatus(r: JobRun, name: string): string | undefined {
  return drillReport(r).checks.find((c) => c.name === name)?.status;
}

/** A `then` check: the drill ran and its restorability check failed. */
const restorabilityFailed = (_e: RbacE2E, r: JobRun): void => assert.equal(checkStatus(r, 'restorability'), 'fail');

/** What the run shows without each permission (key: `verb group/resource`). */
const SIGNALS: Record<string, Signal> = {
  'create secrets': {
    code: 1,
    evidence: forbidden('create', `Secret ${DRILL_NAMESPACE}/`),
    says: 'nothing can be restored into the drill namespace: the restorability check fails',
    then: restorabilityFailed,
  },
  'list secrets': {
    code: 1,
    evidence: forbidden('list', `Secrets in namespace ${DRILL_NAMESPACE}`),
    says: 'leftovers of earlier drills cannot be looked for, nor batches read back: the restorability check fails',
    then: restorabilityFailed,
  },
  'deletecollection secrets': {
    code: 1,
    evidence: forbidden('deletecollection', `Secrets in namespace ${DRILL_NAMESPACE}`),
    says: 'leftovers (and restored batches) cannot be removed: a warning asks for deletecollection, the one-by-one fallback is refused too, the restorability check fails',
    then: (e, r) => {
      restorabilityFailed(e, r);
      assert.ok(
        drillReport(r).warnings.some((w) => w.includes("add the verb deletecollection on secrets to the drill's Role")),
        'the report warns that the Role lacks deletecollection',
      );
      assert.ok(e.h.emulator.get('v1', 'Secret', DRILL_NAMESPACE, LEFTOVER), 'the leftover is still there for the next drill');
    },
  },
  'create coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('create', 'Lease secret-steward/secret-steward-verify-restore'),
    says: 'the first drill cannot create its Lease and fails',
  },
  'get coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('get', 'Lease secret-steward/secret-steward-verify-restore'),
    says: 'it cannot read its Lease and fails',
  },
  'update coordination.k8s.io/leases': {
    code: 0,
    evidence:
      /could not release the lock; it expires on its own \(err: failed to replace Lease secret-steward\/secret-steward-verify-restore: 403 Forbidden/,
    says: 'the drill passes but its Lease stays held until it expires',
    then: (e, r) => {
      assert.equal(drillReport(r).result, 'pass');
      const lease = e.h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-verify-restore') as
        | { spec?: { holderIdentity?: string } }
        | undefined;
      assert.equal(lease?.spec?.holderIdentity, 'test-pod');
    },
  },
  'create events': {
    code: 0,
    evidence: /could not record Event \(err: failed to create Event[^)]*: 403 Forbidden/,
    says: 'the drill passes without its DrillPassed Event (a warning says so)',
    then: (e, r) => {
      assert.equal(drillReport(r).result, 'pass');
      assert.deepEqual(e.h.emulator.list('v1', 'Event', 'secret-steward'), []);
    },
  },
};

/** What --compare-live adds (key: `verb group/resource` of the compare-live ClusterRole). */
const COMPARE_LIVE_SIGNALS: Record<string, Signal> = {
  'list secrets': {
    code: 1,
    evidence: /could not compare with the live cluster: failed to list Secrets in all namespaces: 403 Forbidden/,
    says: 'the live Secrets cannot be listed: the drift check fails',
    then: (_e, r) => assert.equal(checkStatus(r, 'drift'), 'fail'),
  },
};

describe('manifests: RBAC end to end: verify-restore', function () {
  this.timeout(120_000);
  const base = rbacObjectsFor('verify-restore');
  const compareLive = rbacObjectsFor('verify-restore', { dir: 'manifests/overlays/compare-live' });
  const basePermissions = permissionsOf(base);
  const compareLivePermissions = permissionsOf(compareLive);
  const isBase = (p: Permission) => basePermissions.some((b) => permissionKey(b) === permissionKey(p));
  const addedByCompareLive = compareLivePermissions.filter((p) => !isBase(p));
  let e: RbacE2E;
  let backupId: string;

  before(async () => {
    e = await RbacE2E.start('verify-restore');
    await e.reset([]);
    await seedDrillSecrets(e.h, ['payments', 'web']);
    backupId = JSON.parse((await e.runAsAdmin(backupCommand, [...backupKeyArgs(e.h), '--output', 'json'])).stdout).backupId;
  });
  after(async () => e?.stop());

  /** Live Secrets to compare with, a leftover of an earlier drill, then the drill as the ServiceAccount. */
  async function scenario(extra: string[] = []): Promise<JobRun> {
    e.h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments' } } as never);
    e.h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'opaque', namespace: 'payments' },
      data: { password: Buffer.from('changed since the backup').toString('base64') },
    } as never);
    e.h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: LEFTOVER, namespace: DRILL_NAMESPACE, labels: { [DRILL_LABEL]: 'd-19700101t000000z-0000' } },
      data: { k: 'dg==' },
    } as never);
    return e.run(verifyRestoreCommand, [
      ...e.args(),
      ...readKeyArgs(e.h),
      '--drill-namespace',
      DRILL_NAMESPACE,
      '--backup-schedule',
      '0 3 * * *',
      '--output',
      'json',
      ...extra,
    ]);
  }

  function assertPassedWithExactRules(r: JobRun, permissions: readonly Permission[], mustBeSole: readonly Permission[]): void {
    assert.equal(r.code, 0, r.text);
    const report = drillReport(r);
    assert.equal(report.result, 'pass');
    assert.equal(report.backup?.id, backupId);
    assert.ok(
      report.warnings.some((w) => w.includes('removed 1 leftover drill object')),
      'the leftover was removed',
    );
    assert.deepEqual(e.h.emulator.list('v1', 'Secret', DRILL_NAMESPACE), [], 'nothing left in the drill namespace');
    const usage = e.usage(permissions);
    console.log(usageTable(permissions, usage));
    assert.deepEqual(usage.denied, [], 'no request was denied');
    assert.deepEqual(usage.foreign, []);
    for (const p of mustBeSole)
      assert.ok(usage.solelyAllowed.get(permissionKey(p))!.length > 0, `${describePermission(p)} allowed no request on its own`);
  }

  // The namespaced installation keeps verify-restore as in the base (it reads no live Secret).
  for (const inst of INSTALLATIONS)
    describe(inst.name === 'cluster-wide' ? 'base' : 'overlays/namespaced', () => {
      const objects = inst.rbacObjectsFor('verify-restore', []);
      const permissions = permissionsOf(objects);

      it('drills the latest backup (restored into the drill namespace, read back, removed) with exactly the rendered rules', async () => {
        await e.reset(objects);

        const r = await scenario();

        assertPassedWithExactRules(r, permissions, permissions);
        assert.equal(checkStatus(r, 'drift'), 'skipped');
        assert.ok(
          (e.h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string }>).some((ev) => ev.reason === 'DrillPassed'),
        );
      });

      it('has an observable signal for exactly the permissions the manifests grant', () => {
        assert.deepEqual(permissions.map(accessOf).sort(), Object.keys(SIGNALS).sort());
      });

      for (const p of permissions) {
        const signal = SIGNALS[accessOf(p)];
        it(`without ${describePermission(p)}: ${signal?.says ?? '(no signal defined)'}`, async () => {
          assert.ok(signal, `no signal for ${accessOf(p)}`);
          await e.reset(withoutPermission(objects, p));

          const r = await scenario();

          await assertSignal(e, r, signal, describePermission(p));
          assert.ok(
            e.usage(permissions).denied.some((d) => accessOf(d) === accessOf(p)),
            'the API server denied that access',
          );
        });
      }
    });

  describe('overlays/compare-live (--compare-live)', () => {
    it('drills and compares with the live Secrets with exactly the rendered rules', async () => {
      await e.reset(compareLive);

      const r = await scenario(['--compare-live']);

      assertPassedWithExactRules(r, compareLivePermissions, addedByCompareLive);
      assert.equal(checkStatus(r, 'drift'), 'pass');
      assert.match(JSON.stringify(drillReport(r).checks.find((c) => c.name === 'drift')?.details), /"changedSince":1/);
    });

    it('adds only permissions that have an observable signal', () => {
      assert.deepEqual(addedByCompareLive.map(accessOf).sort(), Object.keys(COMPARE_LIVE_SIGNALS).sort());
    });

    for (const p of addedByCompareLive) {
      const signal = COMPARE_LIVE_SIGNALS[accessOf(p)];
      it(`without ${describePermission(p)}: ${signal?.says ?? '(no signal defined)'}`, async () => {
        assert.ok(signal, `no signal for ${accessOf(p)}`);
        await e.reset(withoutPermission(compareLive, p));

        const r = await scenario(['--compare-live']);

        await assertSignal(e, r, signal, describePermission(p));
      });
    }
  });
});
