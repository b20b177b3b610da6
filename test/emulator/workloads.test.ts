import assert from 'node:assert/strict';
import { api, deployment, eventually, secret } from './helpers.js';
import type { StoredKubeObject } from './index.js';
import { KubeEmulator } from './index.js';

type Status = Record<string, number | string | { type: string; status: string; reason: string }[]>;

describe('test/emulator/workloads', () => {
  let emu: KubeEmulator;
  const deployments = '/apis/apps/v1/namespaces/default/deployments';

  beforeEach(async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 5 });
  });
  afterEach(async () => {
    await emu.stop();
  });

  const status = (kind: string, name: string): Status => (emu.get('apps/v1', kind, 'default', name) as StoredKubeObject).status as Status;
  const condition = (s: Status, type: string) =>
    (s.conditions as { type: string; status: string; reason: string }[]).find((c) => c.type === type);
  const observed = (kind: string, name: string) => {
    const obj = emu.get('apps/v1', kind, 'default', name) as StoredKubeObject;
    return (obj.status as Status).observedGeneration === obj.metadata.generation;
  };

  it('rolls out a new Deployment like the real controller', async () => {
    await api(emu, 'POST', deployments, deployment('web', { replicas: 3 }));
    await emu.workloads.idle();

    const s = status('Deployment', 'web');
    assert.equal(s.observedGeneration, 1);
    assert.deepEqual([s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas], [3, 3, 3, 3]);
    assert.equal(condition(s, 'Available')?.status, 'True');
    assert.equal(condition(s, 'Progressing')?.reason, 'NewReplicaSetAvailable');
    assert.equal(emu.workloads.rollouts.length, 1);
    assert.equal(emu.workloads.rollouts[0].outcome, 'complete');
  });

  it('records a rollout for a template change with its annotations, not for a scale', async () => {
    await api(emu, 'POST', deployments, deployment('web'));
    await emu.workloads.idle();

    await api(
      emu,
      'PATCH',
      `${deployments}/web`,
      { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' } } } } },
      { contentType: 'application/strategic-merge-patch+json' },
    );
    await emu.workloads.idle();
    await api(emu, 'PATCH', `${deployments}/web`, { spec: { replicas: 2 } }, { contentType: 'application/merge-patch+json' });
    await emu.workloads.idle();

    assert.deepEqual(
      emu.workloads.rollouts.map((r) => [r.generation, r.revision, r.outcome]),
      [
        [1, 1, 'complete'],
        [2, 2, 'complete'],
      ],
    );
    assert.equal(emu.workloads.rollouts[1].templateAnnotations['kubectl.kubernetes.io/restartedAt'], '2026-01-01T00:00:00Z');
    const obj = emu.get('apps/v1', 'Deployment', 'default', 'web') as StoredKubeObject;
    assert.equal((obj.status as Status).observedGeneration, 3);
    assert.equal((obj.status as Status).replicas, 2);
    assert.equal(obj.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
  });

  it('keeps observedGeneration behind until rolloutDelayMs passed', async () => {
    emu.workloads.rolloutDelayMs = 200;

    await api(emu, 'POST', deployments, deployment('slow'));

    assert.equal(status('Deployment', 'slow').observedGeneration, undefined);
    await emu.workloads.idle();
    assert.equal(status('Deployment', 'slow').observedGeneration, 1);
  });

  it('gets stuck like a RollingUpdate when marked failing, then reports ProgressDeadlineExceeded', async () => {
    emu.workloads.progressDeadlineMs = 50;
    await api(emu, 'POST', deployments, deployment('web', { replicas: 4 }));
    await emu.workloads.idle();
    emu.workloads.setFailing('Deployment', 'default', 'web', true);

    await api(
      emu,
      'PATCH',
      `${deployments}/web`,
      { spec: { template: { metadata: { annotations: { v: '2' } } } } },
      { contentType: 'application/strategic-merge-patch+json' },
    );
    await emu.workloads.idle();

    const stuck = status('Deployment', 'web');
    assert.equal(stuck.observedGeneration, 2);
    // maxSurge 25% -> 1, maxUnavailable 25% -> 1: old RS 3 ready, new RS 2 never ready.
    assert.deepEqual(
      [stuck.replicas, stuck.updatedReplicas, stuck.readyReplicas, stuck.availableReplicas, stuck.unavailableReplicas],
      [5, 2, 3, 3, 2],
    );
    assert.equal(condition(stuck, 'Progressing')?.reason, 'ReplicaSetUpdated');
    await eventually(() => condition(status('Deployment', 'web'), 'Progressing')?.reason === 'ProgressDeadlineExceeded');
    assert.equal(condition(status('Deployment', 'web'), 'Progressing')?.status, 'False');
    assert.equal(emu.workloads.rollouts.at(-1)?.outcome, 'stuck');
  });

  it('fails rollouts marked by annotation or by a failure predicate', async () => {
    emu.workloads.setFailurePredicate((workload) => JSON.stringify(workload).includes('bad-image'));

    await api(emu, 'POST', deployments, deployment('annotated', { annotations: { 'emulator.secret-steward.io/fail-rollout': 'true' } }));
    await api(emu, 'POST', deployments, {
      ...deployment('predicate'),
      spec: {
        ...(deployment('predicate').spec as object),
        template: { metadata: { labels: { app: 'predicate' } }, spec: { containers: [{ name: 'c', image: 'bad-image' }] } },
      },
    });
    await emu.workloads.idle();

    for (const name of ['annotated', 'predicate']) {
      const s = status('Deployment', name);
      assert.equal(s.availableReplicas, undefined, name);
      assert.equal(s.updatedReplicas, 1);
      assert.equal(condition(s, 'Available')?.status, 'False');
    }
  });

  it('fails a rollout that references a missing Secret or key, and completes it once the Secret exists', async () => {
    emu.create({ ...secret('db', { user: 'dQ==' }), metadata: { name: 'db', namespace: 'default' } } as never);
    const env = [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }];
    await api(emu, 'POST', deployments, deployment('app', { env }));
    await emu.workloads.idle();

    assert.match(emu.workloads.rollouts[0].failureReason ?? '', /couldn't find key password in Secret default\/db/);
    assert.equal(status('Deployment', 'app').availableReplicas, undefined);

    emu.update({ ...(emu.get('v1', 'Secret', 'default', 'db') as StoredKubeObject), data: { user: 'dQ==', password: 'cA==' } });
    await eventually(() => status('Deployment', 'app').availableReplicas === 1);
    assert.equal(emu.workloads.rollouts[0].outcome, 'complete');
  });

  it('detects missing Secrets in envFrom, volumes and projected volumes but honours optional', async () => {
    const cases: [string, Record<string, unknown>, boolean][] = [
      ['envfrom', { env: [], volumes: [] }, false],
      ['volume', { volumes: [{ name: 'v', secret: { secretName: 'absent' } }] }, true],
      ['optional-volume', { volumes: [{ name: 'v', secret: { secretName: 'absent', optional: true } }] }, false],
      ['projected', { volumes: [{ name: 'v', projected: { sources: [{ secret: { name: 'absent' } }] } }] }, true],
    ];
    for (const [name, opts] of cases) await api(emu, 'POST', deployments, deployment(name, opts as never));
    const withEnvFrom = deployment('envfrom-missing');
    (withEnvFrom.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0].envFrom = [
      { secretRef: { name: 'absent' } },
    ];
    await api(emu, 'POST', deployments, withEnvFrom);
    await emu.workloads.idle();

    for (const [name, , fails] of cases) assert.equal(status('Deployment', name).availableReplicas === undefined, fails, name);
    assert.equal(status('Deployment', 'envfrom-missing').availableReplicas, undefined);
    assert.match(emu.workloads.rollouts.find((r) => r.name === 'envfrom-missing')?.failureReason ?? '', /secret "absent" not found/);
  });

  it('does not roll out a paused Deployment but observes its generation', async () => {
    await api(emu, 'POST', deployments, deployment('web'));
    await emu.workloads.idle();
    await api(emu, 'PATCH', `${deployments}/web`, { spec: { paused: true } }, { contentType: 'application/merge-patch+json' });
    await emu.workloads.idle();

    await api(
      emu,
      'PATCH',
      `${deployments}/web`,
      { spec: { template: { metadata: { annotations: { v: '2' } } } } },
      { contentType: 'application/strategic-merge-patch+json' },
    );
    await emu.workloads.idle();

    assert.ok(observed('Deployment', 'web'));
    assert.equal(condition(status('Deployment', 'web'), 'Progressing')?.reason, 'DeploymentPaused');
    assert.equal(emu.workloads.rollouts.length, 1);

    await api(emu, 'PATCH', `${deployments}/web`, { spec: { paused: false } }, { contentType: 'application/merge-patch+json' });
    await emu.workloads.idle();
    assert.equal(emu.workloads.rollouts.length, 2);
    assert.equal(condition(status('Deployment', 'web'), 'Progressing')?.reason, 'NewReplicaSetAvailable');
  });

  it('rolls out StatefulSets and DaemonSets and gets them stuck when failing', async () => {
    const sts = { ...deployment('db', { replicas: 3 }), kind: 'StatefulSet' };
    const ds: Record<string, unknown> = { ...deployment('agent'), kind: 'DaemonSet' };
    delete (ds.spec as Record<string, unknown>).replicas;
    await api(emu, 'POST', '/apis/apps/v1/namespaces/default/statefulsets', sts);
    await api(emu, 'POST', '/apis/apps/v1/namespaces/default/daemonsets', ds);
    await emu.workloads.idle();

    const s1 = status('StatefulSet', 'db');
    const d1 = status('DaemonSet', 'agent');
    assert.deepEqual([s1.replicas, s1.readyReplicas, s1.updatedReplicas], [3, 3, 3]);
    assert.equal(s1.currentRevision, s1.updateRevision);
    assert.deepEqual([d1.desiredNumberScheduled, d1.numberReady, d1.updatedNumberScheduled], [3, 3, 3]);

    emu.workloads.setFailing('StatefulSet', 'default', 'db', true);
    emu.workloads.setFailing('DaemonSet', 'default', 'agent', true);
    await api(
      emu,
      'PATCH',
      '/apis/apps/v1/namespaces/default/statefulsets/db',
      { spec: { template: { metadata: { annotations: { v: '2' } } } } },
      { contentType: 'application/strategic-merge-patch+json' },
    );
    await api(
      emu,
      'PATCH',
      '/apis/apps/v1/namespaces/default/daemonsets/agent',
      { spec: { template: { metadata: { annotations: { v: '2' } } } } },
      { contentType: 'application/strategic-merge-patch+json' },
    );
    await emu.workloads.idle();

    const s2 = status('StatefulSet', 'db');
    const d2 = status('DaemonSet', 'agent');
    assert.deepEqual([s2.readyReplicas, s2.updatedReplicas], [2, 1]);
    assert.notEqual(s2.currentRevision, s2.updateRevision);
    assert.deepEqual([d2.updatedNumberScheduled, d2.numberAvailable, d2.numberUnavailable], [1, 2, 1]);
  });

  // What a real server writes, from pkg/registry/apps/daemonset/strategy.go (templateGeneration:
  // 1 on create, +1 on a template change, the client's value ignored) and
  // pkg/apis/apps/v1/conversion.go (written as the deprecated.daemonset.template.generation
  // annotation), and from ObjectMeta.creationTimestamp having no omitempty (every pod template
  // is returned with `metadata.creationTimestamp: null`).
  it('writes deprecated.daemonset.template.generation and creationTimestamp: null in templates, as a real server', async () => {
    const ds: Record<string, unknown> = { ...deployment('agent'), kind: 'DaemonSet' };
    delete (ds.spec as Record<string, unknown>).replicas;
    const path = '/apis/apps/v1/namespaces/default/daemonsets';
    await api(emu, 'POST', path, ds);
    const generation = () =>
      (emu.get('apps/v1', 'DaemonSet', 'default', 'agent') as StoredKubeObject).metadata.annotations?.[
        'deprecated.daemonset.template.generation'
      ];
    const created = generation();

    await api(
      emu,
      'PATCH',
      `${path}/agent`,
      { metadata: { annotations: { team: 'a', 'deprecated.daemonset.template.generation': '9' } } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    const afterMetadata = generation();
    await api(
      emu,
      'PATCH',
      `${path}/agent`,
      { spec: { template: { metadata: { annotations: { v: '2' } } } } },
      {
        contentType: 'application/merge-patch+json',
      },
    );

    assert.deepEqual([created, afterMetadata, generation()], ['1', '1', '2']);
    const template = (
      emu.get('apps/v1', 'DaemonSet', 'default', 'agent') as StoredKubeObject & { spec: { template: { metadata: unknown } } }
    ).spec.template;
    assert.deepEqual(template.metadata, { creationTimestamp: null, labels: { app: 'agent' }, annotations: { v: '2' } });
  });

  // The Deployment controller (pkg/controller/deployment/sync.go calculateStatus) reports the
  // new ReplicaSet's pods as updated before they are ready, counts old pods until they are gone
  // (status.replicas), and counts a pod available only minReadySeconds after it became ready
  // (podutil.IsPodAvailable); `kubectl rollout status` waits on each of these.
  it('shows a Deployment rollout updated but not ready with an old pod terminating, then ready but not available (minReadySeconds)', async () => {
    await api(emu, 'POST', deployments, deployment('web', { replicas: 2 }));
    await emu.workloads.idle();
    await api(emu, 'PATCH', `${deployments}/web`, { spec: { minReadySeconds: 1 } }, { contentType: 'application/merge-patch+json' });
    await emu.workloads.idle();
    const seen: string[] = [];
    const sample = setInterval(() => {
      const s = status('Deployment', 'web');
      const line = `replicas=${s.replicas} updated=${s.updatedReplicas} ready=${s.readyReplicas} available=${s.availableReplicas}`;
      if (seen.at(-1) !== line) seen.push(line);
    }, 1);

    await api(
      emu,
      'PATCH',
      `${deployments}/web`,
      { spec: { template: { metadata: { annotations: { v: '2' } } } } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    await emu.workloads.idle();
    clearInterval(sample);

    assert.ok(seen.includes('replicas=3 updated=2 ready=2 available=2'), `an old pod terminating: ${seen.join(' | ')}`);
    assert.ok(seen.includes('replicas=2 updated=2 ready=2 available=1'), `ready, not yet available: ${seen.join(' | ')}`);
    const s = status('Deployment', 'web');
    assert.deepEqual([s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas], [2, 2, 2, 2]);
  });
});
