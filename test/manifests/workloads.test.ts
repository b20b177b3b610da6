import assert from 'node:assert/strict';
import { CronExpressionParser } from 'cron-parser';
import { ExitCode } from '../../shared/errors/exit-codes.js';
import { describeObject, kustomizationDirs, type ManifestObject, podTemplatesOf, renderManifests } from './render.js';

/**
 * Exit codes each job fails at once on; everything else (Transient, Interrupted) is retried up
 * to backoffLimit. README, "Exit codes", says why.
 */
const FAIL_JOB_ON: Record<string, number[]> = {
  backup: [ExitCode.Config, ExitCode.LockHeld],
  rotate: [ExitCode.Failed, ExitCode.Config, ExitCode.LockHeld],
  'verify-restore': [ExitCode.Failed, ExitCode.Config, ExitCode.LockHeld],
  restore: [ExitCode.Failed, ExitCode.Config, ExitCode.LockHeld],
  // A backup that could not be re-encrypted is read by a person first; a rerun resumes.
  rekey: [ExitCode.Failed, ExitCode.Config, ExitCode.LockHeld],
};

interface JobSpec {
  backoffLimit?: number;
  /** The fleet drill (dr-site-verify-only): an Indexed Job whose failures count per index. */
  completionMode?: string;
  backoffLimitPerIndex?: number;
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  podFailurePolicy?: {
    rules: {
      action: string;
      onExitCodes?: { containerName?: string; operator: string; values: number[] };
      onPodConditions?: { type: string; status: string }[];
    }[];
  };
  template: { spec: any };
}

/** Every CronJob and Job of every rendering, once per name (overlays repeat the base). */
async function workloads(): Promise<{ obj: ManifestObject; job: JobSpec; dir: string }[]> {
  const seen = new Map<string, { obj: ManifestObject; job: JobSpec; dir: string }>();
  for (const dir of kustomizationDirs()) {
    for (const obj of await renderManifests(dir)) {
      const job = obj.kind === 'CronJob' ? (obj.spec as any).jobTemplate.spec : obj.kind === 'Job' ? obj.spec : undefined;
      if (job !== undefined) seen.set(`${dir} ${describeObject(obj)}`, { obj, job, dir });
    }
  }
  return [...seen.values()];
}

/** Shortest time between two runs of a schedule over the next `runs` runs, in seconds. */
function shortestInterval(schedule: string, tz: string, runs = 60): number {
  const it = CronExpressionParser.parse(schedule, { tz, currentDate: new Date('2026-01-01T00:00:00Z'), strict: false });
  let previous = it.next().toDate().getTime();
  let shortest = Infinity;
  for (let i = 0; i < runs; i++) {
    const next = it.next().toDate().getTime();
    shortest = Math.min(shortest, (next - previous) / 1000);
    previous = next;
  }
  return shortest;
}

describe('manifests: CronJobs and Jobs', () => {
  let all: { obj: ManifestObject; job: JobSpec; dir: string }[];
  before(async () => {
    all = await workloads();
  });

  it('finds the three CronJobs, the restore Job and the rekey Job', () => {
    const found = new Set(all.map(({ obj }) => `${obj.kind} ${obj.metadata.name}`));

    assert.deepEqual([...found].sort(), [
      'CronJob secret-steward-backup',
      'CronJob secret-steward-rotate',
      'CronJob secret-steward-verify-restore',
      'Job secret-steward-rekey',
      'Job secret-steward-restore',
    ]);
  });

  it('CronJobs: UTC schedule, Forbid, a starting deadline, history limits', () => {
    for (const { obj, dir } of all.filter((w) => w.obj.kind === 'CronJob')) {
      const spec = obj.spec as any;
      const where = `${dir}: ${describeObject(obj)}`;
      assert.equal(spec.timeZone, 'Etc/UTC', where);
      assert.doesNotMatch(spec.schedule, /TZ=/, `${where}: the time zone belongs in timeZone`);
      assert.equal(spec.schedule.trim().split(/\s+/).length, 5, `${where}: five-field schedule`);
      assert.ok(shortestInterval(spec.schedule, spec.timeZone) >= 600, `${where}: runs more often than every 10 minutes`);
      assert.equal(spec.concurrencyPolicy, 'Forbid', where);
      assert.ok(spec.startingDeadlineSeconds > 0, `${where}: startingDeadlineSeconds`);
      assert.ok(
        spec.startingDeadlineSeconds < shortestInterval(spec.schedule, spec.timeZone),
        `${where}: a late start may not reach into the next slot`,
      );
      assert.ok(spec.successfulJobsHistoryLimit >= 1 && spec.failedJobsHistoryLimit >= 1, `${where}: history limits keep evidence`);
      assert.notEqual(spec.suspend, true, `${where}: suspended`);
    }
  });

  it('CronJobs: a run is cut off before the next slot', () => {
    for (const { obj, job, dir } of all.filter((w) => w.obj.kind === 'CronJob')) {
      const spec = obj.spec as any;

      assert.ok(job.activeDeadlineSeconds! <= shortestInterval(spec.schedule, spec.timeZone), `${dir}: ${describeObject(obj)}`);
    }
  });

  it('Jobs: backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished, restartPolicy Never', () => {
    for (const { obj, job, dir } of all) {
      const where = `${dir}: ${describeObject(obj)}`;
      // An Indexed Job with backoffLimitPerIndex counts failures per index (backoffLimit defaults to MaxInt32).
      const limit = job.completionMode === 'Indexed' ? job.backoffLimitPerIndex : job.backoffLimit;
      assert.ok(Number.isInteger(limit) && limit! >= 1 && limit! <= 3, `${where}: backoffLimit or backoffLimitPerIndex`);
      if (job.completionMode === 'Indexed') assert.equal(job.backoffLimit, undefined, `${where}: backoffLimit with backoffLimitPerIndex`);
      assert.ok(job.activeDeadlineSeconds! > 0, `${where}: activeDeadlineSeconds`);
      assert.ok(job.ttlSecondsAfterFinished! >= 86400, `${where}: finished Jobs are evidence for at least a day`);
      assert.equal(job.template.spec.restartPolicy, 'Never', `${where}: podFailurePolicy needs restartPolicy Never`);
    }
  });

  it('podFailurePolicy: disruptions ignored first, then FailJob on the exit codes a retry cannot fix', () => {
    for (const { obj, job, dir } of all) {
      const where = `${dir}: ${describeObject(obj)}`;
      const component = obj.metadata.labels?.['app.kubernetes.io/component'] ?? '';
      const rules = job.podFailurePolicy?.rules ?? [];

      assert.deepEqual(rules[0], { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }, where);
      const failJob = rules.filter((r) => r.action === 'FailJob');
      assert.equal(failJob.length, 1, where);
      if (job.completionMode === 'Indexed') {
        // The fleet drill: a failed drill (1) or a held Lease (3) fails that cluster's index only,
        // a configuration error (2, shared by every index) the whole Job.
        const failIndex = rules.filter((r) => r.action === 'FailIndex');
        assert.deepEqual(failJob[0].onExitCodes, { containerName: 'secret-steward', operator: 'In', values: [ExitCode.Config] }, where);
        assert.deepEqual(
          failIndex.map((r) => r.onExitCodes),
          [{ containerName: 'secret-steward', operator: 'In', values: [ExitCode.Failed, ExitCode.LockHeld] }],
          where,
        );
      } else
        assert.deepEqual(
          failJob[0].onExitCodes,
          { containerName: 'secret-steward', operator: 'In', values: FAIL_JOB_ON[component] },
          where,
        );
      for (const retried of [ExitCode.Transient, ExitCode.Interrupted]) {
        assert.ok(!failJob[0].onExitCodes!.values.includes(retried), `${where}: exit ${retried} is retried`);
      }
    }
  });

  it('containers: the CLI entrypoint with the job as first argument; resources; grace for SIGTERM', () => {
    for (const { obj, job, dir } of all) {
      const where = `${dir}: ${describeObject(obj)}`;
      const spec = job.template.spec;
      const component = obj.metadata.labels?.['app.kubernetes.io/component'];
      assert.equal(spec.containers.length, 1, where);
      const c = spec.containers[0];

      assert.equal(c.name, 'secret-steward', where);
      assert.equal(c.command, undefined, `${where}: the image's entrypoint is the CLI; set only args`);
      assert.equal(c.args[0], component, `${where}: args[0] is the subcommand`);
      assert.equal(obj.metadata.name, `secret-steward-${component}`, where);
      assert.equal(spec.serviceAccountName, `secret-steward-${component}`, where);
      for (const kind of ['requests', 'limits']) {
        assert.ok(c.resources?.[kind]?.cpu && c.resources?.[kind]?.memory, `${where}: resources.${kind}`);
      }
      assert.ok(spec.terminationGracePeriodSeconds >= 60, `${where}: terminationGracePeriodSeconds`);
      assert.ok(job.activeDeadlineSeconds! > spec.terminationGracePeriodSeconds, where);
      assert.doesNotMatch(c.image, /:latest$|^[^:@]+$/, `${where}: image pinned to a tag or digest`);
    }
  });

  it('the V8 heap limit leaves room under the memory limit', () => {
    const mebibytes = (q: string): number => {
      const m = /^(\d+)(Mi|Gi)$/.exec(q);
      return m ? Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1) : NaN;
    };
    for (const { obj, job, dir } of all) {
      const c = job.template.spec.containers[0];
      const options = c.env.find((e: { name: string }) => e.name === 'NODE_OPTIONS')?.value ?? '';
      const heap = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);

      assert.ok(
        heap > 0 && heap <= mebibytes(c.resources.limits.memory) * 0.8,
        `${dir}: ${describeObject(obj)}: heap ${heap} MiB vs limit ${c.resources.limits.memory}`,
      );
    }
  });

  it('POD_NAME from the downward API (the Lease holder identity), TMPDIR on an emptyDir at /tmp, read-only root', () => {
    for (const { obj, job, dir } of all) {
      const where = `${dir}: ${describeObject(obj)}`;
      const spec = job.template.spec;
      const c = spec.containers[0];
      const env = Object.fromEntries(c.env.map((e: { name: string }) => [e.name, e]));

      assert.deepEqual(env.POD_NAME?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } }, where);
      assert.equal(env.TMPDIR?.value, '/tmp', where);
      const tmp = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      assert.ok(tmp, `${where}: /tmp mounted`);
      assert.ok(spec.volumes.find((v: { name: string }) => v.name === tmp.name)?.emptyDir, `${where}: /tmp is an emptyDir`);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, where);
    }
  });

  it('the service-account token: never automounted, projected and short-lived where the job calls the API', () => {
    for (const { obj, job, dir } of all) {
      const where = `${dir}: ${describeObject(obj)}`;
      const spec = job.template.spec;
      const mount = spec.containers[0].volumeMounts.find(
        (m: { mountPath: string }) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount',
      );
      const volume = spec.volumes.find((v: { name: string }) => v.name === mount?.name);
      const sources = volume?.projected?.sources ?? [];
      const token = sources.find((s: Record<string, unknown>) => s.serviceAccountToken)?.serviceAccountToken;

      assert.equal(spec.automountServiceAccountToken, false, where);
      assert.equal(mount?.readOnly, true, `${where}: every job calls the API (Lease, Events), so each mounts the token`);
      assert.ok(token && token.expirationSeconds <= 3607 && token.audience === undefined, `${where}: short-lived token for the API server`);
      assert.ok(
        sources.some((s: any) => s.configMap?.name === 'kube-root-ca.crt'),
        `${where}: CA bundle`,
      );
      assert.ok(
        sources.some((s: any) => s.downwardAPI?.items?.some((i: any) => i.path === 'namespace')),
        `${where}: namespace file`,
      );
    }
  });

  it('every pod template carries the labels the network policies select', async () => {
    for (const dir of kustomizationDirs()) {
      for (const t of (await renderManifests(dir)).flatMap(podTemplatesOf)) {
        assert.equal(t.labels['app.kubernetes.io/name'], 'secret-steward', `${dir}: ${describeObject(t.owner)}`);
        assert.equal(
          t.labels['app.kubernetes.io/component'],
          t.owner.metadata.labels?.['app.kubernetes.io/component'],
          `${dir}: ${describeObject(t.owner)}`,
        );
      }
    }
  });
});
