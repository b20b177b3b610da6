import assert from 'node:assert/strict';
import type { V1Secret } from '@kubernetes/client-node';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  EventsV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  Watch,
} from '@kubernetes/client-node';
import { deployment } from './helpers.js';
import { KubeEmulator } from './index.js';

function clients(emu: KubeEmulator, token: string) {
  const kc = new KubeConfig();
  kc.loadFromString(emu.kubeconfigYaml({ token }));
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    leases: kc.makeApiClient(CoordinationV1Api),
    events: kc.makeApiClient(EventsV1Api),
  };
}

/** The Status object inside a client-node ApiException. */
function statusOf(err: unknown): { code: number; reason: string; message: string } {
  assert.ok(err instanceof ApiException, String(err));
  return JSON.parse(err.body as string) as { code: number; reason: string; message: string };
}

describe('test/emulator/client-node', () => {
  let emu: KubeEmulator;

  beforeEach(async () => {
    emu = await KubeEmulator.start({ anonymousIsAdmin: false });
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('does Secret CRUD with CoreV1Api and sends the bearer token over http', async () => {
    const { core } = clients(emu, 'emulator-admin');
    const body: V1Secret = { metadata: { name: 'db', labels: { app: 'x' } }, stringData: { password: 'p1' } };

    const created = await core.createNamespacedSecret({ namespace: 'default', body });
    const listed = await core.listNamespacedSecret({ namespace: 'default', labelSelector: 'app=x' });
    const read = await core.readNamespacedSecret({ name: 'db', namespace: 'default' });
    const replaced = await core.replaceNamespacedSecret({
      name: 'db',
      namespace: 'default',
      body: { ...read, data: { password: Buffer.from('p2').toString('base64') } },
    });
    const merged = await core.patchNamespacedSecret(
      { name: 'db', namespace: 'default', body: { metadata: { annotations: { rotated: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const jsonPatched = await core.patchNamespacedSecret({
      name: 'db',
      namespace: 'default',
      body: [{ op: 'replace', path: '/data/password', value: Buffer.from('p3').toString('base64') }],
    });

    assert.equal(created.data?.password, Buffer.from('p1').toString('base64'));
    assert.deepEqual(
      listed.items.map((s) => s.metadata?.name),
      ['db'],
    );
    assert.ok(listed.metadata?.resourceVersion);
    assert.equal(Buffer.from(replaced.data?.password ?? '', 'base64').toString(), 'p2');
    assert.equal(merged.metadata?.annotations?.rotated, 'yes');
    assert.equal(Buffer.from(jsonPatched.data?.password ?? '', 'base64').toString(), 'p3');
    assert.ok(
      emu.requests.entries.every((e) => e.user === 'emulator-admin'),
      'every request carried the admin token',
    );
    await core.deleteNamespacedSecret({ name: 'db', namespace: 'default' });
    await assert.rejects(core.readNamespacedSecret({ name: 'db', namespace: 'default' }), (err) => statusOf(err).reason === 'NotFound');
  });

  it('surfaces 409 Conflict and 403 Forbidden as ApiException with a Status body', async () => {
    const { core } = clients(emu, 'emulator-admin');
    const first = await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' } } });
    await core.replaceNamespacedSecret({ name: 's', namespace: 'default', body: { ...first, data: { a: 'MQ==' } } });
    const sa = clients(emu, emu.serviceAccountToken('default', 'nobody'));

    await assert.rejects(
      core.replaceNamespacedSecret({ name: 's', namespace: 'default', body: { ...first, data: { a: 'Mg==' } } }),
      (err) => {
        const status = statusOf(err);
        return status.code === 409 && status.reason === 'Conflict';
      },
    );
    await assert.rejects(sa.core.listSecretForAllNamespaces(), (err) => {
      const status = statusOf(err);
      return status.code === 403 && status.message.includes('"system:serviceaccount:default:nobody" cannot list resource "secrets"');
    });
  });

  it('paginates with limit and _continue', async () => {
    const { core } = clients(emu, 'emulator-admin');
    for (let i = 0; i < 7; i++) emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s${i}`, namespace: 'default' } });

    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await core.listNamespacedSecret({ namespace: 'default', limit: 3, _continue: token });
      names.push(...page.items.map((s) => s.metadata?.name ?? ''));
      token = page.metadata?._continue;
    } while (token);

    assert.deepEqual(names, ['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
  });

  it('manages Deployments with AppsV1Api, including a strategic-merge restart', async () => {
    const { apps } = clients(emu, 'emulator-admin');
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') as never });

    const patched = await apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: 'default',
        body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' } } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await emu.workloads.idle();
    const status = await apps.readNamespacedDeploymentStatus({ name: 'web', namespace: 'default' });

    assert.equal(patched.metadata?.generation, 2);
    assert.equal(status.status?.observedGeneration, 2);
    assert.equal(status.status?.updatedReplicas, 1);
  });

  it('does Lease CRUD with CoordinationV1Api (optimistic concurrency on renew)', async () => {
    const { leases } = clients(emu, 'emulator-admin');
    const now = new V1MicroTime();

    const lease = await leases.createNamespacedLease({
      namespace: 'default',
      body: {
        metadata: { name: 'lock' },
        spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      },
    });
    const renewed = await leases.replaceNamespacedLease({
      name: 'lock',
      namespace: 'default',
      body: { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime(now.getTime() + 1000) } },
    });
    const stale = leases.replaceNamespacedLease({
      name: 'lock',
      namespace: 'default',
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } },
    });
    // A plain Date serialises with 3 fractional digits; the real server's MicroTime decoder refuses it.
    const plainDate = leases.createNamespacedLease({
      namespace: 'default',
      body: { metadata: { name: 'bad' }, spec: { holderIdentity: 'a', renewTime: new Date() } },
    });

    assert.equal(renewed.spec?.holderIdentity, 'a');
    assert.match(String(renewed.spec?.renewTime), /\.\d{6}Z$/);
    await assert.rejects(stale, (err) => statusOf(err).code === 409);
    await assert.rejects(
      plainDate,
      (err) => statusOf(err).code === 400 && /cannot be handled as a Lease: parsing time/.test(statusOf(err).message),
    );
    await leases.deleteNamespacedLease({ name: 'lock', namespace: 'default' });
    assert.equal((await leases.listNamespacedLease({ namespace: 'default' })).items.length, 0);
  });

  it('writes events.k8s.io/v1 Events that core/v1 readers see too', async () => {
    const { events, core } = clients(emu, 'emulator-admin');

    await events.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'rotated.1' },
        eventTime: new V1MicroTime(),
        reportingController: 'secret-steward',
        reportingInstance: 'job-1',
        action: 'Rotate',
        reason: 'SecretRotated',
        note: 'rotated db',
        type: 'Normal',
        regarding: { kind: 'Secret', name: 'db', namespace: 'default' },
      },
    });
    const v1 = await events.listNamespacedEvent({ namespace: 'default' });
    const coreEvents = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=db' });

    assert.equal(v1.items[0].note, 'rotated db');
    assert.equal(coreEvents.items[0].message, 'rotated db');
    assert.equal(coreEvents.items[0].involvedObject.kind, 'Secret');
    assert.equal(coreEvents.items[0].reportingComponent, 'secret-steward');
  });

  it('feeds a client-node Watch and informer', async () => {
    const { kc } = clients(emu, 'emulator-admin');
    const seen: string[] = [];
    const watch = new Watch(kc);
    const request = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      {},
      (type, obj: { metadata: { name: string } }) => seen.push(`${type} ${obj.metadata.name}`),
      () => undefined,
    );
    const { core } = clients(emu, 'emulator-admin');
    const informer = makeInformer(kc, '/api/v1/namespaces/default/configmaps', () =>
      core.listNamespacedConfigMap({ namespace: 'default' }),
    );
    const added: string[] = [];
    informer.on('add', (obj) => added.push(obj.metadata?.name ?? ''));
    await informer.start();

    emu.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'default' } });
    await new Promise((r) => setTimeout(r, 200));
    request.abort();
    await informer.stop();

    assert.deepEqual(seen, ['ADDED c1']);
    assert.deepEqual(added, ['c1']);
  });
});
