import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { NAMESPACED_OVERLAY, scopeSettingsOf } from './installations.js';
import { type BindingObject, TOOL_NAMESPACE } from './rbac.js';
import { componentDirs, describeObject, kustomizationDirs, type ManifestObject, REPO_ROOT, renderManifests } from './render.js';

const EXPECTED_DIRS = [
  'manifests/base',
  'manifests/base/backup',
  'manifests/base/common',
  'manifests/base/restore',
  'manifests/base/rotate',
  'manifests/base/verify-restore',
  'manifests/jobs/rekey',
  'manifests/jobs/restore',
  'manifests/overlays/argo-rollouts',
  'manifests/overlays/aws-irsa',
  'manifests/overlays/aws-irsa/rekey',
  'manifests/overlays/aws-irsa/restore',
  'manifests/overlays/compare-live',
  'manifests/overlays/dr-site-verify-only',
  'manifests/overlays/minio',
  'manifests/overlays/minio/restore',
  'manifests/overlays/monitoring',
  'manifests/overlays/mysql-rotation',
  'manifests/overlays/namespaced',
  'manifests/overlays/namespaced/namespaces/payments',
  'manifests/overlays/namespaced/namespaces/web',
  'manifests/overlays/postgresql-rotation',
  'manifests/overlays/statefulset-forced-rollback',
];

const names = (objs: ManifestObject[], kind: string): string[] =>
  objs
    .filter((o) => o.kind === kind)
    .map((o) => o.metadata.name)
    .sort();

describe('manifests: kubectl kustomize', () => {
  it('finds every kustomization under manifests/ (each is rendered by the tests below)', () => {
    const dirs = kustomizationDirs();

    assert.deepEqual(dirs, EXPECTED_DIRS);
  });

  for (const dir of kustomizationDirs()) {
    it(`renders ${dir} without duplicate objects`, async () => {
      const objects = await renderManifests(dir);

      assert.ok(objects.length > 0, `${dir} rendered nothing`);
      const ids = objects.map(describeObject);
      assert.deepEqual(
        ids.filter((id, i) => ids.indexOf(id) !== i),
        [],
      );
    });
  }

  it('uses every component in some overlay, so each is rendered and validated', () => {
    const used = new Set<string>();
    for (const dir of kustomizationDirs()) {
      const k = parse(readFileSync(join(REPO_ROOT, dir, 'kustomization.yaml'), 'utf8')) as { components?: string[] };
      for (const c of k.components ?? []) used.add(join(dir, c));
    }

    assert.deepEqual(
      componentDirs().filter((c) => !used.has(c)),
      [],
    );
  });

  it('base: three CronJobs and no Job (the restore Job is created on purpose, not applied)', async () => {
    const objects = await renderManifests('manifests/base');

    assert.deepEqual(names(objects, 'CronJob'), ['secret-steward-backup', 'secret-steward-rotate', 'secret-steward-verify-restore']);
    assert.deepEqual(names(objects, 'Job'), []);
    assert.deepEqual(names(objects, 'ServiceAccount'), [
      'secret-steward-backup',
      'secret-steward-restore',
      'secret-steward-rotate',
      'secret-steward-verify-restore',
    ]);
    assert.deepEqual(names(objects, 'Namespace'), ['secret-steward', 'secret-steward-drill']);
  });

  it('jobs/restore: exactly the restore Job, dry run as shipped', async () => {
    const objects = await renderManifests('manifests/jobs/restore');

    assert.deepEqual(objects.map(describeObject), ['Job secret-steward/secret-steward-restore']);
    const args = (objects[0] as any).spec.template.spec.containers[0].args as string[];
    assert.equal(args[0], 'restore');
    assert.ok(args.includes('--dry-run'), 'the shipped restore Job must be a dry run');
  });

  it('jobs/rekey: the rekey Job with its own identity and settings, dry run as shipped, never the backup signing key', async () => {
    const objects = await renderManifests('manifests/jobs/rekey');

    assert.deepEqual(objects.map(describeObject).sort(), [
      'ConfigMap secret-steward/secret-steward-rekey',
      'Job secret-steward/secret-steward-rekey',
      'Role secret-steward/secret-steward-rekey',
      'RoleBinding secret-steward/secret-steward-rekey',
      'ServiceAccount secret-steward/secret-steward-rekey',
    ]);
    const pod = (objects.find((o) => o.kind === 'Job') as any).spec.template.spec;
    assert.equal(pod.serviceAccountName, 'secret-steward-rekey');
    assert.deepEqual(pod.containers[0].args, ['rekey', '--dry-run']);
    assert.deepEqual(
      pod.containers[0].envFrom.map((e: { configMapRef: { name: string } }) => e.configMapRef.name),
      ['secret-steward-store', 'secret-steward-rekey'],
    );
    // Every key file the settings name is in a mounted Secret volume, under the same item name.
    const data = (objects.find((o) => o.kind === 'ConfigMap') as any).data as Record<string, string>;
    const mountOf = new Map<string, string>(
      pod.containers[0].volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]),
    );
    for (const [key, path] of Object.entries(data).filter(([k]) => /KEY|PASSPHRASE/.test(k))) {
      const dir = path.slice(0, path.lastIndexOf('/'));
      const volume = pod.volumes.find((v: { name: string }) => v.name === mountOf.get(dir));
      assert.ok(volume?.secret, `${key}: ${path} is not in a mounted Secret`);
      assert.ok(
        volume.secret.items.some((i: { path: string }) => i.path === path.slice(dir.length + 1)),
        `${key}: ${path} is not an item of ${volume.secret.secretName}`,
      );
    }
    assert.equal(data.SECRET_STEWARD_SIGNING_KEY, undefined, 'rekey never holds the backup signing key');
    assert.ok(!pod.volumes.some((v: { secret?: { secretName: string } }) => v.secret?.secretName === 'secret-steward-signing-key'));
  });

  it('base: nothing of rekey (its identity comes with manifests/jobs/rekey)', async () => {
    const objects = await renderManifests('manifests/base');

    assert.deepEqual(
      objects
        .filter((o) => o.metadata.name.includes('rekey') || o.metadata.labels?.['app.kubernetes.io/component'] === 'rekey')
        .map(describeObject),
      [],
    );
  });

  it('dr-site-verify-only: only the drill as an Indexed Job, its identity and one drill namespace per fleet index', async () => {
    const objects = await renderManifests('manifests/overlays/dr-site-verify-only');

    assert.deepEqual(names(objects, 'CronJob'), ['secret-steward-verify-restore']);
    assert.deepEqual(names(objects, 'ServiceAccount'), ['secret-steward-verify-restore']);
    assert.deepEqual(names(objects, 'ClusterRole'), []);
    assert.deepEqual(names(objects, 'ClusterRoleBinding'), []);
    assert.deepEqual(names(objects, 'Namespace'), [
      'secret-steward',
      'secret-steward-drill-0',
      'secret-steward-drill-1',
      'secret-steward-drill-2',
    ]);
    const cronJob = objects.find((o) => o.kind === 'CronJob') as any;
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'secret-steward-verify-restore') as any;
    const store = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'secret-steward-store') as any;
    const fleet = (config.data.SECRET_STEWARD_FLEET_CLUSTER as string).split(',');
    assert.equal(cronJob.spec.jobTemplate.spec.completionMode, 'Indexed');
    assert.equal(cronJob.spec.jobTemplate.spec.completions, fleet.length, 'one completion index per cluster of the fleet');
    assert.equal(store.data.SECRET_STEWARD_CLUSTER_NAME, undefined, 'the fleet names the clusters');
  });

  it('compare-live: adds only the cluster-wide read for verify-restore and turns the check on', async () => {
    const base = (await renderManifests('manifests/base')).map(describeObject);
    const overlay = await renderManifests('manifests/overlays/compare-live');

    const added = overlay.map(describeObject).filter((id) => !base.includes(id));
    assert.deepEqual(added.sort(), [
      'ClusterRole secret-steward-verify-restore-compare-live',
      'ClusterRoleBinding secret-steward-verify-restore-compare-live',
    ]);
    const config = overlay.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'secret-steward-verify-restore') as any;
    assert.equal(config.data.SECRET_STEWARD_COMPARE_LIVE, 'true');
  });

  it('monitoring: adds only the PrometheusRule and the Grafana dashboard ConfigMap to the base', async () => {
    const base = (await renderManifests('manifests/base')).map(describeObject);
    const overlay = await renderManifests('manifests/overlays/monitoring');

    const added = overlay.map(describeObject).filter((id) => !base.includes(id));
    assert.deepEqual(added.sort(), ['ConfigMap secret-steward/secret-steward-dashboard', 'PrometheusRule secret-steward/secret-steward']);
    assert.equal(overlay.length, base.length + 2);
  });

  it('aws-irsa: ServiceAccounts of the jobs that use S3 carry a role, rotate none', async () => {
    const objects = await renderManifests('manifests/overlays/aws-irsa');

    const roles = Object.fromEntries(
      objects
        .filter((o) => o.kind === 'ServiceAccount')
        .map((o) => [o.metadata.name, o.metadata.annotations?.['eks.amazonaws.com/role-arn']]),
    );
    assert.match(roles['secret-steward-backup'] ?? '', /^arn:aws:iam::\d{12}:role\//);
    assert.match(roles['secret-steward-verify-restore'] ?? '', /^arn:aws:iam::\d{12}:role\//);
    assert.match(roles['secret-steward-restore'] ?? '', /^arn:aws:iam::\d{12}:role\//);
    assert.equal(roles['secret-steward-rotate'], undefined);
  });

  it('aws-irsa/rekey: the rekey Job with its own role and no static credentials', async () => {
    const objects = await renderManifests('manifests/overlays/aws-irsa/rekey');

    const sa = objects.find((o) => o.kind === 'ServiceAccount');
    assert.equal(sa?.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::111122223333:role/secret-steward-rekey');
    const pod = (objects.find((o) => o.kind === 'Job') as any).spec.template.spec;
    assert.ok(!pod.volumes.some((v: { name: string }) => v.name === 's3-credentials'));
    assert.ok(!pod.containers[0].env.some((e: { name: string }) => e.name === 'AWS_SHARED_CREDENTIALS_FILE'));
  });

  describe('namespaced', () => {
    const WORKLOAD_KINDS = ['secrets', 'deployments', 'statefulsets', 'daemonsets', 'cronjobs'];

    it('no ClusterRole touches Secrets or workloads; rotate has no cluster-wide binding at all', async () => {
      const objects = await renderManifests(NAMESPACED_OVERLAY);

      const touching = objects
        .filter((o) => o.kind === 'ClusterRole')
        .filter((o) =>
          ((o.rules ?? []) as { resources?: string[] }[]).some((r) => (r.resources ?? []).some((x) => WORKLOAD_KINDS.includes(x))),
        )
        .map(describeObject);
      assert.deepEqual(touching, []);
      assert.deepEqual(names(objects, 'ClusterRoleBinding'), ['secret-steward-backup', 'secret-steward-restore']);
    });

    it('rotate, backup and restore are told the namespaces they are bound in, and nothing else; secret-steward is not one', async () => {
      const objects = await renderManifests(NAMESPACED_OVERLAY);
      const scopes: Record<string, string[]> = scopeSettingsOf(objects);
      const boundIn = (job: string) =>
        objects
          .filter(
            (o): o is BindingObject =>
              o.kind === 'RoleBinding' &&
              o.metadata.namespace !== TOOL_NAMESPACE &&
              ((o as BindingObject).subjects ?? []).some((s) => s.name === `secret-steward-${job}`),
          )
          .map((o) => o.metadata.namespace)
          .sort();

      assert.deepEqual(scopes, {
        'secret-steward-backup': ['payments', 'web'],
        'secret-steward-restore': ['payments', 'web'],
        'secret-steward-rotate': ['payments', 'web'],
      });
      for (const job of ['rotate', 'backup', 'restore'])
        assert.deepEqual(boundIn(job), [...(scopes as Record<string, string[]>)[`secret-steward-${job}`]].sort(), job);
      assert.ok(!scopes['secret-steward-rotate'].includes(TOOL_NAMESPACE));
    });

    it('adds to the base only the Roles and RoleBindings of its namespaces', async () => {
      const base = (await renderManifests('manifests/base')).map(describeObject);
      const overlay = (await renderManifests(NAMESPACED_OVERLAY)).map(describeObject);

      const added = overlay.filter((id) => !base.includes(id));
      const removed = base.filter((id) => !overlay.includes(id));
      assert.deepEqual(
        added.sort(),
        ['payments', 'web']
          .flatMap((ns) =>
            ['backup', 'restore', 'rotate'].flatMap((job) => [
              `Role ${ns}/secret-steward-${job}-scope`,
              `RoleBinding ${ns}/secret-steward-${job}-scope`,
            ]),
          )
          .sort(),
      );
      assert.deepEqual(removed.sort(), ['ClusterRole secret-steward-rotate', 'ClusterRoleBinding secret-steward-rotate']);
    });
  });

  for (const dir of ['manifests/overlays/aws-irsa', 'manifests/overlays/aws-irsa/restore']) {
    it(`${dir}: no static credentials file anywhere`, async () => {
      const text = JSON.stringify(await renderManifests(dir));

      assert.doesNotMatch(text, /AWS_SHARED_CREDENTIALS_FILE|secret-steward-s3-credentials/);
    });
  }
});
