import assert from 'node:assert/strict';
import { api, deployment, secret } from './helpers.js';
import { KubeEmulator } from './index.js';

describe('test/emulator/crud', () => {
  let emu: KubeEmulator;
  const base = '/api/v1/namespaces/default/secrets';

  beforeEach(async () => {
    emu = await KubeEmulator.start();
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('creates, reads, replaces and deletes a Secret with system metadata', async () => {
    const created = await api(emu, 'POST', base, secret('db', { user: 'YWRtaW4=' }));

    assert.equal(created.status, 201);
    assert.equal(created.body.kind, 'Secret');
    assert.equal(created.body.apiVersion, 'v1');
    assert.match(created.body.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(created.body.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(created.body.type, 'Opaque');
    assert.equal(created.body.metadata.generation, undefined, 'Secrets have no generation');

    const read = await api(emu, 'GET', `${base}/db`);
    assert.deepEqual(read.body, created.body);

    const replaced = await api(emu, 'PUT', `${base}/db`, { ...read.body, data: { user: 'cm9vdA==' } });
    assert.equal(replaced.status, 200);
    assert.ok(Number(replaced.body.metadata.resourceVersion) > Number(created.body.metadata.resourceVersion));
    assert.equal(replaced.body.metadata.uid, created.body.metadata.uid);
    assert.equal(replaced.body.metadata.creationTimestamp, created.body.metadata.creationTimestamp);

    const deleted = await api(emu, 'DELETE', `${base}/db`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: 'db', kind: 'secrets', uid: created.body.metadata.uid },
    });
    assert.equal((await api(emu, 'GET', `${base}/db`)).status, 404);
  });

  it('answers real Status errors: 404, 409 AlreadyExists, 409 Conflict, 405, unknown resource', async () => {
    await api(emu, 'POST', base, secret('a'));
    const stale = (await api(emu, 'GET', `${base}/a`)).body;
    await api(emu, 'PUT', `${base}/a`, { ...stale, data: { k: 'MQ==' } });

    const missing = await api(emu, 'GET', `${base}/nope`);
    const duplicate = await api(emu, 'POST', base, secret('a'));
    const conflict = await api(emu, 'PUT', `${base}/a`, { ...stale, data: { k: 'Mg==' } });
    const appsMissing = await api(emu, 'GET', '/apis/apps/v1/namespaces/default/deployments/x');
    const wrongMethod = await api(emu, 'PUT', base, secret('b'));
    const unknown = await api(emu, 'GET', '/api/v1/widgets');

    assert.deepEqual(missing.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'secrets "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'secrets' },
      code: 404,
    });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.reason, 'AlreadyExists');
    assert.equal(duplicate.body.message, 'secrets "a" already exists');
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.reason, 'Conflict');
    assert.equal(
      conflict.body.message,
      'Operation cannot be fulfilled on secrets "a": the object has been modified; please apply your changes to the latest version and try again',
    );
    assert.deepEqual(appsMissing.body.details, { name: 'x', group: 'apps', kind: 'deployments' });
    assert.equal(appsMissing.body.message, 'deployments.apps "x" not found');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.body.reason, 'MethodNotAllowed');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('content-type'), 'application/json');
  });

  it('treats PUT without resourceVersion as unconditional and keeps the resourceVersion of a no-op update', async () => {
    const created = (await api(emu, 'POST', base, secret('a'))).body;
    const { resourceVersion: _rv, ...metaWithoutRv } = created.metadata;

    const unconditional = await api(emu, 'PUT', `${base}/a`, { ...created, metadata: metaWithoutRv, data: { k: 'MQ==' } });
    const noop = await api(emu, 'PUT', `${base}/a`, unconditional.body);

    assert.equal(unconditional.status, 200);
    assert.equal(noop.status, 200);
    assert.equal(noop.body.metadata.resourceVersion, unconditional.body.metadata.resourceVersion);
  });

  it('requires the namespace to exist and the body namespace to match the URL', async () => {
    const noNamespace = await api(emu, 'POST', '/api/v1/namespaces/ghost/secrets', secret('a'));
    const mismatch = await api(emu, 'POST', base, { ...secret('a'), metadata: { name: 'a', namespace: 'other' } });

    assert.equal(noNamespace.status, 404);
    assert.equal(noNamespace.body.message, 'namespaces "ghost" not found');
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.message, 'the namespace of the provided object does not match the namespace sent on the request');
  });

  it('supports generateName', async () => {
    const created = await api(emu, 'POST', base, { apiVersion: 'v1', kind: 'Secret', metadata: { generateName: 'backup-' } });

    assert.equal(created.status, 201);
    assert.match(created.body.metadata.name, /^backup-[a-z0-9]{5}$/);
  });

  it('bumps generation only on spec changes (and on Deployment annotation changes, like the real strategy)', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments';
    const created = (await api(emu, 'POST', path, deployment('web'))).body;
    const labelled = (
      await api(emu, 'PATCH', `${path}/web`, { metadata: { labels: { team: 'a' } } }, { contentType: 'application/merge-patch+json' })
    ).body;
    const status = (
      await api(emu, 'PATCH', `${path}/web/status`, { status: { replicas: 7 } }, { contentType: 'application/merge-patch+json' })
    ).body;
    const scaled = (await api(emu, 'PATCH', `${path}/web`, { spec: { replicas: 3 } }, { contentType: 'application/merge-patch+json' }))
      .body;
    const annotated = (
      await api(emu, 'PATCH', `${path}/web`, { metadata: { annotations: { note: 'x' } } }, { contentType: 'application/merge-patch+json' })
    ).body;

    assert.equal(created.metadata.generation, 1);
    assert.equal(labelled.metadata.generation, 1);
    assert.equal(status.metadata.generation, 1);
    assert.equal(status.status.replicas, 7);
    assert.equal(scaled.metadata.generation, 2);
    assert.equal(annotated.metadata.generation, 3);
  });

  it('ignores status in main-resource writes and spec in status writes', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments';
    await api(emu, 'POST', path, { ...deployment('web'), status: { replicas: 99 } });
    emu.workloads.rolloutDelayMs = 60_000;

    const viaMain = await api(emu, 'PATCH', `${path}/web`, { status: { replicas: 5 } }, { contentType: 'application/merge-patch+json' });
    const viaStatus = await api(
      emu,
      'PATCH',
      `${path}/web/status`,
      { spec: { replicas: 9 }, status: { replicas: 4 } },
      { contentType: 'application/merge-patch+json' },
    );

    assert.notEqual(viaMain.body.status?.replicas, 5);
    assert.notEqual(viaMain.body.status?.replicas, 99);
    assert.equal(viaStatus.body.status.replicas, 4);
    assert.equal(viaStatus.body.spec.replicas, 1);
  });

  it('applies defaults like the API server', async () => {
    const created = (await api(emu, 'POST', '/apis/apps/v1/namespaces/default/deployments', deployment('web'))).body;

    assert.deepEqual(created.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    assert.equal(created.spec.progressDeadlineSeconds, 600);
    assert.equal(created.spec.template.spec.restartPolicy, 'Always');
    assert.equal(created.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  });

  it('keeps objects with finalizers until the last finalizer is removed', async () => {
    await api(emu, 'POST', base, { ...secret('held'), metadata: { name: 'held', finalizers: ['example.com/keep'] } });

    const deleting = await api(emu, 'DELETE', `${base}/held`);
    const stillThere = await api(emu, 'GET', `${base}/held`);
    const released = await api(emu, 'PATCH', `${base}/held`, [{ op: 'remove', path: '/metadata/finalizers' }], {
      contentType: 'application/json-patch+json',
    });

    assert.equal(deleting.status, 200);
    assert.ok(deleting.body.metadata.deletionTimestamp);
    assert.equal(stillThere.status, 200);
    assert.equal(released.status, 200);
    assert.equal((await api(emu, 'GET', `${base}/held`)).status, 404);
  });

  it('checks delete preconditions', async () => {
    const created = (await api(emu, 'POST', base, secret('a'))).body;

    const wrongUid = await api(emu, 'DELETE', `${base}/a`, { preconditions: { uid: 'other' } });
    const rightRv = await api(emu, 'DELETE', `${base}/a`, { preconditions: { resourceVersion: created.metadata.resourceVersion } });

    assert.equal(wrongUid.status, 409);
    assert.match(wrongUid.body.message, /Precondition failed: UID in precondition: other/);
    assert.equal(rightRv.status, 200);
  });

  it('deletes a namespace with everything in it', async () => {
    await api(emu, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await api(emu, 'POST', '/api/v1/namespaces/team/secrets', secret('a'));
    await api(emu, 'POST', '/api/v1/namespaces/team/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
    await api(emu, 'POST', '/api/v1/namespaces/default/secrets', secret('survivor'));

    const deleted = await api(emu, 'DELETE', '/api/v1/namespaces/team');

    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.kind, 'Namespace');
    assert.equal(deleted.body.status.phase, 'Terminating');
    assert.equal((await api(emu, 'GET', '/api/v1/namespaces/team')).status, 404);
    assert.deepEqual(
      emu.list('v1', 'Secret').map((s) => s.metadata.name),
      ['survivor'],
    );
    assert.deepEqual(emu.list('v1', 'ConfigMap', 'team'), []);
    assert.equal(emu.get('v1', 'ServiceAccount', 'team', 'default'), undefined);
  });

  describe('a namespace being deleted (Terminating)', () => {
    // kube-apiserver's namespace strategy marks a deleted namespace (deletionTimestamp,
    // status.phase Terminating) while spec.finalizers holds "kubernetes"; the namespace controller
    // (pkg/controller/namespace/deletion/namespaced_resources_deleter.go) deletes its content,
    // then the namespace goes. Meanwhile NamespaceLifecycle
    // (k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go) refuses creates in
    // it with 403 and the NamespaceTerminating cause, and lets every other operation through.
    beforeEach(async () => {
      emu.namespaceDeletionDelayMs = 60_000;
      await api(emu, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
      await api(emu, 'POST', '/api/v1/namespaces/team/secrets', secret('a'));
    });

    it('stays Terminating with its content until the namespace controller is done', async () => {
      const deleted = await api(emu, 'DELETE', '/api/v1/namespaces/team');

      const read = await api(emu, 'GET', '/api/v1/namespaces/team');
      assert.equal(deleted.status, 200);
      assert.equal(read.status, 200);
      assert.equal(read.body.status.phase, 'Terminating');
      assert.deepEqual(read.body.spec.finalizers, ['kubernetes']);
      assert.match(read.body.metadata.deletionTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal((await api(emu, 'GET', '/api/v1/namespaces/team/secrets/a')).status, 200);
      assert.equal((await api(emu, 'DELETE', '/api/v1/namespaces/team')).body.status.phase, 'Terminating');
    });

    it('refuses creates in it with the real 403 and cause, and allows the rest', async () => {
      await api(emu, 'DELETE', '/api/v1/namespaces/team');

      const created = await api(emu, 'POST', '/api/v1/namespaces/team/secrets', secret('b'));
      const replaced = await api(emu, 'PUT', '/api/v1/namespaces/team/secrets/a', secret('a', { key: 'bmV3' }));
      const lease = await api(emu, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/team/leases/l', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'l' },
      });
      const removed = await api(emu, 'DELETE', '/api/v1/namespaces/team/secrets/a');

      assert.equal(created.status, 403);
      assert.equal(created.body.reason, 'Forbidden');
      assert.equal(
        created.body.message,
        'secrets "b" is forbidden: unable to create new content in namespace team because it is being terminated',
      );
      assert.deepEqual(created.body.details.causes, [
        { reason: 'NamespaceTerminating', message: 'namespace team is being terminated', field: 'metadata.namespace' },
      ]);
      assert.equal(lease.status, 403, 'a PUT that creates is a create');
      assert.equal(replaced.status, 200);
      assert.equal(removed.status, 200);
    });

    it('is removed with its content after the configured delay', async () => {
      emu.namespaceDeletionDelayMs = 20;
      await api(emu, 'DELETE', '/api/v1/namespaces/team');

      let status = 200;
      for (let i = 0; i < 100 && status === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        status = (await api(emu, 'GET', '/api/v1/namespaces/team')).status;
      }

      assert.equal(status, 404);
      assert.deepEqual(emu.list('v1', 'Secret', 'team'), []);
      assert.equal(
        (await api(emu, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } })).status,
        201,
      );
    });
  });

  it('creates the default ServiceAccount in new namespaces', async () => {
    await api(emu, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });

    assert.ok(emu.get('v1', 'ServiceAccount', 'team', 'default'));
  });

  it('offers direct typed access with the same semantics as HTTP', async () => {
    const created = emu.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { a: '1' } });

    const updated = emu.update({ ...created, data: { a: '2' } });
    assert.throws(
      () => emu.update({ ...created, data: { a: '3' } }),
      (err: Error & { code?: number }) => err.code === 409,
    );
    assert.equal(
      emu.get('v1', 'ConfigMap', 'default', 'cfg')?.data &&
        (emu.get('v1', 'ConfigMap', 'default', 'cfg')?.data as Record<string, string>).a,
      '2',
    );
    assert.equal(updated.kind, 'ConfigMap');
    assert.equal(emu.delete('v1', 'ConfigMap', 'default', 'cfg'), true);
    assert.equal(emu.get('v1', 'ConfigMap', 'default', 'cfg'), undefined);
    assert.throws(
      () => emu.delete('v1', 'ConfigMap', 'default', 'cfg'),
      (err: Error & { code?: number }) => err.code === 404,
    );
  });

  it('loads multi-document YAML with applyObjects (create then replace)', async () => {
    const yaml = `apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: app}\ndata: {a: "1"}\n---\n`;

    await emu.applyObjects(yaml);
    await emu.applyObjects(yaml.replace('a: "1"', 'a: "2"'));

    assert.deepEqual(emu.get('v1', 'ConfigMap', 'app', 'c')?.data, { a: '2' });
  });

  it('serves discovery with scopes, verbs and short names', async () => {
    const core = (await api(emu, 'GET', '/api/v1')).body;
    const apps = (await api(emu, 'GET', '/apis/apps/v1')).body;
    const groups = (await api(emu, 'GET', '/apis')).body;
    const version = (await api(emu, 'GET', '/version')).body;

    const ns = core.resources.find((r: { name: string }) => r.name === 'namespaces');
    const deploy = apps.resources.find((r: { name: string }) => r.name === 'deployments');
    assert.equal(ns.namespaced, false);
    assert.deepEqual(ns.shortNames, ['ns']);
    assert.deepEqual(deploy.shortNames, ['deploy']);
    assert.ok(apps.resources.some((r: { name: string }) => r.name === 'deployments/status'));
    assert.ok(groups.groups.some((g: { name: string }) => g.name === 'coordination.k8s.io'));
    assert.equal(version.gitVersion, 'v1.32.0');
  });

  it('rejects request bodies above the limit with 413', async () => {
    const small = await KubeEmulator.start({ maxRequestBodyBytes: 1024 });
    try {
      const res = await api(small, 'POST', base, secret('big', { k: Buffer.alloc(2048).toString('base64') }));
      assert.equal(res.status, 413);
      assert.equal(res.body.reason, 'RequestEntityTooLarge');
    } finally {
      await small.stop();
    }
  });
});
