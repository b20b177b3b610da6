import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { eventually } from './helpers.js';
import type { StoredKubeObject } from './index.js';
import { KubeEmulator } from './index.js';

/** kubectl binary: $KUBECTL, else the one on PATH. */
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('test/emulator/kubectl', function () {
  this.timeout(60_000);
  let emu: KubeEmulator;
  let dir: string;
  let kubeconfig: string;

  /** Runs real kubectl against the emulator. */
  function kubectl(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        KUBECTL,
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
        { env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig }, timeout: 30_000 },
        (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        },
      );
    });
  }

  async function ok(...args: string[]): Promise<string> {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  async function file(name: string, content: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  before(async () => {
    const probe = await new Promise<boolean>((resolve) => execFile(KUBECTL, ['version', '--client'], (err) => resolve(!err)));
    if (!probe) throw new Error(`kubectl not found (${KUBECTL}); set KUBECTL`);
  });

  beforeEach(async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 20 });
    dir = await mkdtemp(join(tmpdir(), 'emulator-kubectl-'));
    kubeconfig = join(dir, 'kubeconfig');
    await emu.writeKubeconfig(kubeconfig);
  });
  afterEach(async () => {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('get ns / get secrets -A print tables', async () => {
    emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, data: { a: 'MQ==', b: 'Mg==' } });

    const ns = await ok('get', 'ns');
    const secrets = await ok('get', 'secrets', '-A');

    assert.match(ns, /^NAME\s+STATUS\s+AGE\n/);
    assert.match(ns, /\ndefault\s+Active\s+\d+s\n/);
    assert.match(secrets, /^NAMESPACE\s+NAME\s+TYPE\s+DATA\s+AGE\n/);
    assert.match(secrets, /\ndefault\s+db\s+Opaque\s+2\s+\d+s\n/);
  });

  it('get secret -o yaml / -o json / jsonpath', async () => {
    emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, data: { a: 'MQ==' } });

    const yaml = parse(await ok('get', 'secret', 'db', '-o', 'yaml')) as StoredKubeObject;
    const list = JSON.parse(await ok('get', 'secrets', '-o', 'json')) as { kind: string; items: StoredKubeObject[] };
    const jsonpath = await ok('get', 'secret', 'db', '-o', 'jsonpath={.data.a}');

    assert.equal(yaml.kind, 'Secret');
    assert.deepEqual(yaml.data, { a: 'MQ==' });
    assert.equal(list.kind, 'List');
    assert.equal(list.items[0].kind, 'Secret');
    assert.equal(jsonpath, 'MQ==');
  });

  it('create -f with validation on, and server-side strict field validation', async () => {
    const good = await file('s.yaml', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-file\nstringData:\n  password: hunter2\n');
    const bad = await file('bad.yaml', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: typo\nstringDta:\n  password: x\n');

    const out = await ok('create', '-f', good);
    const rejected = await kubectl('create', '-f', bad);
    const invalid = await kubectl('create', 'secret', 'generic', 'Bad_Name', '--from-literal=a=b');

    assert.match(out, /secret\/from-file created/);
    assert.equal(
      Buffer.from(String((emu.get('v1', 'Secret', 'default', 'from-file')?.data as Record<string, string>).password), 'base64').toString(),
      'hunter2',
    );
    assert.notEqual(rejected.code, 0);
    assert.match(rejected.stderr, /unknown field "stringDta"/);
    assert.match(invalid.stderr, /Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"/);
  });

  it('apply -f twice: create, then a three-way strategic merge patch', async () => {
    const manifest = (value: string, sidecar: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.25
        env:
        - {name: A, value: "1"}
        - {name: B, value: "${value}"}
      - name: ${sidecar}
        image: busybox:1
`;
    const path = await file('dep.yaml', manifest('2', 'side'));
    const first = await ok('apply', '-f', path);
    const unchanged = await ok('apply', '-f', path);
    // A field set by someone else must survive the apply (three-way merge, not replace).
    emu.patch('apps/v1', 'Deployment', 'default', 'web', 'application/strategic-merge-patch+json', {
      spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'INJECTED', value: 'x' }] }] } } },
    });
    await writeFile(path, manifest('3', 'side2'));

    const second = await ok('apply', '-f', path);

    const dep = emu.get('apps/v1', 'Deployment', 'default', 'web') as StoredKubeObject & {
      spec: { template: { spec: { containers: { name: string; env?: { name: string; value: string }[] }[] } } };
    };
    const containers = dep.spec.template.spec.containers;
    assert.match(first, /deployment.apps\/web created/);
    assert.match(second, /deployment.apps\/web configured/);
    assert.match(unchanged, /deployment.apps\/web unchanged/);
    assert.deepEqual(
      containers.map((c) => c.name),
      ['app', 'side2'],
    );
    assert.deepEqual(Object.fromEntries((containers[0].env ?? []).map((e) => [e.name, e.value])), { A: '1', B: '3', INJECTED: 'x' });
    const lastApplied = JSON.parse(dep.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] ?? '{}');
    assert.equal(lastApplied.spec.template.spec.containers[1].name, 'side2');
    const patch = emu.requests.entries.find((e) => e.method === 'PATCH' && e.resource === 'deployments');
    assert.ok(patch, 'the second apply sent a PATCH');
  });

  it('delete secret x and delete -f', async () => {
    const path = await file('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: "1"\n');
    emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gone', namespace: 'default' } });
    await ok('apply', '-f', path);

    const deleted = await ok('delete', 'secret', 'gone');
    const deletedFile = await ok('delete', '-f', path);
    const missing = await kubectl('delete', 'secret', 'gone');

    assert.match(deleted, /secret "gone" deleted/);
    assert.match(deletedFile, /configmap "cfg" deleted/);
    assert.equal(emu.get('v1', 'ConfigMap', 'default', 'cfg'), undefined);
    assert.match(missing.stderr, /Error from server \(NotFound\): secrets "gone" not found/);
  });

  it('rollout restart and rollout status', async () => {
    const path = await file(
      'dep.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: app, image: "nginx:1.25"}]\n',
    );
    await ok('apply', '-f', path);
    await ok('rollout', 'status', 'deployment/web', '--timeout=10s');

    const restarted = await ok('rollout', 'restart', 'deployment/web');
    const status = await ok('rollout', 'status', 'deployment/web', '--timeout=10s');

    const dep = emu.get('apps/v1', 'Deployment', 'default', 'web') as StoredKubeObject & {
      spec: { template: { metadata: { annotations?: Record<string, string> } } };
    };
    const restartedAt = dep.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'] ?? '';
    assert.match(restarted, /deployment.apps\/web restarted/);
    assert.match(status, /successfully rolled out/);
    assert.match(restartedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    await eventually(() => emu.workloads.rollouts.length === 2);
    assert.equal(emu.workloads.rollouts[1].templateAnnotations['kubectl.kubernetes.io/restartedAt'], restartedAt);
  });

  it('rollout status fails when the rollout exceeds its progress deadline', async () => {
    emu.workloads.progressDeadlineMs = 100;
    const path = await file(
      'dep.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: app\n        image: "nginx:1.25"\n        env: [{name: P, valueFrom: {secretKeyRef: {name: missing, key: p}}}]\n',
    );
    await ok('apply', '-f', path);

    const status = await kubectl('rollout', 'status', 'deployment/web', '--timeout=20s');

    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /exceeded its progress deadline/);
  });

  it('create secret generic --from-literal, label, annotate', async () => {
    await ok('create', 'secret', 'generic', 'creds', '--from-literal=user=admin', '--from-literal=password=s3cr3t');
    await ok('label', 'secret', 'creds', 'rotate=true');
    await ok('annotate', 'secret', 'creds', 'example.com/owner=team-a');
    const overwrite = await kubectl('label', 'secret', 'creds', 'rotate=false');
    await ok('label', 'secret', 'creds', 'rotate-');

    const s = emu.get('v1', 'Secret', 'default', 'creds') as StoredKubeObject;
    assert.equal(Buffer.from(String((s.data as Record<string, string>).password), 'base64').toString(), 's3cr3t');
    assert.equal(s.metadata.labels?.rotate, undefined);
    assert.equal(s.metadata.annotations?.['example.com/owner'], 'team-a');
    assert.notEqual(overwrite.code, 0, 'label without --overwrite refuses to change a value');
    const selected = await ok('get', 'secrets', '-l', 'rotate!=true', '-o', 'name');
    assert.equal(selected.trim(), 'secret/creds');
  });

  it('auth can-i answers from RBAC (as the anonymous identity)', async () => {
    const strict = await KubeEmulator.start({ anonymousIsAdmin: false });
    try {
      await emu.stop();
      emu = strict;
      await strict.writeKubeconfig(kubeconfig);
      await strict.applyObjects([
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'reader', namespace: 'default' },
          rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'anon-reader', namespace: 'default' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
          subjects: [{ kind: 'User', name: 'system:anonymous' }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'anon-basic' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:basic-user' },
          subjects: [{ kind: 'Group', name: 'system:unauthenticated' }],
        },
        // Like a real cluster, discovery is only for authenticated users unless granted.
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'anon-discovery' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:discovery' },
          subjects: [{ kind: 'Group', name: 'system:unauthenticated' }],
        },
      ]);

      const yes = await kubectl('auth', 'can-i', 'list', 'secrets');
      const no = await kubectl('auth', 'can-i', 'delete', 'secrets');
      const elsewhere = await kubectl('auth', 'can-i', 'list', 'secrets', '-n', 'kube-system');

      const whoami = await ok('auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}');

      assert.equal(yes.stdout.trim(), 'yes', yes.stderr);
      assert.equal(no.stdout.trim(), 'no');
      assert.equal(elsewhere.stdout.trim(), 'no');
      assert.equal(whoami, 'system:anonymous');
    } finally {
      await strict.stop();
      emu = await KubeEmulator.start();
    }
  });

  it('scale and get -o wide work on deployments', async () => {
    const path = await file(
      'dep.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: app, image: "nginx:1.25"}]\n',
    );
    await ok('apply', '-f', path);

    await ok('scale', 'deployment/web', '--replicas=3');
    await ok('rollout', 'status', 'deployment/web', '--timeout=10s');
    const table = await ok('get', 'deploy');

    assert.match(table, /\nweb\s+3\/3\s+3\s+3\s+\d+s\n/);
  });
});
