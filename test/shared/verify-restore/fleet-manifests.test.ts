import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  DR_SITE_DRILL_NAMESPACE,
  DR_SITE_DRILL_NAMESPACES_PATH,
  DR_SITE_EXAMPLE_FLEET_SIZE,
  drillNamespaceObjects,
  drillNamespacesYamlText,
  type FleetManifest,
  fleetManifestProblems,
  fleetManifests,
  fleetManifestsYaml,
  fleetSizeFields,
} from '../../../shared/verify-restore/fleet-manifests.js';
import { describeObject, REPO_ROOT, renderManifests } from '../../manifests/render.js';

const DR_SITE = 'manifests/overlays/dr-site-verify-only';
const options = (size: number) => ({ size, drillNamespace: DR_SITE_DRILL_NAMESPACE, toolNamespace: 'secret-steward' });
const id = (o: FleetManifest) => describeObject(o);
const parseStream = (text: string) =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as FleetManifest | null)
    .filter((d) => d !== null);

describe('shared/verify-restore/fleet-manifests', () => {
  describe('the DR-site overlay is this code for its example fleet', () => {
    it(`${DR_SITE_DRILL_NAMESPACES_PATH} is what \`npm run docs:cli\` writes`, () => {
      const committed = readFileSync(join(REPO_ROOT, DR_SITE_DRILL_NAMESPACES_PATH), 'utf8');

      assert.equal(committed, drillNamespacesYamlText(), `${DR_SITE_DRILL_NAMESPACES_PATH} is stale: run npm run docs:cli`);
    });

    it('the per-index objects of a fleet of three are exactly the drill namespaces, quotas, Roles and RoleBindings the overlay renders', async () => {
      const rendered = await renderManifests(DR_SITE);
      const perIndex = Array.from({ length: DR_SITE_EXAMPLE_FLEET_SIZE }, (_, i) => drillNamespaceObjects(options(3), i)).flat();

      const inDrillNamespaces = rendered.filter((o) => /^secret-steward-drill-\d+$/.test(o.metadata.namespace ?? o.metadata.name));
      assert.deepEqual(inDrillNamespaces.map(describeObject).sort(), perIndex.map(id).sort());
      for (const o of perIndex)
        assert.deepEqual(
          rendered.find((r) => describeObject(r) === id(o)),
          o,
          id(o),
        );
    });

    it("the fields set for a fleet of three are the overlay's: completions, parallelism and the Lease names", async () => {
      const rendered = await renderManifests(DR_SITE);
      const [cronJob, role, policy] = fleetSizeFields(options(3)) as any[];
      const find = (o: FleetManifest) => rendered.find((r) => describeObject(r) === id(o)) as any;

      const job = find(cronJob).spec.jobTemplate.spec;
      assert.deepEqual(
        [job.completions, job.parallelism],
        [cronJob.spec.jobTemplate.spec.completions, cronJob.spec.jobTemplate.spec.parallelism],
      );
      assert.deepEqual(find(role).rules, role.rules);
      assert.deepEqual(find(policy).spec.validations, policy.spec.validations);
    });
  });

  describe('another fleet', () => {
    it('five clusters: a drill namespace per index, completions 5, parallelism 2, five Lease names', () => {
      const objects = fleetManifests(options(5));

      assert.deepEqual(
        objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
        [0, 1, 2, 3, 4].map((i) => `secret-steward-drill-${i}`),
      );
      for (const kind of ['ResourceQuota', 'RoleBinding'])
        assert.deepEqual(
          objects.filter((o) => o.kind === kind).map((o) => o.metadata.namespace),
          [0, 1, 2, 3, 4].map((i) => `secret-steward-drill-${i}`),
          kind,
        );
      const [cronJob, role, policy] = fleetSizeFields(options(5)) as any[];
      assert.deepEqual(cronJob.spec, { jobTemplate: { spec: { completions: 5, parallelism: 2 } } });
      const leases = [0, 1, 2, 3, 4].map((i) => `secret-steward-verify-restore-${i}`);
      assert.deepEqual(role.rules[1], {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: leases,
        verbs: ['get', 'update'],
      });
      assert.ok(policy.spec.validations[0].expression.endsWith(`object.metadata.name in [${leases.map((l) => `'${l}'`).join(', ')}])`));
    });

    it('one cluster: parallelism is never higher than completions', () => {
      const [cronJob] = fleetSizeFields(options(1)) as any[];

      assert.deepEqual(cronJob.spec.jobTemplate.spec, { completions: 1, parallelism: 1 });
    });

    it('another tool namespace: the ServiceAccount, CronJob, Role and the admission usernames follow it', () => {
      const objects = fleetManifests({ size: 1, drillNamespace: 'dr-drill', toolNamespace: 'dr-tools' }) as any[];

      assert.deepEqual(objects.find((o) => o.kind === 'RoleBinding').subjects, [
        { kind: 'ServiceAccount', name: 'secret-steward-verify-restore', namespace: 'dr-tools' },
      ]);
      assert.deepEqual(
        objects.filter((o) => o.kind === 'CronJob' || (o.kind === 'Role' && o.metadata.name === 'secret-steward-verify-restore')).map(id),
        ['CronJob dr-tools/secret-steward-verify-restore', 'Role dr-tools/secret-steward-verify-restore'],
      );
      const expression = objects.find((o) => o.kind === 'ValidatingAdmissionPolicy').spec.validations[0].expression as string;
      assert.ok(expression.startsWith("'system:serviceaccount:dr-tools:' + object.metadata.name"), expression);
      assert.ok(expression.includes("== 'system:serviceaccount:dr-tools:secret-steward-verify-restore'"), expression);
    });

    it('the YAML stream is the objects, in order, and holds nothing but those kinds', () => {
      const text = fleetManifestsYaml(options(4));

      const docs = parseStream(text);
      assert.deepEqual(docs, fleetManifests(options(4)));
      assert.deepEqual([...new Set(docs.map((d) => d.kind))].sort(), [
        'CronJob',
        'Namespace',
        'ResourceQuota',
        'Role',
        'RoleBinding',
        'ValidatingAdmissionPolicy',
      ]);
    });
  });

  describe('names that would not be valid', () => {
    const cases: Array<[string, { size: number; drillNamespace: string; toolNamespace: string }, string[]]> = [
      ['a valid fleet of 1000', { size: 1000, drillNamespace: DR_SITE_DRILL_NAMESPACE, toolNamespace: 'secret-steward' }, []],
      [
        'a drill namespace too long once the index is appended',
        { size: 10, drillNamespace: 'd'.repeat(62), toolNamespace: 'secret-steward' },
        [`drillNamespace: with the index appended (${'d'.repeat(62)}-9) is not a namespace name of at most 63 characters`],
      ],
      [
        'a tool namespace that is no namespace name',
        { size: 2, drillNamespace: DR_SITE_DRILL_NAMESPACE, toolNamespace: 'Secret_Steward' },
        ['lockNamespace: "Secret_Steward" is not a namespace name (DNS-1123 label)'],
      ],
    ];
    for (const [name, o, expected] of cases)
      it(name, () => {
        const problems = fleetManifestProblems(o);

        assert.deepEqual(
          problems.map((p) => `${p.setting}: ${p.message}`),
          expected,
        );
      });
  });
});
