import assert from 'node:assert/strict';
import { describeObject, kustomizationDirs, type ManifestObject, podTemplatesOf, renderManifests } from './render.js';

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
interface Peer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
}
interface NetworkPolicy extends ManifestObject {
  spec: {
    podSelector: LabelSelector;
    policyTypes: string[];
    ingress?: unknown[];
    egress?: { to?: Peer[]; ports?: { protocol: string; port: number }[] }[];
  };
}

/** Renderings that install the tool (the restore-only ones rely on an installed base). */
const INSTALLS = kustomizationDirs().filter((d) => d === 'manifests/base' || /^manifests\/overlays\/[^/]+$/.test(d));

/** A label selector as the API server evaluates it (matchLabels and matchExpressions, ANDed). */
function matches(selector: LabelSelector, labels: Record<string, string>): boolean {
  return (
    Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
    (selector.matchExpressions ?? []).every((e) => {
      const has = Object.hasOwn(labels, e.key);
      if (e.operator === 'In') return has && (e.values ?? []).includes(labels[e.key]);
      if (e.operator === 'NotIn') return !has || !(e.values ?? []).includes(labels[e.key]);
      return e.operator === 'Exists' ? has : !has;
    })
  );
}

const selects = (policy: NetworkPolicy, labels: Record<string, string>): boolean => matches(policy.spec.podSelector, labels);

function ipv4(text: string): number {
  const parts = text.split('.').map(Number);
  assert.equal(parts.length, 4, text);
  return parts.reduce((n, p) => n * 256 + p, 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base) / size);
}

/** Where a pod connects to: an address, or a pod (with its namespace's labels). */
type Destination = { port: number; protocol?: 'TCP' | 'UDP' } & (
  | { ip: string }
  | { namespaceLabels: Record<string, string>; podLabels: Record<string, string> }
);

function peerMatches(peer: Peer, to: Destination): boolean {
  if (peer.ipBlock) return 'ip' in to && inCidr(to.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(to.ip, c));
  if (!('podLabels' in to)) return false;
  return (
    (peer.namespaceSelector === undefined || matches(peer.namespaceSelector, to.namespaceLabels)) &&
    (peer.podSelector === undefined || matches(peer.podSelector, to.podLabels))
  );
}

/**
 * Whether the policies let a pod with these labels open this connection, as a CNI decides:
 * allowed when no policy of type Egress selects the pod, else when one rule of one of them
 * matches the destination (no `to`: any; no `ports`: any).
 */
function egressAllowed(policies: readonly NetworkPolicy[], podLabels: Record<string, string>, to: Destination): boolean {
  const applicable = policies.filter((p) => p.spec.policyTypes.includes('Egress') && selects(p, podLabels));
  if (applicable.length === 0) return true;
  return applicable.some((p) =>
    (p.spec.egress ?? []).some(
      (rule) =>
        (rule.to === undefined || rule.to.some((peer) => peerMatches(peer, to))) &&
        (rule.ports === undefined || rule.ports.some((x) => x.port === to.port && x.protocol === (to.protocol ?? 'TCP'))),
    ),
  );
}

/** The policies and the pod labels of each job's pods in one rendering. */
async function rendered(dir: string): Promise<{
  policies: NetworkPolicy[];
  pod: (job: string) => Record<string, string>;
  has: (job: string) => boolean;
}> {
  const objects = await renderManifests(dir);
  const templates = objects.flatMap(podTemplatesOf);
  return {
    policies: objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy'),
    pod: (job) => {
      const t = templates.find((x) => x.owner.metadata.name === `secret-steward-${job}`);
      assert.ok(t, `${dir}: no pod template of ${job}`);
      return t.labels;
    },
    has: (job) => templates.some((x) => x.owner.metadata.name === `secret-steward-${job}`),
  };
}

/** The first address of the API server allowance: what an operator set (or the base's placeholder). */
function apiServerOf(policies: readonly NetworkPolicy[]): { ip: string; port: number } {
  const rule = policies.find((p) => p.metadata.name === 'secret-steward-allow-apiserver')?.spec.egress?.[0];
  const cidr = rule?.to?.[0]?.ipBlock?.cidr;
  assert.ok(cidr && rule?.ports?.[0], 'the API server allowance names an address and a port');
  return { ip: cidr.split('/')[0], port: rule.ports[0].port };
}

const KUBE_DNS = {
  namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
  podLabels: { 'k8s-app': 'kube-dns' },
};

/** Installations without the rotate job (checked: a rotate appearing there fails the test). */
const WITHOUT_ROTATE = new Set(['manifests/overlays/dr-site-verify-only']);

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

    if (WITHOUT_ROTATE.has(dir)) {
      it(`${dir}: has no rotate job, so no rotate egress to check`, async () => {
        assert.ok(!(await rendered(dir)).has('rotate'));
      });
    } else
      it(`${dir}: rotate reaches DNS and the API server it is given, and nothing else: no store, no address on 443`, async () => {
        const { policies, pod } = await rendered(dir);
        const rotate = pod('rotate');
        const apiServer = apiServerOf(policies);

        assert.ok(egressAllowed(policies, rotate, apiServer), 'the API server');
        assert.ok(egressAllowed(policies, rotate, { ...KUBE_DNS, port: 53, protocol: 'UDP' }), 'DNS');
        const denied: Destination[] = [
          { ip: '52.216.8.10', port: 443 }, // S3
          { ip: '203.0.113.7', port: 443 }, // anywhere on the internet
          { ip: '10.0.0.1', port: 443 }, // any private address...
          { ip: '192.168.1.20', port: 6443 }, // ...on either API server port
          { ip: apiServer.ip, port: 22 }, // the API server's address, another port
          { ...KUBE_DNS, port: 443 },
          { namespaceLabels: { 'kubernetes.io/metadata.name': 'minio' }, podLabels: { app: 'minio' }, port: 9000 },
        ];
        for (const to of denied) assert.ok(!egressAllowed(policies, rotate, to), `rotate may reach ${JSON.stringify(to)}`);
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

  it('manifests/base: the API server is a placeholder routed nowhere, not the private ranges; the store stays reachable for backup', async () => {
    const { policies, pod } = await rendered('manifests/base');

    assert.deepEqual(apiServerOf(policies), { ip: '192.0.2.1', port: 443 });
    for (const job of ['backup', 'verify-restore']) {
      assert.ok(egressAllowed(policies, pod(job), { ip: '52.216.8.10', port: 443 }), `${job} reaches S3`);
      assert.ok(!egressAllowed(policies, pod(job), { ip: '10.0.0.1', port: 6443 }), `${job} reaches a private address`);
    }
  });

  const databases = [
    {
      component: 'postgresql-rotation',
      overlayTitle: 'rotate reaches the API server and the databases the overlay names, nothing else',
      componentTitle: 'only the rotate pods may reach PostgreSQL, on 5432 at the addresses an overlay sets',
      port: 5432,
      another: 'another PostgreSQL',
      wrongPort: { port: 443, what: 'the database host on 443' },
    },
    {
      component: 'mysql-rotation',
      overlayTitle: 'rotate reaches the API server and the databases the overlay names on 3306, nothing else',
      componentTitle: 'only the rotate pods may reach MariaDB/MySQL, on 3306 at the addresses an overlay sets',
      port: 3306,
      another: 'another MySQL',
      wrongPort: { port: 5432, what: 'the database host on the PostgreSQL port' },
    },
  ];
  for (const db of databases) {
    const overlay = `manifests/overlays/${db.component}`;
    const policyName = `secret-steward-rotate-allow-${db.component.replace(/-rotation$/, '')}`;

    it(`overlays/${db.component}: ${db.overlayTitle}`, async () => {
      const { policies, pod } = await rendered(overlay);
      const rotate = pod('rotate');

      assert.ok(egressAllowed(policies, rotate, { ip: '172.20.0.10', port: 443 }), 'the API server');
      assert.ok(egressAllowed(policies, rotate, { ip: '10.20.30.5', port: db.port }), 'a named database');
      assert.ok(!egressAllowed(policies, rotate, { ip: '10.20.31.5', port: db.port }), db.another);
      assert.ok(!egressAllowed(policies, rotate, { ip: '10.20.30.5', port: db.wrongPort.port }), db.wrongPort.what);
      assert.ok(!egressAllowed(policies, rotate, { ip: '52.216.8.10', port: 443 }), 'the store');
      assert.ok(!egressAllowed(policies, pod('backup'), { ip: '10.20.30.5', port: db.port }), 'backup to the database');
    });

    it(`components/${db.component}: ${db.componentTitle}`, async () => {
      const objects = await renderManifests(overlay);
      const policy = objects.find((o): o is NetworkPolicy => o.kind === 'NetworkPolicy' && o.metadata.name === policyName);

      assert.ok(policy);
      const selected = objects
        .flatMap(podTemplatesOf)
        .filter((t) => selects(policy, t.labels))
        .map((t) => describeObject(t.owner));
      assert.deepEqual(selected, ['CronJob secret-steward/secret-steward-rotate']);
      assert.deepEqual(policy.spec.egress, [{ to: [{ ipBlock: { cidr: '10.20.30.0/24' } }], ports: [{ protocol: 'TCP', port: db.port }] }]);
      assert.equal(
        (await renderManifests('manifests/base')).some((o) => o.metadata.name === policyName),
        false,
        'not in the base',
      );
    });
  }
});
