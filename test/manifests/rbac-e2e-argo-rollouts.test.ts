import assert from 'node:assert/strict';
import { rotateCommand } from '../../jobs/rotate.js';
import type { RotationReport } from '../../shared/rotate/report.js';
import { withoutPermission } from './rbac.js';
import { accessOf, createDueSecret, forbidden, type JobRun, type RbacE2E, rotateWithComponent } from './rbac-e2e.js';

/**
 * components/argo-rollouts, end to end: rotate runs as its ServiceAccount with exactly the rules
 * of manifests/overlays/argo-rollouts (the base's plus the component's get, list, watch and
 * patch on argoproj.io rollouts) and every admission policy of that rendering enforced, against
 * an emulator serving the Rollout CRD. An in-place Secret used by a Rollout rotates, the Rollout
 * restarting through spec.restartAt; its first patch meets a 409 (as when the Argo controller
 * writes it between rotate's list and its patch), so the re-read runs too. Without any one of
 * the component's permissions the run fails or visibly degrades. Cluster-wide installation only
 * (the component's ClusterRoleBinding; see its rbac.yaml for the namespaced one).
 */

const OVERLAY = 'manifests/overlays/argo-rollouts';
const POLICY = 'maxAge: 30d\nkeys: { password: { generator: password, length: 24 } }\nrollout: { waitReady: 20s }';
const ROLLOUT_PATH = '/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web';

const report = (r: JobRun) => JSON.parse(r.stdout) as RotationReport;

describe('manifests: RBAC end to end: rotate with components/argo-rollouts', function () {
  this.timeout(120_000);
  let e: RbacE2E;
  const { objects, permissions, componentRule, reset } = rotateWithComponent(
    { overlay: OVERLAY, role: 'secret-steward-rotate-argo-rollouts', resource: 'rollouts', crds: ['rollouts.argoproj.io'] },
    (x) => {
      e = x;
    },
  );

  /** Namespace shop: Secret db (in place) used by Rollout web, whose first patch meets a 409. */
  async function seed(): Promise<void> {
    const emu = e.h.emulator;
    createDueSecret(e, POLICY);
    emu.create({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        strategy: { canary: {} },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0', envFrom: [{ secretRef: { name: 'db' } }] }] },
        },
      },
    } as never);
    await emu.workloads.idle();
    emu.faults.inject({ method: 'PATCH', path: ROLLOUT_PATH, status: 409, times: 1 });
  }

  const run = () => e.run(rotateCommand, [...e.kubeArgs(), '--rollout-poll-interval', '50ms', '--output', 'json']);
  const rollout = () => e.h.emulator.get('argoproj.io/v1alpha1', 'Rollout', 'shop', 'web') as unknown as { spec: any; status: any };
  const outcome = (r: JobRun) => report(r).secrets.map((s) => `${s.name}: ${s.action}`);

  it('restarts the Rollout through spec.restartAt, with exactly the rendered rules and policies', async () => {
    await reset(objects);
    await seed();

    const r = await run();

    assert.equal(r.code, 0, r.text);
    assert.deepEqual(outcome(r), ['db: rotated']);
    assert.deepEqual(report(r).secrets[0].consumers, ['rollout/web']);
    assert.ok(rollout().spec.restartAt);
    assert.equal(rollout().status.restartedAt, rollout().spec.restartAt);
    const usage = e.usage(permissions);
    assert.deepEqual(usage.denied, []);
    assert.deepEqual(usage.foreign, []);
    for (const verb of ['get', 'list', 'watch', 'patch'])
      assert.ok(
        (usage.solelyAllowed.get(`ClusterRole//secret-steward-rotate-argo-rollouts#0 ${verb} argoproj.io/rollouts`) ?? []).length > 0,
        `${verb} allowed a request on its own`,
      );
  });

  const signals: Array<[string, number, RegExp, string, (r: JobRun) => void]> = [
    [
      'list',
      0,
      /Argo Rollouts not checked as consumers: listing rollouts.argoproj.io is forbidden \(add the argo-rollouts component/,
      'the Rollout is not found as a consumer: the Secret rotates without restarting it (one warning says so)',
      (r) => {
        assert.deepEqual(outcome(r), ['db: rotated']);
        assert.equal(rollout().spec.restartAt, undefined, 'not restarted');
      },
    ],
    [
      'get',
      1,
      forbidden('get', 'Rollout shop/web'),
      'the Rollout that changed since it was listed cannot be re-read and restarted: the rotation is rolled back',
      (r) => assert.deepEqual(outcome(r), ['db: rolled-back']),
    ],
    [
      'patch',
      1,
      forbidden('patch', 'Rollout shop/web'),
      'the Rollout cannot be restarted: the rotation is rolled back',
      (r) => assert.deepEqual(outcome(r), ['db: rolled-back']),
    ],
    [
      'watch',
      0,
      /cannot watch Rollouts \(403 Forbidden\): polling rollouts every 50ms instead/,
      'the Secret rotates; the Rollout is polled instead of watched (a warning says so)',
      (r) => {
        assert.deepEqual(outcome(r), ['db: rotated']);
        assert.equal(rollout().status.restartedAt, rollout().spec.restartAt);
      },
    ],
  ];
  for (const [verb, code, evidence, says, then] of signals) {
    it(`without the component's ${verb} on rollouts: ${says}`, async () => {
      await reset(withoutPermission(objects, componentRule(verb)));
      await seed();

      const r = await run();

      assert.equal(r.code, code, r.text);
      assert.match(r.text, evidence);
      assert.ok(
        e.usage(permissions).denied.some((d) => accessOf(d) === `${verb} argoproj.io/rollouts`),
        'the API server denied that access',
      );
      then(r);
    });
  }
});
