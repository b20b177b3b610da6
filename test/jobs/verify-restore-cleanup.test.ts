import assert from 'node:assert/strict';
import { join } from 'node:path';
import { backupCommand } from '../../jobs/backup.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { Shutdown } from '../../shared/runtime/shutdown.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import {
  backupKeyArgs,
  createDrillNamespace,
  DRILL_NS,
  drillArgs,
  drillObjects,
  readKeyArgs,
  seedDrillSecrets,
  seedMany,
} from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, startHarness } from '../support/job-harness.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const DRILL_SECRETS = new RegExp(`^/api/v1/namespaces/${DRILL_NS}/secrets$`);

/** The drill report a `--output json` run printed, and its restorability check. */
function restorabilityOf(stdout: string) {
  const report = JSON.parse(stdout) as DrillReport;
  return { report, restorability: report.checks.find((c) => c.name === 'restorability')! };
}

describe('jobs/verify-restore (cleanup, RBAC)', function () {
  this.timeout(180_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    createDrillNamespace(h);
  });
  afterEach(async () => h?.stop());

  async function backup(): Promise<void> {
    const r = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h)]);
    assert.equal(r.code, 0, r.stderr);
  }

  const creates = () =>
    h.emulator.requests.entries.filter((e) => e.verb === 'create' && e.resource === 'secrets' && e.namespace === DRILL_NS).length;

  it('on SIGTERM mid-drill: stops (exit 143), deletes every drill object, releases the lock, records an Event', async () => {
    seedMany(h, 60);
    await backup();
    const shutdown = new Shutdown();
    // Slow creates keep a batch in the making in the drill namespace while the shutdown arrives.
    h.emulator.faults.inject({ method: 'POST', path: DRILL_SECRETS, delayMs: 30, times: Infinity });
    let objectsAtShutdown = 0;
    const timer = setInterval(() => {
      if (creates() >= 8 && !shutdown.requested) {
        objectsAtShutdown = drillObjects(h).length;
        shutdown.request('received SIGTERM');
      }
    }, 2);

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--drill-concurrency', '4'], { shutdown });
    clearInterval(timer);

    assert.equal(r.code, 143, r.stdout + r.stderr);
    assert.ok(objectsAtShutdown > 0, 'drill objects existed when the shutdown came');
    assert.ok(creates() < 60, `stopped early (${creates()} creates)`);
    assert.deepEqual(drillObjects(h), []);
    const lease = h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-verify-restore') as {
      spec?: { holderIdentity?: string };
    };
    assert.equal(lease?.spec?.holderIdentity ?? '', '');
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; message?: string }>;
    assert.match(
      events.find((e) => e.reason === 'DrillInterrupted')!.message!,
      /stopped before finishing .*its drill objects were removed/,
    );
  });

  it('when creates start failing halfway (API server 500 after retries): exit 4, restorability "error", nothing left behind', async () => {
    seedMany(h, 30);
    await backup();
    h.emulator.faults.inject({ method: 'POST', path: DRILL_SECRETS, status: 500, after: 10, times: Infinity });

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--api-retry-budget', '2', '--output', 'json']);

    assert.equal(r.code, 4, r.stdout + r.stderr);
    const { report, restorability } = restorabilityOf(r.stdout);
    assert.equal(restorability.status, 'error');
    assert.match(
      restorability.findings[0].message,
      /the API server failed while restoring Secret bulk\/s-\d+ into namespace secret-steward-drill .*500.*the check was stopped/,
    );
    assert.ok(report.counts.secretsRestored >= 10 && report.counts.secretsRestored < 30);
    assert.deepEqual(drillObjects(h), []);
  });

  it('when the API rejects some copies (422): exit 1 naming each Secret, the rest restored, nothing left behind', async () => {
    seedMany(h, 12);
    await backup();
    h.emulator.faults.inject({ method: 'POST', path: DRILL_SECRETS, status: 422, after: 4, times: 2 });

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--drill-concurrency', '1', '--output', 'json']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    const { report, restorability } = restorabilityOf(r.stdout);
    assert.equal(restorability.status, 'fail');
    assert.deepEqual(
      restorability.findings.map((f) => `${f.namespace}/${f.name}`),
      ['bulk/s-00004', 'bulk/s-00005'],
    );
    assert.match(
      restorability.findings[0].message,
      /Secret bulk\/s-00004 could not be restored: failed to create Secret secret-steward-drill\/drill-[a-z0-9]+\.bulk\.s-00004: 422/,
    );
    assert.equal(report.counts.secretsRestored, 10);
    assert.equal(report.namespaces.bulk.problems, 2);
    assert.deepEqual(drillObjects(h), []);
  });

  it('restores a backup larger than one batch: one create per Secret, one list and one deletecollection per batch, never more than two batches in the drill namespace', async () => {
    seedMany(h, 60);
    await backup();
    h.emulator.requests.clear();
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, drillObjects(h).length)), 1);

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--drill-batch-secrets', '25', '--output', 'json']);
    clearInterval(timer);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const { restorability } = restorabilityOf(r.stdout);
    assert.match(
      restorability.summary,
      /^60 Secrets created in namespace secret-steward-drill, read back byte-identical and deleted, in 3 batch\(es\)$/,
    );
    assert.deepEqual(restorability.details?.apiRequests, { create: 60, list: 1 + 3 * 2 + 1, deletecollection: 3, delete: 0 });
    const byVerb: Record<string, number> = {};
    for (const e of h.emulator.requests.entries.filter((x) => x.resource === 'secrets' && x.namespace === DRILL_NS))
      byVerb[e.verb] = (byVerb[e.verb] ?? 0) + 1;
    assert.deepEqual(byVerb, { create: 60, list: 8, deletecollection: 3 });
    assert.ok(most > 0 && most <= 2 * 25, `the drill namespace held ${most} drill objects at most`);
    assert.deepEqual(drillObjects(h), []);
  });

  it('detects a Secret the API server answered 201 for but did not keep: "created but not found on read-back" (exit 1)', async () => {
    seedMany(h, 6);
    await backup();
    // The 4th create is answered 201 Created without anything being stored.
    h.emulator.faults.inject({
      method: 'POST',
      path: DRILL_SECRETS,
      status: 201,
      body: { status: 'Success', message: 'created (not really)' },
      after: 3,
      times: 1,
    });

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--drill-concurrency', '1', '--output', 'json']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    const { report, restorability } = restorabilityOf(r.stdout);
    assert.equal(restorability.status, 'fail');
    assert.deepEqual(
      restorability.findings.map((f) => f.message),
      [
        `Secret bulk/s-00003: its drill copy drill-${report.drillId}.bulk.s-00003 was created but not found on read-back (the API server accepted the create, but does not list the object)`,
      ],
    );
    assert.equal(report.counts.secretsRestored, 5);
    assert.deepEqual(report.namespaces.bulk, { secrets: 6, verified: 6, valid: 6, restored: 5, skipped: 0, problems: 1 });
    assert.deepEqual(drillObjects(h), []);
  });

  it("retries a batch's deletecollection that fails once (500) and passes", async () => {
    seedMany(h, 10);
    await backup();
    const fault = h.emulator.faults.inject({ method: 'DELETE', path: DRILL_SECRETS, status: 500, times: 1 });

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--drill-batch-secrets', '4']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(fault.hits, 1);
    assert.deepEqual(drillObjects(h), []);
  });

  it('when a batch\'s deletecollection keeps failing (500 after retries): exit 4, restorability "error", no batch started after it, the batch removed at the end', async () => {
    seedMany(h, 10);
    await backup();
    h.emulator.faults.inject({ method: 'DELETE', path: DRILL_SECRETS, status: 500, times: 2 }); // both attempts of batch 1

    const r = await h.run(verifyRestoreCommand, [
      ...drillArgs(h),
      '--drill-batch-secrets',
      '4',
      '--api-retry-budget',
      '2',
      '--output',
      'json',
    ]);

    assert.equal(r.code, 4, r.stdout + r.stderr);
    const { report, restorability } = restorabilityOf(r.stdout);
    assert.equal(restorability.status, 'error');
    assert.match(
      restorability.findings[0].message,
      /^the API server failed while deleting batch 1 in namespace secret-steward-drill \(failed to deletecollection Secrets in namespace secret-steward-drill .*500 InternalError\); the check was stopped$/,
    );
    // batch 2 was being created meanwhile: it is still read back and deleted; batch 3 never starts
    assert.equal(report.counts.secretsRestored, 8);
    assert.equal(creates(), 8);
    assert.deepEqual(drillObjects(h), []);
  });

  it('removes leftovers of an earlier, interrupted drill first, and leaves unlabelled Secrets alone', async () => {
    seedMany(h, 3);
    await backup();
    for (let i = 0; i < 3; i++) {
      h.emulator.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `drill-old.bulk.s-${i}`, namespace: DRILL_NS, labels: { 'secret-steward.io/drill': 'old' } },
        data: { v: b64('left over') },
      } as never);
    }
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'not-ours', namespace: DRILL_NS },
      data: { v: b64('keep me') },
    } as never);

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(
      (JSON.parse(r.stdout) as DrillReport).warnings.includes(
        'removed 3 leftover drill object(s) of an earlier, interrupted drill from namespace secret-steward-drill',
      ),
    );
    assert.deepEqual(drillObjects(h), []);
    assert.ok(h.emulator.get('v1', 'Secret', DRILL_NS, 'not-ours'));
  });

  it('fails restorability (exit 1) with a clear message when the drill namespace does not exist', async () => {
    seedMany(h, 3);
    await backup();

    const r = await h.run(verifyRestoreCommand, [...h.baseArgs(), ...readKeyArgs(h), '--drill-namespace', 'no-such-drill-ns']);

    assert.equal(r.code, 1);
    assert.match(r.stdout, /drill namespace no-such-drill-ns does not exist .*create it beforehand \(the drill never creates namespaces/);
    assert.match(r.stdout, /integrity +PASS/);
  });

  it('fails restorability (exit 1) naming the cause, not RBAC, when the drill namespace is being deleted', async () => {
    seedMany(h, 3);
    await backup();
    h.emulator.namespaceDeletionDelayMs = 60_000;
    h.emulator.delete('v1', 'Namespace', undefined, DRILL_NS);

    const r = await h.run(verifyRestoreCommand, drillArgs(h));

    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /drill namespace secret-steward-drill is being deleted \(Terminating\) \(failed to create Secret secret-steward-drill\/.*: 403 Forbidden .*\); recreate it once the deletion is done/,
    );
    assert.doesNotMatch(r.stdout, /check the RBAC rules|Role needs/);
    assert.match(r.stdout, /integrity +PASS/);
  });

  /**
   * The drill's ServiceAccount with `drillVerbs` on Secrets in the drill namespace, plus its Lease
   * and Events in the tool namespace, as the manifests grant; returns the drill's arguments
   * authenticating as it.
   */
  async function asDrillServiceAccount(drillVerbs: string[]): Promise<string[]> {
    await h.emulator.applyObjects([
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'secret-steward-verify-restore', namespace: 'secret-steward' } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'drill', namespace: DRILL_NS },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: drillVerbs }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'drill', namespace: DRILL_NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'drill' },
        subjects: [{ kind: 'ServiceAccount', name: 'secret-steward-verify-restore', namespace: 'secret-steward' }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'tool', namespace: 'secret-steward' },
        rules: [
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
          {
            apiGroups: ['coordination.k8s.io'],
            resources: ['leases'],
            resourceNames: ['secret-steward-verify-restore'],
            verbs: ['get', 'update'],
          },
          { apiGroups: [''], resources: ['events'], verbs: ['create'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'tool', namespace: 'secret-steward' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tool' },
        subjects: [{ kind: 'ServiceAccount', name: 'secret-steward-verify-restore', namespace: 'secret-steward' }],
      },
    ]);
    const kubeconfig = join(h.dir, 'drill.kubeconfig');
    await h.emulator.writeKubeconfig(kubeconfig, {
      token: h.emulator.serviceAccountToken('secret-steward', 'secret-steward-verify-restore'),
    });
    h.emulator.requests.clear();
    return drillArgs(h).map((a) => (a === h.kubeconfig ? kubeconfig : a));
  }

  it('runs with RBAC limited to its drill namespace (plus its Lease and Events), as at a DR site: no Secret read outside it', async () => {
    await seedDrillSecrets(h, ['payments', 'web']);
    await backup();
    const args = await asDrillServiceAccount(['create', 'list', 'deletecollection']);

    const r = await h.run(verifyRestoreCommand, args);
    const withDrift = await h.run(verifyRestoreCommand, [...args, '--compare-live', '--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level !== 'info')));
    const secretRequests = h.emulator.requests.entries.filter(
      (e) => e.resource === 'secrets' && e.user.includes('secret-steward-verify-restore'),
    );
    assert.ok(secretRequests.length > 0);
    const outside = secretRequests.filter((e) => e.namespace !== DRILL_NS && !e.fault && e.status !== 403);
    assert.deepEqual(
      outside.map((e) => `${e.verb} ${e.namespace || '(all namespaces)'}`),
      [],
    );
    assert.ok(
      h.emulator.requests.entries.every((e) => e.status !== 403 || e.resource === 'secrets'),
      'only --compare-live was refused',
    );
    assert.deepEqual(drillObjects(h), []);
    // --compare-live needs more than the drill Role: a clear failure of that check alone.
    assert.equal(withDrift.code, 1);
    const drift = (JSON.parse(withDrift.stdout) as DrillReport).checks.find((c) => c.name === 'drift')!;
    assert.equal(drift.status, 'fail');
    assert.match(drift.findings[0].message, /403 Forbidden.*--compare-live needs list on Secrets in the backed-up namespaces/);
  });

  it('with a drill Role from before deletecollection (create, get, list, delete): passes, deleting copies one by one, and warns that the Role should gain it', async () => {
    seedMany(h, 12);
    await backup();
    const args = await asDrillServiceAccount(['create', 'get', 'list', 'delete']);

    const r = await h.run(verifyRestoreCommand, [...args, '--drill-batch-secrets', '5', '--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as DrillReport;
    assert.equal(report.counts.secretsRestored, 12);
    assert.equal(report.warnings.length, 1, report.warnings.join('\n'));
    assert.match(
      report.warnings[0],
      /^deletecollection of Secrets in drill namespace secret-steward-drill was refused \(failed to deletecollection Secrets in namespace secret-steward-drill .*403 Forbidden.*\); drill objects are deleted one by one instead, one more API request per Secret: add the verb deletecollection on secrets to the drill's Role in that namespace$/,
    );
    const drill = h.emulator.requests.entries.filter((e) => e.resource === 'secrets' && e.namespace === DRILL_NS);
    assert.equal(drill.filter((e) => e.verb === 'deletecollection').length, 1, 'refused once, not asked again');
    assert.equal(drill.filter((e) => e.verb === 'delete' && e.status === 200).length, 12);
    assert.deepEqual(drillObjects(h), []);
  });
});
