import assert from 'node:assert/strict';
import { rotateCommand } from '../../jobs/rotate.js';
import type { RotationReport } from '../../shared/rotate/report.js';
import { withoutPermission } from './rbac.js';
import { accessOf, createDueSecret, type JobRun, type RbacE2E, rotateWithComponent } from './rbac-e2e.js';

/**
 * components/statefulset-forced-rollback, end to end: rotate runs as its ServiceAccount with
 * exactly the rules of manifests/overlays/statefulset-forced-rollback (the base's plus the
 * component's list and delete on pods) and every admission policy of that rendering enforced.
 * A rotation whose StatefulSet consumer gets a pod that never becomes ready is rolled back; the
 * OrderedReady StatefulSet then stays stuck on that pod (upstream "forced rollback",
 * kubernetes/kubernetes#67250, test/emulator/statefulsets.test.ts) until rotate deletes it. Without
 * either of the component's permissions the run cannot, and says which pod to delete. The
 * component's admission policy refuses rotate's deletes of any other pod. Cluster-wide
 * installation only (the component's ClusterRoleBinding); see its rbac.yaml for the namespaced one.
 */

const OVERLAY = 'manifests/overlays/statefulset-forced-rollback';
const POLICY = 'maxAge: 30d\nkeys: { password: { generator: password, length: 24 } }\nrollout: { waitReady: 1s, forceRollback: true }';

function report(r: JobRun): RotationReport {
  return JSON.parse(r.stdout) as RotationReport;
}

describe('manifests: RBAC end to end: rotate with components/statefulset-forced-rollback', function () {
  this.timeout(120_000);
  let e: RbacE2E;
  const { objects, permissions, componentRule, reset } = rotateWithComponent(
    { overlay: OVERLAY, role: 'secret-steward-rotate-forced-rollback', resource: 'pods' },
    (x) => {
      e = x;
    },
  );

  /** Namespace shop: Secret db (forceRollback) used by StatefulSet ledger, whose next pods never become ready. */
  async function seed(): Promise<void> {
    const emu = e.h.emulator;
    emu.workloads.setFailing('StatefulSet', 'shop', 'ledger', false); // left by the previous test
    createDueSecret(e, POLICY);
    emu.create({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'ledger', namespace: 'shop' },
      spec: {
        replicas: 2,
        serviceName: 'ledger',
        selector: { matchLabels: { app: 'ledger' } },
        template: {
          metadata: { labels: { app: 'ledger' } },
          spec: {
            containers: [
              {
                name: 'app',
                image: 'registry.example/app:1.0',
                env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
              },
            ],
          },
        },
      },
    } as never);
    await emu.workloads.idle();
    emu.workloads.setFailing('StatefulSet', 'shop', 'ledger', true);
  }

  const run = () => e.run(rotateCommand, [...e.kubeArgs(), '--rollout-poll-interval', '50ms', '--output', 'json']);
  const podDeletes = () => e.decisions().filter((d) => d.verb === 'delete' && d.resource === 'pods');

  it('deletes the broken pod of the StatefulSet it rolled back, with exactly the rendered rules and policies', async () => {
    await reset(objects);
    await seed();

    const r = await run();

    assert.equal(r.code, 1, r.text);
    assert.deepEqual(
      report(r).secrets.map((s) => `${s.name}: ${s.action}`),
      ['db: rolled-back'],
    );
    assert.deepEqual(
      podDeletes().map((d) => `${d.namespace}/${d.name}: ${d.allowed}`),
      ['shop/ledger-1: true'],
    );
    assert.equal(
      e.h.emulator.requests.count((x) => x.verb === 'delete' && x.resource === 'pods' && x.status === 200),
      1,
      'admitted by the component policy',
    );
    const status = (e.h.emulator.get('apps/v1', 'StatefulSet', 'shop', 'ledger') as unknown as { status: Record<string, unknown> }).status;
    assert.deepEqual([status.readyReplicas, status.updatedReplicas, status.currentRevision], [2, 2, status.updateRevision]);
    const usage = e.usage(permissions);
    assert.deepEqual(usage.denied, []);
    for (const verb of ['list', 'delete'])
      assert.ok((usage.solelyAllowed.get(`ClusterRole//secret-steward-rotate-forced-rollback#0 ${verb} pods`) ?? []).length > 0, verb);
  });

  for (const [verb, evidence] of [
    ['delete', /failed to delete Pod shop\/ledger-1: 403 Forbidden.*delete pod shop\/ledger-1 so that it returns to revision ledger-/],
    ['list', /cannot tell which pods of the failed revision block it \(failed to list Pods in namespace shop: 403 Forbidden/],
  ] as const) {
    it(`without the component's ${verb} on pods: the rollback fails, naming what to do`, async () => {
      await reset(withoutPermission(objects, componentRule(verb)));
      await seed();

      const r = await run();

      assert.equal(r.code, 1, r.text);
      assert.deepEqual(
        report(r).secrets.map((s) => `${s.name}: ${s.action}`),
        ['db: rollback-failed'],
      );
      assert.match(r.text, evidence);
      assert.ok(
        e.usage(permissions).denied.some((d) => accessOf(d) === `${verb} pods`),
        'the API server denied that access',
      );
      const pod = e.h.emulator.get('v1', 'Pod', 'shop', 'ledger-1') as unknown as { metadata: { labels: Record<string, string> } };
      const status = (e.h.emulator.get('apps/v1', 'StatefulSet', 'shop', 'ledger') as unknown as { status: Record<string, string> }).status;
      assert.notEqual(pod.metadata.labels['controller-revision-hash'], status.updateRevision, 'still stuck on the broken pod');
    });
  }

  it("refuses rotate's delete of any pod but a not-ready one of a StatefulSet template it restarted", async () => {
    await reset(objects);
    e.ensureNamespace('shop');
    const emu = e.h.emulator;
    // Owners that exist: the garbage collector deletes a pod whose owner's uid does not.
    const uids: Record<string, string> = {};
    for (const kind of ['StatefulSet', 'ReplicaSet']) {
      emu.create({
        apiVersion: 'apps/v1',
        kind,
        metadata: { name: 'x', namespace: 'shop' },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'x' } },
          template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] } },
          ...(kind === 'StatefulSet' ? { serviceName: 'x' } : {}),
        },
      } as never);
      uids[kind] = (emu.get('apps/v1', kind, 'shop', 'x') as unknown as { metadata: { uid: string } }).metadata.uid;
    }
    const owner = (kind: string) => [{ apiVersion: 'apps/v1', kind, name: 'x', uid: uids[kind], controller: true }];
    const restarted = { 'secret-steward.io/restartedAt': '2026-01-01T00:00:00Z;r1' };
    const pods: Array<[string, Record<string, unknown>, boolean, RegExp | undefined]> = [
      ['admitted', { ownerReferences: owner('StatefulSet'), annotations: restarted }, false, undefined],
      ['ready', { ownerReferences: owner('StatefulSet'), annotations: restarted }, true, /may not delete a Ready pod/],
      [
        'of-a-replicaset',
        { ownerReferences: owner('ReplicaSet'), annotations: restarted },
        false,
        /only delete pods controlled by a StatefulSet/,
      ],
      ['unowned', { annotations: restarted }, false, /only delete pods controlled by a StatefulSet/],
      ['never-restarted', { ownerReferences: owner('StatefulSet') }, false, /only delete pods of a pod template it restarted/],
    ];
    for (const [name, meta, ready] of pods) {
      emu.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'shop', ...meta },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] },
      } as never);
      const pod = emu.get('v1', 'Pod', 'shop', name) as unknown as Record<string, unknown>;
      emu.updateStatus({
        ...pod,
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
      } as never);
    }
    const kc = await import('@kubernetes/client-node');
    const config = new kc.KubeConfig();
    config.loadFromFile(e.kubeconfig);
    const core = config.makeApiClient(kc.CoreV1Api);

    for (const [name, , , refusal] of pods) {
      const deleting = core.deleteNamespacedPod({ namespace: 'shop', name });

      if (refusal === undefined) await deleting;
      else
        await assert.rejects(
          deleting,
          (err: { code?: number; body?: string }) =>
            err.code === 403 &&
            String(err.body).includes("ValidatingAdmissionPolicy 'secret-steward-rotate-forced-rollback'") &&
            refusal.test(String(err.body)),
          name,
        );
    }
    assert.deepEqual(
      (emu.list('v1', 'Pod', 'shop') as unknown as Array<{ metadata: { name: string } }>).map((p) => p.metadata.name).sort(),
      ['never-restarted', 'of-a-replicaset', 'ready', 'unowned'],
    );
  });
});
