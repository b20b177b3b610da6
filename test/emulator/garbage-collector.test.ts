/**
 * The garbage collector against what kube-controller-manager's does. Sources cited per test:
 * - kubernetes/kubernetes pkg/controller/garbagecollector/garbagecollector.go (attemptToDeleteItem,
 *   classifyReferences, isDangling, processDeletingDependentsItem, attemptToOrphanWorker);
 * - staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
 *   (deletionFinalizersForGarbageCollection) and pkg/registry/batch/job/strategy.go
 *   (DefaultGarbageCollectionPolicy);
 * - test/e2e/apimachinery/garbage_collector.go;
 * - the docs pages "Garbage Collection" (concepts/architecture/garbage-collection) and "Owners and
 *   Dependents" (concepts/overview/working-with-objects/owners-dependents).
 */
import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import type { StoredKubeObject } from './index.js';
import { KubeEmulator } from './index.js';

describe('test/emulator/garbage-collector', () => {
  let emu: KubeEmulator;
  const secrets = '/api/v1/namespaces/default/secrets';

  beforeEach(async () => {
    emu = await KubeEmulator.start({ gcDelayMs: 5 });
  });
  afterEach(async () => {
    await emu.stop();
  });

  const sec = (name: string, ns = 'default') => secret(name, undefined, { metadata: { namespace: ns } });
  const get = (name: string, ns = 'default') => emu.get('v1', 'Secret', ns, name);
  const ownedBy = (owner: StoredKubeObject, extra: Record<string, unknown> = {}) => ({
    apiVersion: owner.apiVersion as string,
    kind: owner.kind as string,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    ...extra,
  });
  const dependent = (name: string, owners: unknown[], ns = 'default', finalizers?: string[]) =>
    emu.create(secret(name, undefined, { metadata: { namespace: ns, ownerReferences: owners, ...(finalizers ? { finalizers } : {}) } }));

  it('deletes the dependents of a deleted owner in the background, after the owner is gone', async function () {
    this.timeout(30_000);
    // A collector slower than any DELETE on a busy machine, so "still there right after" is not a race.
    await emu.stop();
    emu = await KubeEmulator.start({ gcDelayMs: 3_000 });
    // garbagecollector.go attemptToDeleteItem: no solid owner -> delete with Background unless the
    // item's finalizers say otherwise; store.go: a Background delete adds no finalizer, so the
    // owner is gone at once and the dependents follow asynchronously (docs: "Background cascading
    // deletion"; e2e garbage_collector.go "should delete pods created by rc when not orphaning").
    const head = emu.create(sec('head'));
    dependent('head-previous', [ownedBy(head)]);

    const res = await api(emu, 'DELETE', `${secrets}/head`);

    assert.equal(res.status, 200);
    assert.equal(get('head'), undefined);
    assert.ok(get('head-previous'), 'the collector is asynchronous: the dependent is still there right after the DELETE');
    await emu.gc?.idle();
    assert.equal(get('head-previous'), undefined);
    assert.deepEqual(
      emu.gc?.actions.map((a) => [a.action, a.name, a.detail]),
      [['delete', 'head-previous', 'Background']],
    );
  });

  it('deletes a dependent created with an owner uid that does not exist', async () => {
    // isDangling: an owner that is not found is absent; with no other owner the dependent is
    // deleted (docs, Owners and Dependents: "subject to deletion once all owners are verified absent").
    dependent('orphan-at-birth', [{ apiVersion: 'v1', kind: 'Secret', name: 'never-there', uid: '00000000-0000-0000-0000-000000000001' }]);

    await emu.gc?.idle();

    assert.equal(get('orphan-at-birth'), undefined);
  });

  it('deletes a dependent whose owner was recreated under the same name with a new uid', async () => {
    // isDangling: "item's owner is not found, UID mismatch" -> absent.
    const first = emu.create(sec('head'));
    dependent('head-pending', [ownedBy(first)]);
    await emu.gc?.idle();
    emu.delete('v1', 'Secret', 'default', 'head');
    const second = emu.create(sec('head'));

    await emu.gc?.idle();

    assert.equal(get('head')?.metadata.uid, second.metadata.uid, 'the new owner itself is untouched');
    assert.equal(get('head-pending'), undefined);
  });

  it('removes the dangling references of a dependent that still has an existing owner', async () => {
    // attemptToDeleteItem, case len(solid) != 0: "remove dangling references and waiting references for item".
    const a = emu.create(sec('a'));
    const b = emu.create(sec('b'));
    dependent('shared', [ownedBy(a), ownedBy(b)]);

    emu.delete('v1', 'Secret', 'default', 'a');
    await emu.gc?.idle();

    assert.deepEqual(
      get('shared')?.metadata.ownerReferences?.map((r) => r.name),
      ['b'],
    );
  });

  it('orphans the dependents with propagationPolicy Orphan: owner finalized first, references removed', async () => {
    // store.go deletionFinalizersForGarbageCollection adds "orphan"; attemptToOrphanWorker removes
    // the owner's reference from each dependent, then the finalizer (e2e garbage_collector.go
    // "should orphan pods created by rc if delete options say so").
    const head = emu.create(sec('head'));
    dependent('kept', [ownedBy(head)]);

    const res = await api(emu, 'DELETE', `${secrets}/head`, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Orphan' });

    assert.equal(res.status, 200);
    assert.deepEqual(res.body.metadata.finalizers, ['orphan'], 'answered with the object, being deleted');
    assert.ok(res.body.metadata.deletionTimestamp);
    await emu.gc?.idle();
    assert.equal(get('head'), undefined);
    assert.equal(get('kept')?.metadata.ownerReferences, undefined);
  });

  it('keeps a foreground-deleted owner until its blocking dependents are gone', async () => {
    // store.go adds "foregroundDeletion"; processDeletingDependentsItem removes it only when no
    // dependent with blockOwnerDeletion is left (API reference, OwnerReference.blockOwnerDeletion;
    // e2e "should keep the rc around until all its pods are deleted if the deleteOptions says so").
    const head = emu.create(sec('head'));
    dependent('blocker', [ownedBy(head, { blockOwnerDeletion: true })], 'default', ['example.com/hold']);
    dependent('non-blocking', [ownedBy(head)]);

    await api(emu, 'DELETE', `${secrets}/head`, { propagationPolicy: 'Foreground' });
    await emu.gc?.idle();

    assert.deepEqual(get('head')?.metadata.finalizers, ['foregroundDeletion']);
    assert.equal(get('non-blocking'), undefined);
    assert.ok(get('blocker')?.metadata.deletionTimestamp, 'the blocking dependent is being deleted, held by its own finalizer');
    const blocker = get('blocker') as StoredKubeObject;
    emu.update({ ...blocker, metadata: { ...blocker.metadata, finalizers: [] } });
    await emu.gc?.idle();
    assert.equal(get('blocker'), undefined);
    assert.equal(get('head'), undefined);
  });

  it('treats a namespaced owner in another namespace as absent, a cluster-scoped owner as valid', async () => {
    // Docs, Garbage Collection: "A namespaced owner must exist in the same namespace as the
    // dependent. If it does not, the owner reference is treated as absent"; "Namespaced dependents
    // can specify cluster-scoped or namespaced owners".
    emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
    const elsewhere = emu.create(sec('owner', 'other'));
    dependent('cross', [ownedBy(elsewhere)]);
    const role = emu.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'owner-role' },
      rules: [],
    });
    dependent('by-cluster-owner', [ownedBy(role)]);

    await emu.gc?.idle();
    assert.equal(get('cross'), undefined);
    assert.ok(get('by-cluster-owner'));
    emu.delete('rbac.authorization.k8s.io/v1', 'ClusterRole', undefined, 'owner-role');
    await emu.gc?.idle();
    assert.equal(get('by-cluster-owner'), undefined);
  });

  it('leaves alone dependents of kinds it cannot look up, and cluster-scoped ones naming namespaced owners', async () => {
    // isDangling: gc.apiResource fails for a kind without a REST mapping (a CRD not served) and the
    // item is retried, never deleted; a cluster-scoped item naming a namespaced owner gets
    // namespacedOwnerOfClusterScopedObjectErr (docs: "treated as having an unresolvable owner
    // reference, and is not able to be garbage collected").
    const crdOwner = {
      apiVersion: 'external-secrets.io/v1beta1',
      kind: 'ExternalSecret',
      name: 'es',
      uid: '00000000-0000-0000-0000-0000000000e5',
    };
    dependent('from-crd', [crdOwner]);
    const head = emu.create(sec('head'));
    emu.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'invalid-owner', ownerReferences: [ownedBy(head)] },
      rules: [],
    });

    emu.delete('v1', 'Secret', 'default', 'head');
    await emu.gc?.idle();

    assert.ok(get('from-crd'));
    assert.ok(emu.get('rbac.authorization.k8s.io/v1', 'ClusterRole', undefined, 'invalid-owner'));
  });

  it('orphans by default for batch/v1 Jobs, and honours orphanDependents', async () => {
    // pkg/registry/batch/job/strategy.go DefaultGarbageCollectionPolicy: OrphanDependents for
    // batch/v1 "for backwards compatibility"; DeleteOptions.orphanDependents=false is Background.
    const job = (name: string) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: 'default' },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
    });
    emu.create(job('legacy'));
    emu.create(job('cascading'));
    const jobs = '/apis/batch/v1/namespaces/default/jobs';

    const orphaned = await api(emu, 'DELETE', `${jobs}/legacy`);
    const cascaded = await api(emu, 'DELETE', `${jobs}/cascading`, { orphanDependents: false });

    assert.deepEqual(orphaned.body.metadata?.finalizers, ['orphan']);
    assert.equal(cascaded.body.status, 'Success');
    await emu.gc?.idle();
    assert.equal(emu.get('batch/v1', 'Job', 'default', 'legacy'), undefined);
  });

  it('refuses DeleteOptions that set both policies or an unknown one, like ValidateDeleteOptions', async () => {
    emu.create(sec('head'));

    const both = await api(emu, 'DELETE', `${secrets}/head`, { propagationPolicy: 'Orphan', orphanDependents: true });
    const unknown = await api(emu, 'DELETE', `${secrets}/head`, { propagationPolicy: 'Sometimes' });

    assert.equal(both.status, 422);
    assert.match(both.body.message, /orphanDependents and deletionPropagation cannot be both set/);
    assert.equal(unknown.status, 422);
    assert.match(unknown.body.message, /Unsupported value: "Sometimes"/);
    assert.ok(get('head'));
  });

  it('cascades nothing when started without a garbage collector', async () => {
    await emu.stop();
    emu = await KubeEmulator.start({ garbageCollector: false });
    const head = emu.create(sec('head'));
    dependent('head-previous', [ownedBy(head)]);

    await api(emu, 'DELETE', `${secrets}/head`, { propagationPolicy: 'Orphan' });
    await new Promise((r) => setTimeout(r, 30));

    assert.equal(emu.gc, undefined);
    assert.equal(get('head'), undefined, 'no orphan finalizer is added without a collector to remove it');
    assert.ok(get('head-previous'));
  });
});
