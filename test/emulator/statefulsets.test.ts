import assert from 'node:assert/strict';
import { api, deployment, eventually, secret } from './helpers.js';
import type { StoredKubeObject } from './index.js';
import { KubeEmulator, POD_INDEX_LABEL, podReady, REVISION_LABEL } from './index.js';

/**
 * The StatefulSet controller stand-in (workload-controller.ts), against what the real one does,
 * pkg/controller/statefulset/stateful_set_control.go (updateStatefulSet) and
 * stateful_set_utils.go (newVersionedStatefulSetPod, completeRollingUpdate):
 * - OrderedReady (the default podManagementPolicy): pods are created one ordinal at a time, each
 *   waited for until it is Running and Ready ("StatefulSet %s/%s is waiting for Pod %s to be
 *   Running and Ready", then return: the sync stops there);
 * - RollingUpdate: the pod with the highest ordinal not on the update revision is deleted, and
 *   recreated on it, down to `rollingUpdate.partition`; currentRevision becomes updateRevision
 *   once every replica is updated and ready, and never while a partition holds pods back;
 * - a pod that is not Running and Ready is never replaced, not even when the template is reverted:
 *   the StatefulSet stays stuck until someone deletes the pod. Upstream documents this as
 *   "Forced rollback" (https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#forced-rollback:
 *   "After reverting the template, you must also delete any Pods that StatefulSet had already
 *   attempted to run with the bad configuration"); kubernetes/kubernetes#67250 and #60164 report it,
 *   and #100289 (deleting such pods in the controller) was closed in favour of that manual step.
 */
describe('test/emulator/statefulsets', () => {
  let emu: KubeEmulator;
  const base = '/apis/apps/v1/namespaces/default/statefulsets';

  beforeEach(async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 2 });
  });
  afterEach(async () => {
    await emu.stop();
  });

  const sts = (name: string, replicas: number, extra: Record<string, unknown> = {}) => {
    const d = deployment(name, { replicas }) as { spec: Record<string, unknown> };
    return { ...d, kind: 'StatefulSet', spec: { ...d.spec, serviceName: name, ...extra } };
  };
  const get = (name: string) =>
    emu.get('apps/v1', 'StatefulSet', 'default', name) as StoredKubeObject & { status: Record<string, unknown> };
  const pods = (name: string) =>
    (emu.list('v1', 'Pod', 'default') as StoredKubeObject[]).filter((p) => p.metadata.ownerReferences?.[0]?.name === name);
  const annotate = (name: string, v: string) =>
    api(
      emu,
      'PATCH',
      `${base}/${name}`,
      { spec: { template: { metadata: { annotations: { v } } } } },
      {
        contentType: 'application/strategic-merge-patch+json',
      },
    );
  const revert = (name: string) =>
    api(emu, 'PATCH', `${base}/${name}`, [{ op: 'remove', path: '/spec/template/metadata/annotations' }], {
      contentType: 'application/json-patch+json',
    });

  it('creates pods name-<ordinal> in order, each Ready before the next, with the controller labels and owner', async () => {
    await api(emu, 'POST', base, sts('web', 3));
    await emu.workloads.idle();

    const set = get('web');
    assert.deepEqual(
      emu.workloads.podActions.map((a) => `${a.action} ${a.pod}`),
      ['create web-0', 'ready web-0', 'create web-1', 'ready web-1', 'create web-2', 'ready web-2'],
    );
    const all = pods('web');
    assert.deepEqual(all.map((p) => p.metadata.name).sort(), ['web-0', 'web-1', 'web-2']);
    for (const p of all) {
      assert.equal(p.metadata.labels?.[REVISION_LABEL], set.status.updateRevision);
      assert.equal(p.metadata.labels?.[POD_INDEX_LABEL], p.metadata.name.slice(4));
      assert.equal(p.metadata.labels?.app, 'web');
      assert.deepEqual(p.metadata.ownerReferences, [
        { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: set.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      assert.ok(podReady(p), p.metadata.name);
    }
    assert.equal(set.status.currentRevision, set.status.updateRevision);
    assert.deepEqual([set.status.replicas, set.status.readyReplicas, set.status.updatedReplicas], [3, 3, 3]);
  });

  it('rolls a new template from the highest ordinal down, one pod at a time, then moves currentRevision', async () => {
    await api(emu, 'POST', base, sts('web', 3));
    await emu.workloads.idle();
    const old = get('web').status.currentRevision;
    emu.workloads.podActions.length = 0;
    const seen = new Set<string>();
    const sample = setInterval(() => {
      const s = get('web').status;
      seen.add(`${s.updatedReplicas ?? 0}/${s.readyReplicas ?? 0}/${s.currentRevision === old ? 'old' : 'new'}`);
    }, 1);

    await annotate('web', '2');
    await emu.workloads.idle();
    clearInterval(sample);

    const s = get('web').status;
    assert.notEqual(s.updateRevision, old);
    assert.equal(s.currentRevision, s.updateRevision);
    assert.deepEqual(
      emu.workloads.podActions.map((a) => `${a.action} ${a.pod}`),
      [
        'delete web-2',
        'create web-2',
        'ready web-2',
        'delete web-1',
        'create web-1',
        'ready web-1',
        'delete web-0',
        'create web-0',
        'ready web-0',
      ],
    );
    assert.ok(
      [...seen].some((x) => x.endsWith('/old') && x !== `0/3/old`),
      `intermediate states were visible: ${[...seen].join(', ')}`,
    );
  });

  it('never replaces a broken pod, even after the template is reverted, until the pod is deleted (forced rollback)', async () => {
    await api(emu, 'POST', base, sts('web', 3));
    await emu.workloads.idle();
    const good = get('web').status.currentRevision;
    emu.workloads.setFailing('StatefulSet', 'default', 'web', true);
    await annotate('web', 'broken');
    await emu.workloads.idle();
    const bad = get('web').status.updateRevision;

    await revert('web');
    await emu.workloads.idle();

    const stuck = get('web').status;
    assert.equal(stuck.updateRevision, good, 'the reverted template is the old revision again');
    assert.deepEqual([stuck.replicas, stuck.readyReplicas, stuck.updatedReplicas], [3, 2, 2]);
    const broken = pods('web').find((p) => p.metadata.name === 'web-2')!;
    assert.equal(broken.metadata.labels?.[REVISION_LABEL], bad, 'the broken pod is still on the failed revision');
    assert.equal(podReady(broken), false);
    assert.equal(emu.workloads.rollouts.at(-1)?.outcome, 'stuck');

    emu.delete('v1', 'Pod', 'default', 'web-2');
    await eventually(() => get('web').status.readyReplicas === 3);
    await emu.workloads.idle();

    const healed = get('web').status;
    assert.deepEqual([healed.updatedReplicas, healed.currentRevision], [3, good]);
    assert.ok(pods('web').every((p) => p.metadata.labels?.[REVISION_LABEL] === good && podReady(p)));
  });

  it('honours rollingUpdate.partition: ordinals below it keep the old revision, and currentRevision stays', async () => {
    await api(emu, 'POST', base, sts('web', 3, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }));
    await emu.workloads.idle();
    const old = get('web').status.currentRevision;

    await annotate('web', '2');
    await emu.workloads.idle();

    const s = get('web').status;
    assert.equal(s.currentRevision, old);
    assert.notEqual(s.updateRevision, old);
    assert.deepEqual([s.replicas, s.readyReplicas, s.updatedReplicas, s.currentReplicas], [3, 3, 1, 2]);
    assert.deepEqual(
      pods('web')
        .map((p) => `${p.metadata.name}:${p.metadata.labels?.[REVISION_LABEL] === old ? 'old' : 'new'}`)
        .sort(),
      ['web-0:old', 'web-1:old', 'web-2:new'],
    );
  });

  // Ready since lastTransitionTime, whole seconds as the API writes it: with 2 s the new pod is
  // ready and not yet available for at least a second.
  it('counts a pod available only minReadySeconds after it became ready, and waits for that before the next one', async function () {
    this.timeout(20_000);
    await api(emu, 'POST', base, sts('web', 2));
    await emu.workloads.idle();
    await api(emu, 'PATCH', `${base}/web`, { spec: { minReadySeconds: 2 } }, { contentType: 'application/merge-patch+json' });
    await emu.workloads.idle();

    await annotate('web', '2');
    const partial = await eventually(() => {
      const s = get('web').status;
      return s.updatedReplicas === 1 && s.readyReplicas === 2 ? s : undefined;
    }, 10_000);

    assert.equal(partial?.availableReplicas, 1, 'the new pod is ready but not yet available');
    assert.ok(!emu.workloads.podActions.some((a) => a.action === 'delete' && a.pod === 'web-0'), 'web-0 waits for web-1 to be available');
    await emu.workloads.idle();
    assert.deepEqual([get('web').status.availableReplicas, get('web').status.updatedReplicas], [2, 2]);
  });

  // Kubelet stand-in. https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod:
  // "When a volume contains data from a Secret, and that Secret is updated, Kubernetes tracks this
  // and updates the data in the volume, using an eventually-consistent approach" (kubelet sync
  // period plus its cache TTL); "A container using a Secret as a subPath volume mount does not
  // receive automated Secret updates"; environment variables are read once, when the container starts.
  it('updates mounted Secret volumes of running pods after kubeletSyncDelayMs, never env vars or subPath mounts', async function () {
    this.timeout(60_000);
    await api(emu, 'POST', '/api/v1/namespaces/default/secrets', secret('db', { password: Buffer.from('one').toString('base64') }));
    const set = sts('web', 1) as unknown as { spec: { template: { spec: Record<string, unknown> } } };
    set.spec.template.spec = {
      containers: [
        {
          name: 'app',
          image: 'example/app:1',
          env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
          volumeMounts: [
            { name: 'db', mountPath: '/etc/db' },
            { name: 'db', mountPath: '/etc/pw', subPath: 'password' },
            { name: 'mapped', mountPath: '/etc/mapped' },
          ],
        },
      ],
      volumes: [
        { name: 'db', secret: { secretName: 'db' } },
        { name: 'mapped', projected: { sources: [{ secret: { name: 'db', items: [{ key: 'password', path: 'pw.txt' }] } }] } },
      ],
    };
    await api(emu, 'POST', base, set);
    await emu.workloads.idle();
    // The syncs the setup's own Secret events scheduled (20 ms, the default) run first: a timer
    // never runs before one set to expire earlier. Pending, one would sync right after the change.
    await new Promise((done) => setTimeout(done, 50));
    emu.workloads.kubeletSyncDelayMs = 1000;
    const started = emu.workloads.podView('default', 'web-0');

    // Patched in-process and looked at in the same tick: no timer can run in between, however
    // busy the machine (over HTTP, one could before the answer was read).
    const patchedAt = performance.now();
    emu.patch('v1', 'Secret', 'default', 'db', 'application/merge-patch+json', {
      data: { password: Buffer.from('two').toString('base64') },
    });
    const soon = emu.workloads.podView('default', 'web-0');
    const later = await eventually(() => {
      const v = emu.workloads.podView('default', 'web-0');
      return v?.files['/etc/db/password'] === 'two' ? v : undefined;
    }, 30_000);
    const syncedAfterMs = performance.now() - patchedAt;

    assert.deepEqual(started, {
      env: { PW: 'one' },
      files: { '/etc/db/password': 'one', '/etc/pw': 'one', '/etc/mapped/pw.txt': 'one' },
    });
    assert.equal(soon?.files['/etc/db/password'], 'one', 'not before the kubelet syncs');
    // Timers never run early (a few ms of the loop's cached clock aside): a lower bound that load cannot break.
    assert.ok(syncedAfterMs >= 900, `synced ${Math.round(syncedAfterMs)} ms after the change, before kubeletSyncDelayMs`);
    assert.deepEqual(later, {
      env: { PW: 'one' },
      files: { '/etc/db/password': 'two', '/etc/pw': 'one', '/etc/mapped/pw.txt': 'two' },
    });
  });
});
