import assert from 'node:assert/strict';
import {
  type BindingObject,
  bindsServiceAccount,
  DRILL_NAMESPACE,
  describePermission,
  namespacesOf,
  type Permission,
  permissionsOf,
  type RoleObject,
  rbacObjectsFor,
  serviceAccountName,
  TOOL_NAMESPACE,
  withoutPermission,
} from './rbac.js';
import {
  describeObject,
  JOBS,
  type JobName,
  kustomizationDirs,
  type ManifestObject,
  renderManifests,
  renderManifestsSync,
} from './render.js';

/**
 * What each job may do, as `<where> <verb> <group/>resource[names]`; where is `cluster` for a
 * ClusterRoleBinding or the namespace of a RoleBinding. This table is docs/operations.md's RBAC
 * table; a change to the manifests' permissions must change both.
 */
const lease = (job: JobName): string[] => [
  `secret-steward create coordination.k8s.io/leases`,
  `secret-steward get coordination.k8s.io/leases[secret-steward-${job}]`,
  `secret-steward update coordination.k8s.io/leases[secret-steward-${job}]`,
];
const EXPECTED: Record<JobName, string[]> = {
  backup: [
    'cluster list secrets',
    'cluster get namespaces[kube-system]',
    'secret-steward create events',
    ...lease('backup'),
    // Retention keeps what restore and verify-restore read (their Lease notes).
    'secret-steward get coordination.k8s.io/leases[secret-steward-restore,secret-steward-verify-restore]',
  ],
  rotate: [
    ...['get', 'list', 'create', 'update', 'patch', 'delete'].map((v) => `cluster ${v} secrets`),
    ...['deployments', 'statefulsets', 'daemonsets'].flatMap((r) => ['get', 'list', 'watch', 'patch'].map((v) => `cluster ${v} apps/${r}`)),
    ...['get', 'list', 'patch'].map((v) => `cluster ${v} batch/cronjobs`),
    'cluster create events',
    ...lease('rotate'),
  ],
  'verify-restore': [
    ...['create', 'list', 'deletecollection'].map((v) => `secret-steward-drill ${v} secrets`),
    ...lease('verify-restore'),
    'secret-steward create events',
  ],
  restore: [
    ...['get', 'list', 'create', 'update', 'delete'].map((v) => `cluster ${v} secrets`),
    'cluster get namespaces',
    'cluster create namespaces',
    'secret-steward create events',
    ...lease('restore'),
  ],
  // manifests/jobs/rekey brings rekey's identity; the base grants it nothing.
  rekey: [],
};

/**
 * rekey (manifests/jobs/rekey), in either installation: the backup job's Lease (it holds it, as
 * prune does; the lease policy keeps its create to that name and its note unwritten), the readers'
 * Leases and its Events. No Secret, no Namespace: what it re-encrypts is in the store.
 */
const EXPECTED_REKEY = [
  'secret-steward create coordination.k8s.io/leases',
  'secret-steward get coordination.k8s.io/leases[secret-steward-backup]',
  'secret-steward update coordination.k8s.io/leases[secret-steward-backup]',
  'secret-steward get coordination.k8s.io/leases[secret-steward-restore,secret-steward-verify-restore]',
  'secret-steward create events',
];

/**
 * The namespaced installation (manifests/overlays/namespaced, example namespaces payments and
 * web): the same Lease and Event rights in secret-steward, the ClusterRoles' Secret and workload
 * rules as Roles in each listed namespace, and cluster-wide only the Namespace kube-system (the
 * cluster's identity). The table of docs/operations.md for this installation.
 */
const inScope = (rights: string[]): string[] => ['payments', 'web'].flatMap((ns) => rights.map((r) => `${ns} ${r}`));
const EXPECTED_NAMESPACED: Record<JobName, string[]> = {
  backup: [...EXPECTED.backup.filter((g) => g !== 'cluster list secrets'), ...inScope(['list secrets'])],
  rotate: [
    ...EXPECTED.rotate.filter((g) => !g.startsWith('cluster ')),
    ...inScope(EXPECTED.rotate.filter((g) => g.startsWith('cluster ')).map((g) => g.slice('cluster '.length))),
    // Follow mode's digest key, made at install (overlays/namespaced/follow-key.yaml).
    'secret-steward get secrets[secret-steward-follow-key]',
  ],
  'verify-restore': EXPECTED['verify-restore'],
  restore: [
    ...EXPECTED.restore.filter((g) => !g.startsWith('cluster ')),
    'cluster get namespaces[kube-system]',
    ...inScope([...['get', 'list', 'create', 'update', 'delete'].map((v) => `${v} secrets`), 'get namespaces']),
  ],
  rekey: [],
};

/** What the ServiceAccount of `job` may do in a rendering, in the EXPECTED notation. */
function grantsOf(objects: ManifestObject[], job: JobName): string[] {
  const sa = serviceAccountName(job);
  const grants: string[] = [];
  for (const b of objects.filter(
    (o): o is BindingObject =>
      (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') && bindsServiceAccount(o as BindingObject, TOOL_NAMESPACE, sa),
  )) {
    const role = objects.find(
      (o) =>
        o.kind === b.roleRef.kind &&
        o.metadata.name === b.roleRef.name &&
        (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    assert.ok(role, `${describeObject(b)} refers to a missing ${b.roleRef.kind} ${b.roleRef.name}`);
    const where = b.kind === 'ClusterRoleBinding' ? 'cluster' : b.metadata.namespace!;
    for (const p of permissionsOf([role])) {
      const names = p.resourceNames.length > 0 ? `[${p.resourceNames.join(',')}]` : '';
      grants.push(`${where} ${p.verb} ${p.apiGroup === '' ? '' : `${p.apiGroup}/`}${p.resource}${names}`);
    }
  }
  return grants.sort();
}

const rolesIn = (objects: ManifestObject[]): RoleObject[] =>
  objects.filter((o): o is RoleObject => o.kind === 'Role' || o.kind === 'ClusterRole');
const bindingsIn = (objects: ManifestObject[]): BindingObject[] =>
  objects.filter((o): o is BindingObject => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');

describe('manifests: RBAC', () => {
  for (const job of JOBS) {
    it(`${job}: exactly the documented permissions`, async () => {
      const objects = await renderManifests('manifests/base');

      assert.deepEqual(grantsOf(objects, job), [...EXPECTED[job]].sort());
    });
  }

  for (const job of JOBS) {
    it(`namespaced: ${job}: exactly the documented permissions`, async () => {
      const objects = await renderManifests('manifests/overlays/namespaced');

      assert.deepEqual(grantsOf(objects, job), [...EXPECTED_NAMESPACED[job]].sort());
    });
  }

  it('jobs/rekey: exactly the documented permissions, and only for rekey', async () => {
    const objects = await renderManifests('manifests/jobs/rekey');

    assert.deepEqual(grantsOf(objects, 'rekey'), [...EXPECTED_REKEY].sort());
    for (const job of JOBS) assert.deepEqual(grantsOf(objects, job), [], job);
  });

  it('compare-live adds exactly cluster-wide list of Secrets, and only for verify-restore', async () => {
    const objects = await renderManifests('manifests/overlays/compare-live');

    assert.deepEqual(grantsOf(objects, 'verify-restore'), [...EXPECTED['verify-restore'], 'cluster list secrets'].sort());
    for (const job of JOBS.filter((j) => j !== 'verify-restore')) assert.deepEqual(grantsOf(objects, job), [...EXPECTED[job]].sort(), job);
  });

  it('statefulset-forced-rollback adds exactly cluster-wide list and delete of pods, and only for rotate', async () => {
    const objects = await renderManifests('manifests/overlays/statefulset-forced-rollback');

    assert.deepEqual(grantsOf(objects, 'rotate'), [...EXPECTED.rotate, 'cluster delete pods', 'cluster list pods'].sort());
    for (const job of JOBS.filter((j) => j !== 'rotate')) assert.deepEqual(grantsOf(objects, job), [...EXPECTED[job]].sort(), job);
  });

  it('argo-rollouts adds exactly cluster-wide get, list, watch and patch of Rollouts, and only for rotate', async () => {
    const objects = await renderManifests('manifests/overlays/argo-rollouts');

    assert.deepEqual(
      grantsOf(objects, 'rotate'),
      [...EXPECTED.rotate, ...['get', 'list', 'watch', 'patch'].map((v) => `cluster ${v} argoproj.io/rollouts`)].sort(),
    );
    for (const job of JOBS.filter((j) => j !== 'rotate')) assert.deepEqual(grantsOf(objects, job), [...EXPECTED[job]].sort(), job);
  });

  it('the DR site grants what verify-restore has in the base, once per fleet index', async () => {
    const objects = await renderManifests('manifests/overlays/dr-site-verify-only');
    const indexes = [0, 1, 2];

    assert.deepEqual(
      grantsOf(objects, 'verify-restore'),
      [
        ...indexes.flatMap((i) => ['create', 'list', 'deletecollection'].map((v) => `${DRILL_NAMESPACE}-${i} ${v} secrets`)),
        'secret-steward create coordination.k8s.io/leases',
        ...['get', 'update'].map(
          (v) => `secret-steward ${v} coordination.k8s.io/leases[${indexes.map((i) => `secret-steward-verify-restore-${i}`).join(',')}]`,
        ),
        'secret-steward create events',
      ].sort(),
    );
    for (const job of JOBS.filter((j) => j !== 'verify-restore')) assert.deepEqual(grantsOf(objects, job), [], job);
  });

  for (const dir of kustomizationDirs()) {
    it(`${dir}: no wildcard, no non-resource URL, no privilege-escalation verb, deletecollection only on drill copies, no watch on Secrets`, async () => {
      const roles = rolesIn(await renderManifests(dir));
      const rules = roles.flatMap((r) =>
        (r.rules ?? []).map((rule) => ({
          role: describeObject(r),
          // The fleet drill (dr-site-verify-only) has one drill namespace per index: <drill namespace>-<index>.
          inDrillNamespace: r.kind === 'Role' && new RegExp(`^${DRILL_NAMESPACE}(-\\d+)?$`).test(r.metadata.namespace ?? ''),
          rule,
        })),
      );

      for (const { role, inDrillNamespace, rule } of rules) {
        const fields = [...(rule.verbs ?? []), ...(rule.resources ?? []), ...(rule.apiGroups ?? []), ...(rule.resourceNames ?? [])];
        assert.ok(!fields.some((f) => f.includes('*')), `${role}: wildcard in ${JSON.stringify(rule)}`);
        assert.equal(rule.nonResourceURLs, undefined, role);
        assert.ok(!rule.verbs.some((v) => ['escalate', 'bind', 'impersonate'].includes(v)), `${role}: ${rule.verbs.join(',')}`);
        // Deleting by label is granted once: on Secrets in the drill namespace, which holds only
        // drill copies (verify-restore removes each batch with one request). Nowhere else.
        if (rule.verbs.includes('deletecollection'))
          assert.ok(
            inDrillNamespace && arrayEquals(rule.resources ?? [], ['secrets']),
            `${role}: deletecollection in ${JSON.stringify(rule)}`,
          );
        // A watch on Secrets would stream every change of every Secret to the job.
        assert.ok(!((rule.resources ?? []).includes('secrets') && rule.verbs.includes('watch')), `${role}: watch on secrets`);
        assert.ok(!(rule.resources ?? []).some((r) => r.includes('/')), `${role}: subresource granted`);
      }
    });

    it(`${dir}: every binding names a rendered role and ServiceAccount; every role is bound`, async () => {
      const objects = await renderManifests(dir);
      // A namespace of the namespaced overlay binds the ServiceAccounts the base renders.
      const accounts = objects.some((o) => o.kind === 'ServiceAccount')
        ? objects
        : [...objects, ...(await renderManifests('manifests/base'))];
      const roles = rolesIn(objects);
      const bindings = bindingsIn(objects);

      for (const b of bindings) {
        assert.ok(
          roles.some(
            (r) =>
              r.kind === b.roleRef.kind &&
              r.metadata.name === b.roleRef.name &&
              (r.kind === 'ClusterRole' || r.metadata.namespace === b.metadata.namespace),
          ),
          `${describeObject(b)}: no ${b.roleRef.kind} ${b.roleRef.name}`,
        );
        for (const s of b.subjects ?? []) {
          assert.equal(s.kind, 'ServiceAccount', describeObject(b));
          assert.ok(
            accounts.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === s.name && o.metadata.namespace === s.namespace),
            `${describeObject(b)}: no ServiceAccount ${s.namespace}/${s.name}`,
          );
        }
      }
      for (const r of roles) {
        assert.ok(
          bindings.some((b) => b.roleRef.kind === r.kind && b.roleRef.name === r.metadata.name),
          `${describeObject(r)} is bound by nothing`,
        );
        assert.equal((r as { aggregationRule?: unknown }).aggregationRule, undefined, describeObject(r));
      }
    });

    it(`${dir}: no ServiceAccount token is automounted`, async () => {
      const accounts = (await renderManifests(dir)).filter((o) => o.kind === 'ServiceAccount');

      for (const sa of accounts)
        assert.equal((sa as { automountServiceAccountToken?: boolean }).automountServiceAccountToken, false, describeObject(sa));
    });
  }

  it('who may write Secrets where: backup never, verify-restore only in the drill namespace', async () => {
    const objects = await renderManifests('manifests/overlays/compare-live');
    const writes = (job: JobName): string[] =>
      grantsOf(objects, job).filter((g) => /^(\S+) (create|update|patch|delete|deletecollection) secrets$/.test(g));

    assert.deepEqual(writes('backup'), []);
    assert.ok(
      writes('verify-restore').every((g) => g.startsWith(`${DRILL_NAMESPACE} `)),
      writes('verify-restore').join(', '),
    );
    assert.ok(writes('restore').includes('cluster create secrets'));
    assert.deepEqual(
      JOBS.filter((j) => grantsOf(objects, j).includes('cluster create namespaces')),
      ['restore'],
    );
  });

  describe('helpers for the end-to-end RBAC tests', () => {
    it('rbacObjectsFor: the job ServiceAccount, the roles bound to it and the bindings, nothing else', () => {
      const objects = rbacObjectsFor('verify-restore');

      assert.deepEqual(objects.map(describeObject).sort(), [
        'Role secret-steward-drill/secret-steward-verify-restore-drill',
        'Role secret-steward/secret-steward-verify-restore',
        'RoleBinding secret-steward-drill/secret-steward-verify-restore-drill',
        'RoleBinding secret-steward/secret-steward-verify-restore',
        'ServiceAccount secret-steward/secret-steward-verify-restore',
      ]);
      assert.deepEqual(namespacesOf(objects), [TOOL_NAMESPACE, DRILL_NAMESPACE].sort());
    });

    it('rbacObjectsFor with an overlay directory includes what the overlay adds', () => {
      const objects = rbacObjectsFor('verify-restore', { dir: 'manifests/overlays/compare-live' });

      assert.ok(objects.some((o) => o.kind === 'ClusterRole' && o.metadata.name === 'secret-steward-verify-restore-compare-live'));
    });

    it('permissionsOf lists one entry per verb, resource and group, with its rule', () => {
      const permissions = permissionsOf(rbacObjectsFor('backup')).map(describePermission);

      assert.deepEqual(permissions, [
        'Role secret-steward-backup (secret-steward) rule 0: create coordination.k8s.io/leases',
        'Role secret-steward-backup (secret-steward) rule 1: get coordination.k8s.io/leases [secret-steward-backup]',
        'Role secret-steward-backup (secret-steward) rule 1: update coordination.k8s.io/leases [secret-steward-backup]',
        'Role secret-steward-backup (secret-steward) rule 2: get coordination.k8s.io/leases [secret-steward-restore,secret-steward-verify-restore]',
        'Role secret-steward-backup (secret-steward) rule 3: create events',
        'ClusterRole secret-steward-backup rule 0: list secrets',
        'ClusterRole secret-steward-backup rule 1: get namespaces [kube-system]',
      ]);
    });

    it('withoutPermission removes exactly one permission and keeps the rest of its rule', () => {
      const objects = rbacObjectsFor('rotate');
      const key = (p: Permission): string =>
        `${p.roleKind} ${p.roleName} ${p.verb} ${p.apiGroup}/${p.resource} ${p.resourceNames.join(',')}`;
      const before = permissionsOf(objects).map(key);
      const target = permissionsOf(objects).find((p) => p.resource === 'statefulsets' && p.verb === 'list')!;

      const after = permissionsOf(withoutPermission(objects, target)).map(key);

      assert.deepEqual(after.sort(), before.filter((k) => k !== key(target)).sort());
      assert.equal(after.length, before.length - 1);
      assert.deepEqual(permissionsOf(objects).map(key), before, 'the input is not changed');
    });

    it('withoutPermission keeps resourceNames on what remains of a rule', () => {
      const objects = rbacObjectsFor('backup');
      const get = permissionsOf(objects).find((p) => p.resource === 'leases' && p.verb === 'get')!;

      const after = permissionsOf(withoutPermission(objects, get)).filter((p) => p.resource === 'leases');

      assert.deepEqual(
        after.map((p) => [p.verb, p.resourceNames]),
        [
          ['create', []],
          ['update', ['secret-steward-backup']],
          ['get', ['secret-steward-restore', 'secret-steward-verify-restore']],
        ],
      );
    });

    it('withoutPermission refuses a permission no role holds', () => {
      const objects = rbacObjectsFor('backup');
      const bogus = { ...permissionsOf(objects)[0], verb: 'delete' };

      assert.throws(() => withoutPermission(objects, bogus), /no role grants .*delete/);
    });

    it('renderManifestsSync and renderManifests agree', async () => {
      assert.deepEqual(renderManifestsSync('manifests/base'), await renderManifests('manifests/base'));
    });
  });
});

function arrayEquals(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
