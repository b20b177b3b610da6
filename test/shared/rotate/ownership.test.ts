import assert from 'node:assert/strict';
import { foreignManager, type OwnedObject } from '../../../shared/rotate/ownership.js';

const secret = (o: {
  type?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owners?: Array<{ kind: string; name: string; controller?: boolean }>;
}): OwnedObject => ({
  type: o.type ?? 'Opaque',
  metadata: { labels: o.labels, annotations: o.annotations, ownerReferences: o.owners },
});

describe('shared/rotate/ownership', () => {
  const rows: Array<[string, OwnedObject, string]> = [
    ['service-account tokens', secret({ type: 'kubernetes.io/service-account-token' }), 'Kubernetes (service-account token)'],
    ['bootstrap tokens', secret({ type: 'bootstrap.kubernetes.io/token' }), 'Kubernetes (bootstrap token)'],
    ['Helm release storage by type', secret({ type: 'helm.sh/release.v1' }), 'Helm'],
    ['Helm release storage by label', secret({ labels: { owner: 'helm' } }), 'Helm'],
    ['External Secrets by label', secret({ labels: { 'reconcile.external-secrets.io/managed': 'true' } }), 'External Secrets'],
    ['External Secrets by annotation', secret({ annotations: { 'reconcile.external-secrets.io/data-hash': 'abc' } }), 'External Secrets'],
    ['External Secrets by owner', secret({ owners: [{ kind: 'ExternalSecret', name: 'x' }] }), 'External Secrets'],
    ['Vault Secrets Operator', secret({ labels: { 'app.kubernetes.io/managed-by': 'hashicorp-vso' } }), 'Vault Secrets Operator'],
    ['sealed-secrets by owner', secret({ owners: [{ kind: 'SealedSecret', name: 'x', controller: true }] }), 'sealed-secrets'],
    ['sealed-secrets by annotation', secret({ annotations: { 'sealedsecrets.bitnami.com/managed': 'true' } }), 'sealed-secrets'],
    ['sealed-secrets keys', secret({ labels: { 'sealedsecrets.bitnami.com/sealed-secrets-key': 'active' } }), 'sealed-secrets'],
    [
      'cert-manager by annotation',
      secret({ type: 'kubernetes.io/tls', annotations: { 'cert-manager.io/certificate-name': 'web' } }),
      'cert-manager',
    ],
    ['cert-manager by label', secret({ labels: { 'controller.cert-manager.io/fao': 'true' } }), 'cert-manager'],
    ['mittwald generator', secret({ annotations: { 'secret-generator.v1.mittwald.de/autogenerate': 'password' } }), 'mittwald'],
    ['Reloader opt-out', secret({ annotations: { 'reloader.stakater.com/ignore': 'true' } }), 'Reloader opt-out'],
    [
      'any controller',
      secret({ owners: [{ kind: 'MyOperatorThing', name: 'x', controller: true }] }),
      'a controller (controller ownerReference MyOperatorThing/x)',
    ],
  ];
  for (const [label, obj, manager] of rows) {
    it(`recognises ${label}`, () => {
      const reason = foreignManager(obj);

      assert.ok(reason?.startsWith('managed by '), reason);
      assert.ok(reason?.includes(manager), reason);
    });
  }

  it('leaves ordinary Secrets alone, including non-controller owners and our own label', () => {
    const ordinary = secret({
      labels: { 'app.kubernetes.io/managed-by': 'secret-steward', app: 'api' },
      annotations: { 'reloader.stakater.com/ignore': 'false' },
      owners: [{ kind: 'Secret', name: 'parent', controller: false }],
    });

    assert.equal(foreignManager(ordinary), undefined);
    assert.equal(foreignManager({}), undefined);
  });
});
