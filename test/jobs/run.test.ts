import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { runCommand } from '../../jobs/run.js';
import type { StoredKubeObject } from '../emulator/index.js';
import { renderManifests } from '../manifests/render.js';
import { type Harness, startHarness } from '../support/job-harness.js';

/**
 * `secret-steward run` against the emulator, its Job controller stand-in running the pods
 * (test/emulator/job-controller.ts). The Job is built as kubectl's `create job --from=cronjob/`
 * builds it (kubernetes/kubernetes staging/src/k8s.io/kubectl/pkg/cmd/create/create_job.go,
 * createJobFromCronJob): the jobTemplate's spec, labels and annotations, annotation
 * cronjob.kubernetes.io/instantiate=manual, and a controller ownerReference to the CronJob without
 * blockOwnerDeletion. The whole backup / drill / restore path, as docs/one-off-jobs.md gives it,
 * runs in test/sandbox/one-off-jobs.test.ts.
 */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NS = 'secret-steward';

interface JobLike {
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences?: unknown[];
  };
  spec: { template: { spec: { serviceAccountName?: string; containers: { name: string; args: string[] }[] } } };
}

describe('jobs/run', function () {
  this.timeout(120_000);
  let h: Harness;
  let cronJobUid: string;

  beforeEach(async () => {
    h = await startHarness();
    h.emulator.jobs.enable({ repoRoot: REPO_ROOT });
    const base = await renderManifests('manifests/base');
    await h.emulator.applyObjects(base.filter((o) => o.kind === 'Namespace' || o.kind === 'CronJob'));
    cronJobUid = (h.emulator.get('batch/v1', 'CronJob', NS, 'secret-steward-backup') as StoredKubeObject).metadata.uid;
  });
  afterEach(async () => h?.stop());

  const kube = () => ['--kubeconfig', h.kubeconfig, '--poll-interval', '100ms'];
  const jobs = () => h.emulator.list('batch/v1', 'Job', NS);

  /** A CronJob whose pods lack every setting: backup exits 2, and the FailJob rule ends the Job. */
  const bareBackupCronJob = () =>
    h.emulator.applyObjects([
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'bare-backup', namespace: NS },
        spec: {
          schedule: '0 0 * * *',
          jobTemplate: {
            spec: {
              backoffLimit: 2,
              podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [2, 3] } }] },
              template: {
                spec: { restartPolicy: 'Never', containers: [{ name: 'secret-steward', image: 'secret-steward:test', args: ['backup'] }] },
              },
            },
          },
        },
      },
    ]);

  it('--dry-run prints the Job kubectl create job --from=cronjob would make, with the arguments appended, and creates nothing', async () => {
    const r = await h.run(runCommand, ['backup', ...kube(), '--dry-run', '--', '--exclude-namespace', 'kube-system', '--allow-empty']);

    assert.equal(r.code, 0, r.stderr);
    const job = parseYaml(r.stdout) as JobLike;
    assert.match(job.metadata.name, /^secret-steward-backup-manual-\d{8}-\d{6}$/);
    assert.equal(job.metadata.namespace, NS);
    assert.equal(job.metadata.annotations['cronjob.kubernetes.io/instantiate'], 'manual');
    assert.equal(job.metadata.labels['secret-steward.io/run'], 'manual');
    assert.equal(job.metadata.labels['app.kubernetes.io/component'], 'backup');
    assert.deepEqual(job.metadata.ownerReferences, [
      { apiVersion: 'batch/v1', kind: 'CronJob', name: 'secret-steward-backup', uid: cronJobUid, controller: true },
    ]);
    const container = job.spec.template.spec.containers.find((c) => c.name === 'secret-steward');
    assert.deepEqual(container?.args, ['backup', '--exclude-namespace', 'kube-system', '--allow-empty']);
    assert.equal(jobs().length, 0);
  });

  it('checks the arguments with the command own options first: a typo is exit 2 and no Job', async () => {
    const r = await h.run(runCommand, ['backup', ...kube(), '--', '--keep-daly', '3', '--shrink-threshold', 'lots']);

    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid arguments for backup, no Job created \(2 problems\)/);
    assert.match(r.stderr, /backup --keep-daly: unknown option \(did you mean --keep-daily\?\)/);
    assert.match(r.stderr, /backup --shrink-threshold \/ SECRET_STEWARD_SHRINK_THRESHOLD: invalid value/);
    assert.equal(
      h.emulator.requests.count((q) => q.verb === 'create' && q.resource === 'jobs'),
      0,
    );
  });

  it('restore comes from the Job manifest, its example arguments replaced; without --job-file it is exit 2', async () => {
    const missing = await h.run(runCommand, ['restore', ...kube(), '--', '--backup', 'latest']);
    const r = await h.run(runCommand, [
      'restore',
      ...kube(),
      '--job-file',
      join(REPO_ROOT, 'manifests/jobs/restore/restore-job.yaml'),
      '--dry-run',
      '--',
      '--backup',
      'latest',
      '--namespace',
      'payments',
    ]);

    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--job-file .*restore has no CronJob/);
    assert.equal(r.code, 0, r.stderr);
    const job = parseYaml(r.stdout) as JobLike;
    assert.match(job.metadata.name, /^secret-steward-restore-manual-/);
    assert.equal(job.metadata.ownerReferences, undefined);
    assert.deepEqual(job.spec.template.spec.containers[0].args, ['restore', '--backup', 'latest', '--namespace', 'payments']);
  });

  it('rekey comes from its Job manifest (manifests/jobs/rekey), its --dry-run replaced; its arguments are checked with rekey options', async () => {
    const file = join(REPO_ROOT, 'manifests/jobs/rekey/rekey-job.yaml');
    const missing = await h.run(runCommand, ['rekey', ...kube(), '--', '--only', '20261127T031500Z-3f9a1c']);
    const typo = await h.run(runCommand, ['rekey', ...kube(), '--job-file', file, '--dry-run', '--', '--recipient', 'x']);
    const r = await h.run(runCommand, ['rekey', ...kube(), '--job-file', file, '--dry-run', '--', '--only', '20261127T031500Z-3f9a1c']);

    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--job-file .*rekey has no CronJob: give its Job manifest \(manifests\/jobs\/rekey\/rekey-job\.yaml/);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /--recipient/);
    assert.equal(r.code, 0, r.stderr);
    const job = parseYaml(r.stdout) as JobLike;
    assert.match(job.metadata.name, /^secret-steward-rekey-manual-/);
    assert.equal(job.spec.template.spec.serviceAccountName, 'secret-steward-rekey');
    assert.deepEqual(job.spec.template.spec.containers[0].args, ['rekey', '--only', '20261127T031500Z-3f9a1c']);
  });

  it('exits with the exit code of the Job container and streams its log', async () => {
    await bareBackupCronJob();

    const r = await h.run(runCommand, ['backup', ...kube(), '--cronjob', 'bare-backup']);

    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, /secret-steward backup: invalid configuration/);
    const failed = r.records.find((x) => x.msg === 'Job failed');
    assert.equal(failed?.reason, 'PodFailurePolicy');
    assert.equal(failed?.exitCode, 2);
    assert.equal(jobs().length, 1);
  });

  describe('as an operator without a permission', () => {
    /** An identity with exactly the permissions docs/one-off-jobs.md lists, less `without`. */
    async function operator(without: string): Promise<string> {
      const rules = [
        { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      ]
        .map((rule) => ({ ...rule, verbs: rule.verbs.filter((v) => `${v} ${rule.resources[0]}` !== without) }))
        .filter((rule) => rule.verbs.length > 0);
      await h.emulator.applyObjects([
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'operator', namespace: NS }, rules },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'operator', namespace: NS },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'operator' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'operator' }],
        },
      ]);
      h.emulator.addToken('operator-token', 'operator');
      const file = join(h.dir, 'operator.kubeconfig');
      await h.emulator.writeKubeconfig(file, { token: 'operator-token' });
      return file;
    }

    it('lacking "create jobs": exit 2 naming the permission, nothing created', async () => {
      const kubeconfig = await operator('create jobs');

      const r = await h.run(runCommand, ['backup', '--kubeconfig', kubeconfig]);

      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /failed to create Job secret-steward\/secret-steward-backup-manual-[\d-]+: 403 Forbidden: your identity needs "create jobs \(batch\)" in namespace secret-steward \(docs\/one-off-jobs.md, "Permissions"\)/,
      );
      assert.equal(jobs().length, 0);
    });

    it('lacking "get pods/log": exit 2 naming the permission once the pod runs', async () => {
      const kubeconfig = await operator('get pods/log');

      await bareBackupCronJob();

      const r = await h.run(runCommand, ['backup', '--kubeconfig', kubeconfig, '--poll-interval', '100ms', '--cronjob', 'bare-backup']);

      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /failed to get Pod secret-steward\/bare-backup-manual-[\w-]+ log: 403 Forbidden: your identity needs "get pods\/log"/,
      );
    });

    it('lacking "get cronjobs": exit 2 naming the permission', async () => {
      const kubeconfig = await operator('get cronjobs');

      const r = await h.run(runCommand, ['backup', '--kubeconfig', kubeconfig, '--dry-run']);

      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /failed to get CronJob secret-steward\/secret-steward-backup: 403 Forbidden: your identity needs "get cronjobs \(batch\)"/,
      );
    });
  });
});
