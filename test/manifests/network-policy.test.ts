import assert from 'node:assert/strict';
import { describeObject, kustomizationDirs, type ManifestObject, podTemplatesOf, renderManifests } from './render.js';

interface Peer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: { matchLabels?: Record<string, string> };
}
interface NetworkPolicy extends ManifestObject {
  spec: {
    podSelector: { matchLabels?: Record<string, string> };
    policyTypes: string[];
    ingress?: unknown[];
    egress?: { to?: Peer[]; ports?: { protocol: string; port: number }[] }[];
  };
}

/** Renderings that install the tool (the restore-only ones rely on an installed base). */
const INSTALLS = kustomizationDirs().filter((d) => d === 'manifests/base' || /^manifests\/overlays\/[^/]+$/.test(d));

const selects = (policy: NetworkPolicy, labels: Record<string, string>): boolean =>
  Object.entries(policy.spec.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

describe('manifests: network policy', () => {
  for (const dir of INSTALLS) {
    it(`${dir}: every pod is under a default deny of ingress and egress`, async () => {
      const objects = await renderManifests(dir);
      const policies = objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');
      const deny = policies.find(
        (p) => p.spec.policyTypes.includes('Ingress') && p.spec.policyTypes.includes('Egress') && !p.spec.ingress && !p.spec.egress,
      );

      assert.ok(deny, `${dir}: no default-deny policy`);
      for (const t of objects.flatMap(podTemplatesOf))
        assert.ok(selects(deny, t.labels), `${dir}: ${describeObject(t.owner)} not selected`);
    });

    it(`${dir}: nothing may connect in; every egress allowance names its peers and ports`, async () => {
      const policies = (await renderManifests(dir)).filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');

      for (const p of policies) {
        assert.equal(p.spec.ingress, undefined, describeObject(p));
        for (const rule of p.spec.egress ?? []) {
          assert.ok((rule.to ?? []).length > 0, `${describeObject(p)}: egress to anywhere`);
          assert.ok((rule.ports ?? []).length > 0, `${describeObject(p)}: egress on every port`);
          for (const peer of rule.to ?? []) {
            if (peer.ipBlock?.cidr === '0.0.0.0/0') {
              assert.ok(
                peer.ipBlock.except?.includes('169.254.0.0/16'),
                `${describeObject(p)}: the instance metadata service must stay out of reach`,
              );
              assert.deepEqual(rule.ports, [{ protocol: 'TCP', port: 443 }], `${describeObject(p)}: the internet only on 443`);
            }
          }
        }
      }
    });

    it(`${dir}: DNS, the API server and the object store are each allowed`, async () => {
      const policies = (await renderManifests(dir)).filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');
      const byName = Object.fromEntries(policies.map((p) => [p.metadata.name, p]));

      const dns = byName['secret-steward-allow-dns']?.spec.egress?.[0];
      assert.deepEqual(dns?.to, [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ]);
      assert.deepEqual(dns?.ports?.map((p) => `${p.protocol}/${p.port}`).sort(), ['TCP/53', 'UDP/53']);
      assert.ok(byName['secret-steward-allow-apiserver']?.spec.egress?.length, 'API server');
      assert.ok(byName['secret-steward-allow-object-store']?.spec.egress?.length, 'object store');
    });
  }

  it('components/postgresql-rotation: only the rotate pods may reach PostgreSQL, on 5432 in the private ranges', async () => {
    const objects = await renderManifests('manifests/overlays/postgresql-rotation');
    const policy = objects.find(
      (o): o is NetworkPolicy => o.kind === 'NetworkPolicy' && o.metadata.name === 'secret-steward-rotate-allow-postgresql',
    );

    assert.ok(policy);
    const selected = objects
      .flatMap(podTemplatesOf)
      .filter((t) => selects(policy, t.labels))
      .map((t) => describeObject(t.owner));
    assert.deepEqual(selected, ['CronJob secret-steward/secret-steward-rotate']);
    assert.deepEqual(policy.spec.egress, [
      {
        to: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((cidr) => ({ ipBlock: { cidr } })),
        ports: [{ protocol: 'TCP', port: 5432 }],
      },
    ]);
    assert.equal(
      (await renderManifests('manifests/base')).some((o) => o.metadata.name === 'secret-steward-rotate-allow-postgresql'),
      false,
      'not in the base',
    );
  });
});
