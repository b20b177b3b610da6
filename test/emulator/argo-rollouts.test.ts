import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import type { StoredKubeObject } from './index.js';
import { KubeEmulator } from './index.js';

/**
 * The Argo Rollouts CRD and controller stand-in, against what upstream says:
 * - status fields and their types (observedGeneration is a string): argo-rollouts
 *   pkg/apis/rollouts/v1alpha1/types.go, RolloutStatus;
 * - phase and message: utils/rollout/rolloututil.go CalculateRolloutPhase (Degraded on
 *   ProgressDeadlineExceeded, Progressing "rollout is restarting" while spec.restartAt !=
 *   status.restartedAt, Healthy once stableRS == currentPodHash and every replica is updated and
 *   available) and its test rolloututil_test.go;
 * - restarts: docs/features/restart.md (pods older than spec.restartAt recreated without a new
 *   ReplicaSet, status.restartedAt set once done, a template change cancels the restart by
 *   setting status.restartedAt to spec.restartAt).
 */
describe('test/emulator/argo-rollouts', () => {
  let emu: KubeEmulator;
  const rollouts = '/apis/argoproj.io/v1alpha1/namespaces/default/rollouts';

  const rollout = (name: string, secretName: string) => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      strategy: { canary: {} },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'app:1', envFrom: [{ secretRef: { name: secretName } }] }] },
      },
    },
  });
  const get = (name: string) =>
    emu.get('argoproj.io/v1alpha1', 'Rollout', 'default', name) as StoredKubeObject & { status: any; spec: any };

  afterEach(async () => {
    await emu?.stop();
  });

  it('answers 404 for the group without the CRD, like a cluster where it is not installed', async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 5 });

    const list = await api(emu, 'GET', rollouts);
    const groups = await api(emu, 'GET', '/apis');

    assert.equal(list.status, 404);
    assert.ok(!JSON.stringify(groups.body).includes('argoproj.io'));
    assert.throws(() => emu.create(rollout('web', 'db')), /crds/);
  });

  it('serves the CRD: discovery, status subresource, string observedGeneration, Healthy', async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 5, crds: ['rollouts.argoproj.io'] });
    await api(emu, 'POST', '/api/v1/namespaces/default/secrets', secret('db', { password: 'YQ==' }));

    const created = await api(emu, 'POST', rollouts, rollout('web', 'db'));
    await emu.workloads.idle();
    const discovery = await api(emu, 'GET', '/apis/argoproj.io/v1alpha1');

    assert.equal(created.status, 201);
    const resources = (discovery.body as { resources: { name: string }[] }).resources.map((r) => r.name);
    assert.deepEqual(resources, ['rollouts', 'rollouts/status']);
    const s = get('web').status;
    assert.equal(s.observedGeneration, '1');
    assert.equal(s.phase, 'Healthy');
    assert.equal(s.stableRS, s.currentPodHash);
    assert.deepEqual([s.replicas, s.updatedReplicas, s.availableReplicas], [2, 2, 2]);
  });

  it('restarts through spec.restartAt without a new revision, then sets status.restartedAt', async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 5, crds: ['rollouts.argoproj.io'] });
    await api(emu, 'POST', '/api/v1/namespaces/default/secrets', secret('db', { password: 'YQ==' }));
    await api(emu, 'POST', rollouts, rollout('web', 'db'));
    await emu.workloads.idle();
    const hash = get('web').status.currentPodHash;
    const restartAt = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const seen: string[] = [];
    const stop = setInterval(() => seen.push(`${get('web').status.phase}:${get('web').status.message ?? ''}`), 1);

    await api(emu, 'PATCH', `${rollouts}/web`, [{ op: 'add', path: '/spec/restartAt', value: restartAt }], {
      contentType: 'application/json-patch+json',
    });
    await emu.workloads.idle();
    clearInterval(stop);

    const s = get('web').status;
    assert.equal(get('web').metadata.generation, 2);
    assert.equal(s.observedGeneration, '2');
    assert.equal(s.restartedAt, restartAt);
    assert.equal(s.phase, 'Healthy');
    assert.equal(s.currentPodHash, hash, 'no new ReplicaSet');
    assert.ok(seen.includes('Progressing:rollout is restarting'), seen.join(' '));
    assert.deepEqual(
      emu.workloads.restarts.map((r) => [r.name, r.restartAt]),
      [['web', restartAt]],
    );
    assert.equal(emu.workloads.rollouts.length, 1, 'one revision only');
  });

  it('a restart whose pods fail stays restarting, and completes once the failure clears', async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 5, crds: ['rollouts.argoproj.io'] });
    await api(emu, 'POST', '/api/v1/namespaces/default/secrets', secret('db', { password: 'YQ==' }));
    await api(emu, 'POST', rollouts, rollout('web', 'db'));
    await emu.workloads.idle();
    emu.workloads.setFailing('Rollout', 'default', 'web', true);
    await emu.workloads.idle();
    const restartAt = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z');

    await api(emu, 'PATCH', `${rollouts}/web`, [{ op: 'add', path: '/spec/restartAt', value: restartAt }], {
      contentType: 'application/json-patch+json',
    });
    await emu.workloads.idle();
    const stuck = get('web').status;
    emu.workloads.setFailing('Rollout', 'default', 'web', false);
    await emu.workloads.idle();

    assert.equal(stuck.phase, 'Progressing');
    assert.equal(stuck.message, 'rollout is restarting');
    assert.equal(stuck.availableReplicas, 1);
    assert.equal(stuck.restartedAt, undefined);
    assert.equal(get('web').status.restartedAt, restartAt);
    assert.equal(get('web').status.phase, 'Healthy');
  });

  it('a failing new template keeps the old ReplicaSet stable and is Degraded after the progress deadline', async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 5, crds: ['rollouts.argoproj.io'] });
    await api(emu, 'POST', '/api/v1/namespaces/default/secrets', secret('db', { password: 'YQ==' }));
    await api(emu, 'POST', rollouts, rollout('web', 'db'));
    await emu.workloads.idle();
    const stable = get('web').status.stableRS;
    emu.workloads.progressDeadlineMs = 30;

    // A reference to a Secret that does not exist: CreateContainerConfigError.
    await api(
      emu,
      'PATCH',
      `${rollouts}/web`,
      [{ op: 'replace', path: '/spec/template/spec/containers/0/envFrom/0/secretRef/name', value: 'db-v2' }],
      { contentType: 'application/json-patch+json' },
    );
    await emu.workloads.idle();
    await new Promise((r) => setTimeout(r, 80));
    const degraded = get('web').status;
    await api(
      emu,
      'PATCH',
      `${rollouts}/web`,
      [{ op: 'replace', path: '/spec/template/spec/containers/0/envFrom/0/secretRef/name', value: 'db' }],
      { contentType: 'application/json-patch+json' },
    );
    await emu.workloads.idle();

    assert.equal(degraded.phase, 'Degraded');
    assert.match(degraded.message, /^ProgressDeadlineExceeded: /);
    assert.equal(degraded.stableRS, stable);
    assert.notEqual(degraded.currentPodHash, stable);
    const back = get('web').status;
    assert.equal(back.phase, 'Healthy', 'the stable template is back at once');
    assert.equal(back.currentPodHash, stable);
    assert.equal(back.observedGeneration, '3');
  });
});
