import assert from 'node:assert/strict';
import { KubeEmulator } from '../emulator/index.js';
import { permissionsOf, rbacObjectsFor, serviceAccountName, TOOL_NAMESPACE, withoutPermission } from './rbac.js';
import { describeObject, JOBS, type JobName, ONE_OFF_JOBS, renderManifests } from './render.js';

/** `verb group/resource namespace/name` -> allowed? ('' group = core; '-' namespace = cluster-wide). */
type Access = [verb: string, resource: string, namespace: string, name: string, allowed: boolean];

const SAMPLES: Record<JobName, Access[]> = {
  backup: [
    ['list', 'secrets', '-', '', true],
    ['get', 'secrets', 'payments', 'db', false],
    ['create', 'events', TOOL_NAMESPACE, '', true],
    ['create', 'events', 'payments', '', false],
    ['create', 'coordination.k8s.io/leases', TOOL_NAMESPACE, '', true],
    ['update', 'coordination.k8s.io/leases', TOOL_NAMESPACE, 'secret-steward-backup', true],
    ['update', 'coordination.k8s.io/leases', TOOL_NAMESPACE, 'secret-steward-rotate', false],
    ['create', 'secrets', 'payments', '', false],
    ['watch', 'secrets', '-', '', false],
    ['patch', 'apps/deployments', 'payments', 'web', false],
  ],
  rotate: [
    ['update', 'secrets', 'payments', 'db', true],
    ['create', 'secrets', 'payments', '', true],
    ['patch', 'apps/deployments', 'payments', 'web', true],
    ['watch', 'apps/statefulsets', 'payments', 'db', true],
    ['watch', 'batch/cronjobs', 'payments', 'report', false],
    ['watch', 'secrets', 'payments', '', false],
    ['patch', 'batch/cronjobs', 'payments', 'report', true],
    ['get', 'coordination.k8s.io/leases', TOOL_NAMESPACE, 'secret-steward-rotate', true],
    ['update', 'apps/deployments', 'payments', 'web', false],
    ['create', 'namespaces', '-', '', false],
    ['delete', 'apps/deployments', 'payments', 'web', false],
  ],
  'verify-restore': [
    ['create', 'secrets', 'secret-steward-drill', '', true],
    ['list', 'secrets', 'secret-steward-drill', '', true],
    ['deletecollection', 'secrets', 'secret-steward-drill', '', true],
    ['delete', 'secrets', 'secret-steward-drill', 'x', false],
    ['get', 'secrets', 'secret-steward-drill', 'x', false],
    ['create', 'events', TOOL_NAMESPACE, '', true],
    ['update', 'secrets', 'secret-steward-drill', 'x', false],
    ['get', 'secrets', 'payments', 'db', false],
    ['list', 'secrets', '-', '', false],
    ['create', 'secrets', 'payments', '', false],
    ['create', 'events', 'payments', '', false],
  ],
  restore: [
    ['create', 'secrets', 'payments', '', true],
    ['update', 'secrets', 'payments', 'db', true],
    ['create', 'namespaces', '-', '', true],
    ['update', 'coordination.k8s.io/leases', TOOL_NAMESPACE, 'secret-steward-restore', true],
    ['create', 'events', TOOL_NAMESPACE, '', true],
    ['create', 'events', 'payments', '', false],
    ['patch', 'secrets', 'payments', 'db', false],
    ['patch', 'apps/deployments', 'payments', 'web', false],
    ['delete', 'namespaces', '-', 'payments', false],
  ],
  // From manifests/jobs/rekey.
  rekey: [
    ['create', 'coordination.k8s.io/leases', TOOL_NAMESPACE, '', true],
    ['update', 'coordination.k8s.io/leases', TOOL_NAMESPACE, 'secret-steward-backup', true],
    ['get', 'coordination.k8s.io/leases', TOOL_NAMESPACE, 'secret-steward-verify-restore', true],
    ['update', 'coordination.k8s.io/leases', TOOL_NAMESPACE, 'secret-steward-restore', false],
    ['create', 'events', TOOL_NAMESPACE, '', true],
    ['create', 'events', 'payments', '', false],
    ['get', 'secrets', TOOL_NAMESPACE, 'secret-steward-signing-key', false],
    ['list', 'secrets', '-', '', false],
    ['get', 'namespaces', '-', 'kube-system', false],
  ],
};

/** The namespaced installation (example scope payments, web): the same jobs, bound only there. */
const NAMESPACED_SAMPLES: Partial<Record<JobName, Access[]>> = {
  rotate: [
    ['update', 'secrets', 'payments', 'db', true],
    ['patch', 'apps/deployments', 'web', 'api', true],
    ['get', 'secrets', TOOL_NAMESPACE, 'secret-steward-restore-keys', false],
    ['list', 'secrets', TOOL_NAMESPACE, '', false],
    ['get', 'secrets', 'kube-system', 'x', false],
    ['list', 'secrets', '-', '', false],
    ['patch', 'apps/deployments', 'kube-system', 'coredns', false],
  ],
  backup: [
    ['list', 'secrets', 'payments', '', true],
    ['list', 'secrets', TOOL_NAMESPACE, '', false],
    ['list', 'secrets', '-', '', false],
    ['get', 'namespaces', 'kube-system', 'kube-system', true],
  ],
  restore: [
    ['create', 'secrets', 'web', '', true],
    ['get', 'namespaces', 'web', 'web', true],
    ['get', 'namespaces', 'kube-system', 'kube-system', true],
    ['get', 'secrets', TOOL_NAMESPACE, 'secret-steward-restore-keys', false],
    ['create', 'namespaces', '-', '', false],
    ['get', 'namespaces', 'other', 'other', false],
  ],
};

/** Kinds the emulator does not serve; the schema tests still validate them. */
const NOT_EMULATED = new Set(['ResourceQuota']);

async function canI(emu: KubeEmulator, token: string, [verb, resource, namespace, name]: Access): Promise<boolean> {
  const [group, plural] = resource.includes('/') ? resource.split('/') : ['', resource];
  const response = await fetch(`${emu.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: {
        resourceAttributes: { verb, group, resource: plural, ...(namespace === '-' ? {} : { namespace }), ...(name ? { name } : {}) },
      },
    }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { status: { allowed: boolean } }).status.allowed;
}

describe('manifests: RBAC loaded into the Kubernetes API emulator', () => {
  let emu: KubeEmulator;

  beforeEach(async () => {
    emu = await KubeEmulator.start({ anonymousIsAdmin: false });
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('the emulator accepts every object of the base and the restore Job (the kinds it serves)', async () => {
    const rendered = [...(await renderManifests('manifests/base')), ...(await renderManifests('manifests/jobs/restore'))];
    const objects = rendered.filter((o) => !NOT_EMULATED.has(o.kind));

    await emu.applyObjects(objects);

    for (const o of objects) assert.ok(emu.get(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name), describeObject(o));
  });

  for (const job of [...JOBS, ...ONE_OFF_JOBS]) {
    it(`${job}: its ServiceAccount may do what the table says and nothing of the samples beyond`, async () => {
      await emu.applyObjects(
        rbacObjectsFor(job, { dir: (ONE_OFF_JOBS as readonly string[]).includes(job) ? `manifests/jobs/${job}` : undefined }),
      );
      const token = emu.serviceAccountToken(TOOL_NAMESPACE, serviceAccountName(job));

      const results = await Promise.all(SAMPLES[job].map(async (a) => `${a.slice(0, 4).join(' ')} -> ${await canI(emu, token, a)}`));

      assert.deepEqual(
        results,
        SAMPLES[job].map((a) => `${a.slice(0, 4).join(' ')} -> ${a[4]}`),
      );
    });
  }

  for (const [job, samples] of Object.entries(NAMESPACED_SAMPLES) as [JobName, Access[]][]) {
    it(`namespaced: ${job}: its ServiceAccount may act in the listed namespaces only, never in secret-steward`, async () => {
      await emu.applyObjects(rbacObjectsFor(job, { dir: 'manifests/overlays/namespaced' }));
      const token = emu.serviceAccountToken(TOOL_NAMESPACE, serviceAccountName(job));

      const results = await Promise.all(samples.map(async (a) => `${a.slice(0, 4).join(' ')} -> ${await canI(emu, token, a)}`));

      assert.deepEqual(
        results,
        samples.map((a) => `${a.slice(0, 4).join(' ')} -> ${a[4]}`),
      );
    });
  }

  it('withoutPermission output loads and takes exactly that permission away', async () => {
    const objects = rbacObjectsFor('backup');
    const list = permissionsOf(objects).find((p) => p.resource === 'secrets' && p.verb === 'list')!;

    await emu.applyObjects(withoutPermission(objects, list));
    const token = emu.serviceAccountToken(TOOL_NAMESPACE, serviceAccountName('backup'));

    assert.equal(await canI(emu, token, ['list', 'secrets', '-', '', false]), false);
    assert.equal(await canI(emu, token, ['create', 'events', TOOL_NAMESPACE, '', true]), true);
  });
});
