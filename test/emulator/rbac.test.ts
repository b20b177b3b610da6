import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import { KubeEmulator } from './index.js';

const RBAC_YAML = `
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-rotator, namespace: app}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [db-creds]
  verbs: [get, update, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, patch]
- apiGroups: [apps]
  resources: [deployments/status]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rotator, namespace: app}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-rotator}
subjects:
- {kind: ServiceAccount, name: rotator, namespace: steward}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: lease-user}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leases, namespace: steward}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lease-user}
subjects:
- {kind: ServiceAccount, name: rotator}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: namespace-reader}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: readers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: namespace-reader}
subjects:
- {kind: Group, name: auditors}
- {kind: User, name: alice}
`;

describe('test/emulator/rbac', () => {
  let emu: KubeEmulator;
  let sa: string;

  before(async () => {
    emu = await KubeEmulator.start({ anonymousIsAdmin: false });
    await emu.applyObjects(RBAC_YAML);
    for (const name of ['db-creds', 'other']) emu.create({ ...secret(name), metadata: { name, namespace: 'app' } } as never);
    sa = emu.serviceAccountToken('steward', 'rotator');
    emu.addToken('alice-token', 'alice');
    emu.addToken('bob-token', 'bob', ['auditors']);
    emu.addToken('mallory-token', 'mallory');
  });
  after(async () => {
    await emu.stop();
  });

  const cases: [string, string, string, unknown, number][] = [
    ['list secrets in app', 'GET', '/api/v1/namespaces/app/secrets', undefined, 200],
    ['watch secrets in app', 'GET', '/api/v1/namespaces/app/secrets?watch=true&timeoutSeconds=1', undefined, 200],
    ['get the named secret', 'GET', '/api/v1/namespaces/app/secrets/db-creds', undefined, 200],
    ['get another secret', 'GET', '/api/v1/namespaces/app/secrets/other', undefined, 403],
    ['patch the named secret', 'PATCH', '/api/v1/namespaces/app/secrets/db-creds', { metadata: { labels: { r: '1' } } }, 200],
    ['create a secret (resourceNames cannot restrict create)', 'POST', '/api/v1/namespaces/app/secrets', secret('new'), 403],
    ['delete the named secret (verb not granted)', 'DELETE', '/api/v1/namespaces/app/secrets/db-creds', undefined, 403],
    ['list secrets in another namespace', 'GET', '/api/v1/namespaces/default/secrets', undefined, 403],
    ['list secrets cluster-wide', 'GET', '/api/v1/secrets', undefined, 403],
    ['read deployment status subresource', 'GET', '/apis/apps/v1/namespaces/app/deployments/web/status', undefined, 404],
    ['update deployment status subresource', 'PUT', '/apis/apps/v1/namespaces/app/deployments/web/status', {}, 403],
    [
      'create a lease in its own namespace (ClusterRole via RoleBinding)',
      'POST',
      '/apis/coordination.k8s.io/v1/namespaces/steward/leases',
      { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' } },
      201,
    ],
    [
      'create a lease elsewhere',
      'POST',
      '/apis/coordination.k8s.io/v1/namespaces/app/leases',
      { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' } },
      403,
    ],
    ['discovery', 'GET', '/apis/apps/v1', undefined, 200],
    ['version', 'GET', '/version', undefined, 200],
  ];
  for (const [title, method, path, body, expected] of cases) {
    it(`service account: ${title} -> ${expected}`, async () => {
      const res = await api(emu, method, path, body, {
        token: sa,
        contentType: method === 'PATCH' ? 'application/merge-patch+json' : undefined,
      });

      assert.equal(res.status, expected, res.text);
    });
  }

  it('forbids with the real message shape (namespace and cluster scope)', async () => {
    const namespaced = await api(emu, 'GET', '/api/v1/namespaces/default/secrets', undefined, { token: sa });
    const cluster = await api(emu, 'GET', '/api/v1/secrets', undefined, { token: sa });
    const named = await api(emu, 'GET', '/api/v1/namespaces/app/secrets/other', undefined, { token: sa });
    const apps = await api(emu, 'DELETE', '/apis/apps/v1/namespaces/app/deployments/web', undefined, { token: sa });

    assert.deepEqual(namespaced.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'secrets is forbidden: User "system:serviceaccount:steward:rotator" cannot list resource "secrets" in API group "" in the namespace "default"',
      reason: 'Forbidden',
      details: { kind: 'secrets' },
      code: 403,
    });
    assert.equal(
      cluster.body.message,
      'secrets is forbidden: User "system:serviceaccount:steward:rotator" cannot list resource "secrets" in API group "" at the cluster scope',
    );
    assert.equal(
      named.body.message,
      'secrets "other" is forbidden: User "system:serviceaccount:steward:rotator" cannot get resource "secrets" in API group "" in the namespace "app"',
    );
    assert.equal(
      apps.body.message,
      'deployments.apps "web" is forbidden: User "system:serviceaccount:steward:rotator" cannot delete resource "deployments" in API group "apps" in the namespace "app"',
    );
  });

  it('allows watching a single object through resourceNames via a metadata.name field selector', async () => {
    const one = await api(
      emu,
      'GET',
      '/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Ddb-creds&watch=true&timeoutSeconds=1',
      undefined,
      { token: sa },
    );

    assert.equal(one.status, 403, 'not in namespace default');
    emu.clearRbacDecisions();
    const ok = await api(emu, 'GET', '/api/v1/namespaces/app/secrets?fieldSelector=metadata.name%3Ddb-creds', undefined, { token: sa });
    assert.equal(ok.status, 200);
  });

  it('binds users and groups through ClusterRoleBindings', async () => {
    const alice = await api(emu, 'GET', '/api/v1/namespaces', undefined, { token: 'alice-token' });
    const bob = await api(emu, 'GET', '/api/v1/namespaces/app', undefined, { token: 'bob-token' });
    const mallory = await api(emu, 'GET', '/api/v1/namespaces', undefined, { token: 'mallory-token' });

    assert.equal(alice.status, 200);
    assert.equal(bob.status, 200);
    assert.equal(mallory.status, 403);
  });

  it('answers 401 for unknown tokens and 403 for anonymous requests when anonymous is not admin', async () => {
    const unknown = await api(emu, 'GET', '/api/v1/namespaces', undefined, { token: 'nope' });
    const anonymous = await api(emu, 'GET', '/api/v1/namespaces');
    const anonymousVersion = await api(emu, 'GET', '/version');

    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body.message, /User "system:anonymous" cannot list resource "namespaces"/);
    assert.equal(anonymousVersion.status, 200, '/version is public');
  });

  it('lets the admin token bypass RBAC', async () => {
    const res = await api(emu, 'GET', '/api/v1/secrets', undefined, { token: 'emulator-admin' });

    assert.equal(res.status, 200);
  });

  it('records which rule allowed each request', async () => {
    emu.clearRbacDecisions();

    await api(emu, 'GET', '/api/v1/namespaces/app/secrets/db-creds', undefined, { token: sa });
    await api(emu, 'GET', '/api/v1/namespaces/app/secrets', undefined, { token: sa });
    await api(
      emu,
      'POST',
      '/apis/coordination.k8s.io/v1/namespaces/steward/leases',
      { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l2' } },
      { token: sa },
    );
    await api(emu, 'GET', '/api/v1/namespaces/app/secrets/other', undefined, { token: sa });

    const d = emu.rbacDecisions();
    assert.deepEqual(
      d.map((x) => x.allowed),
      [true, true, true, false],
    );
    assert.deepEqual(d[0].matched, {
      bindingKind: 'RoleBinding',
      bindingName: 'rotator',
      bindingNamespace: 'app',
      roleKind: 'Role',
      roleName: 'secret-rotator',
      roleNamespace: 'app',
      ruleIndex: 1,
    });
    assert.equal(d[0].reason, 'RBAC: allowed by RoleBinding "rotator/app" of Role "secret-rotator" to ServiceAccount "steward/rotator"');
    assert.equal(d[1].matched?.ruleIndex, 0);
    assert.deepEqual(d[2].matched, {
      bindingKind: 'RoleBinding',
      bindingName: 'leases',
      bindingNamespace: 'steward',
      roleKind: 'ClusterRole',
      roleName: 'lease-user',
      ruleIndex: 0,
    });
    assert.equal(d[3].matched, undefined);
    assert.equal(emu.requests.entries.at(-1)?.authz?.allowed, false);
  });

  it('answers SelfSubjectAccessReviews and SelfSubjectRulesReviews', async () => {
    const review = (attrs: Record<string, string>) =>
      api(
        emu,
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attrs } },
        { token: sa },
      );

    const canList = await review({ namespace: 'app', verb: 'list', resource: 'secrets' });
    const canDelete = await review({ namespace: 'app', verb: 'delete', resource: 'secrets', name: 'db-creds' });
    const rules = await api(
      emu,
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 'app' } },
      { token: sa },
    );
    const whoami = await api(
      emu,
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      { token: sa },
    );

    assert.equal(canList.status, 201);
    assert.equal(canList.body.status.allowed, true);
    assert.match(canList.body.status.reason, /RoleBinding "rotator\/app"/);
    assert.equal(canDelete.body.status.allowed, false);
    assert.ok(rules.body.status.resourceRules.some((r: { resourceNames?: string[] }) => r.resourceNames?.includes('db-creds')));
    assert.equal(whoami.body.status.userInfo.username, 'system:serviceaccount:steward:rotator');
    assert.ok(whoami.body.status.userInfo.groups.includes('system:serviceaccounts:steward'));
  });

  it('checks impersonation like the real filter: impersonate on users, serviceaccounts and groups, by name, before the request', async () => {
    await emu.applyObjects([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'impersonate-alice' },
        rules: [{ apiGroups: [''], resources: ['users'], resourceNames: ['alice'], verbs: ['impersonate'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'mallory-as-alice' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'impersonate-alice' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mallory' }],
      },
    ] as never);
    const as = (token: string, headers: Record<string, string>) => api(emu, 'GET', '/api/v1/namespaces', undefined, { token, headers });

    const byServiceAccount = await as(sa, { 'Impersonate-User': 'alice' });
    const asAccount = await as(sa, { 'Impersonate-User': 'system:serviceaccount:kube-system:default' });
    const asAlice = await as('mallory-token', { 'Impersonate-User': 'alice' });
    const asMasters = await as('mallory-token', { 'Impersonate-User': 'alice', 'Impersonate-Group': 'system:masters' });
    const adminAsMallory = await as('emulator-admin', { 'Impersonate-User': 'mallory' });

    assert.equal(byServiceAccount.status, 403);
    assert.equal(
      byServiceAccount.body.message,
      'users "alice" is forbidden: User "system:serviceaccount:steward:rotator" cannot impersonate resource "users" in API group "" at the cluster scope',
    );
    assert.match(
      asAccount.body.message,
      /^serviceaccounts "default" is forbidden: .* cannot impersonate resource "serviceaccounts" in API group "" in the namespace "kube-system"$/,
    );
    assert.equal(asAlice.status, 200, 'alice may list namespaces');
    assert.equal(emu.requests.entries.at(-3)?.user, 'alice');
    assert.equal(asMasters.status, 403);
    assert.match(asMasters.body.message, /^groups "system:masters" is forbidden/);
    assert.equal(adminAsMallory.status, 403, 'the admin acts as mallory, who may not list namespaces');
  });

  it('resolves aggregated ClusterRoles', async () => {
    await emu.applyObjects([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'agg' },
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate': 'true' } }] },
        rules: [],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'part', labels: { 'example.com/aggregate': 'true' } },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'agg' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'agg' },
        subjects: [{ kind: 'User', name: 'mallory' }],
      },
    ]);

    const res = await api(emu, 'GET', '/api/v1/configmaps', undefined, { token: 'mallory-token' });

    assert.equal(res.status, 200);
    assert.equal(emu.rbacDecisions().at(-1)?.matched?.aggregatedFrom, 'part');
  });
});

describe('test/emulator/rbac: a PUT that creates', () => {
  // UpdateResource (k8s.io/apiserver/pkg/endpoints/handlers/update.go) wraps the create
  // validation of an update that creates (strategies with AllowCreateOnUpdate: Leases, Events,
  // RBAC objects, ServiceAccounts; not Secrets) in withAuthorization: verb `create` is authorized
  // as well and a denial is 403 with the authorizer's reason, which RBAC leaves empty. A create
  // answers 201 Created, as the handler does when the store reports `created`.
  let emu: KubeEmulator;
  const lease = (name: string) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name } });
  const path = (name: string) => `/apis/coordination.k8s.io/v1/namespaces/steward/leases/${name}`;

  beforeEach(async () => {
    emu = await KubeEmulator.start();
    await emu.applyObjects(`
apiVersion: v1
kind: Namespace
metadata: {name: steward}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: lease-updater, namespace: steward}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, update]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [named]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: lease-updater, namespace: steward}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: lease-updater}
subjects:
- {kind: ServiceAccount, name: job, namespace: steward}
`);
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('needs create besides update, matched by name, and answers 201', async () => {
    const token = emu.serviceAccountToken('steward', 'job');

    const denied = await api(emu, 'PUT', path('other'), lease('other'), { token });
    const created = await api(emu, 'PUT', path('named'), lease('named'), { token });
    const replaced = await api(emu, 'PUT', path('named'), created.body, { token });

    assert.equal(denied.status, 403);
    assert.equal(denied.body.message, 'leases.coordination.k8s.io "other" is forbidden: ');
    assert.equal(emu.get('coordination.k8s.io/v1', 'Lease', 'steward', 'other'), undefined);
    assert.equal(created.status, 201);
    assert.equal(replaced.status, 200);
    assert.deepEqual(
      emu
        .rbacDecisions()
        .filter((d) => d.resource === 'leases')
        .map((d) => `${d.verb} ${d.name} ${d.allowed}`),
      ['update other true', 'create other false', 'update named true', 'create named true', 'update named true'],
    );
  });

  it('is 404 for resources that do not create on update (Secrets), whatever the RBAC', async () => {
    const res = await api(emu, 'PUT', '/api/v1/namespaces/steward/secrets/s', secret('s'));

    assert.equal(res.status, 404);
    assert.equal(res.body.message, 'secrets "s" not found');
  });
});
