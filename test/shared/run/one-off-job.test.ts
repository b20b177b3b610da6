import assert from 'node:assert/strict';
import { ConfigError } from '../../../shared/errors/index.js';
import { buildOneOffJob, type JobTemplateSource, oneOffArgs, templateFromJobManifest } from '../../../shared/run/one-off-job.js';

function cronJobSource(args: string[], containerName = 'secret-steward'): JobTemplateSource {
  return {
    kind: 'CronJob',
    name: 'secret-steward-backup',
    uid: 'uid-1',
    labels: { 'app.kubernetes.io/component': 'backup' },
    annotations: { note: 'from the template' },
    spec: { template: { spec: { containers: [{ name: containerName, image: 'x', args }] } } },
    setting: '--cronjob',
  };
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.setting}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('shared/run/one-off-job', () => {
  it('appends the arguments to a CronJob template, and replaces a Job manifest example arguments', () => {
    const manifest = templateFromJobManifest(
      'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: secret-steward-restore\nspec:\n  template:\n    spec:\n      containers:\n        - name: secret-steward\n          image: x\n          args: [restore, --backup, latest, --dry-run]\n',
      'restore-job.yaml',
    );

    assert.deepEqual(oneOffArgs(cronJobSource(['backup']), 'backup', ['--allow-empty']), ['backup', '--allow-empty']);
    assert.deepEqual(oneOffArgs(manifest, 'restore', ['--backup', '20261127T031500Z-3f9a1c']), [
      'restore',
      '--backup',
      '20261127T031500Z-3f9a1c',
    ]);
  });

  const refusals: [string, JobTemplateSource, string, string[], RegExp][] = [
    [
      'an unknown option, with the nearest one',
      cronJobSource(['backup']),
      'backup',
      ['--keep-daly', '1'],
      /^backup --keep-daly: unknown option \(did you mean --keep-daily\?\)/,
    ],
    [
      'a bad value',
      cronJobSource(['backup']),
      'backup',
      ['--keep-daily', 'many'],
      /^backup --keep-daily .*: invalid value in --keep-daily/,
    ],
    [
      'a single-valued option given by the template and again',
      cronJobSource(['backup', '--shrink-threshold', '0.5']),
      'backup',
      ['--shrink-threshold', '0.2'],
      /given more than once/,
    ],
    ['a stray positional', cronJobSource(['backup']), 'backup', ['oops'], /^backup argument 1: unexpected argument/],
    ['--help', cronJobSource(['backup']), 'backup', ['--help'], /^backup: --help is not run as a Job/],
    [
      'a template that runs another command',
      cronJobSource(['rotate']),
      'backup',
      [],
      /^--cronjob: CronJob secret-steward-backup runs "rotate", not "backup"/,
    ],
    [
      'a template without the tool container',
      { ...cronJobSource(['backup'], 'a'), spec: { template: { spec: { containers: [{ name: 'a' }, { name: 'b' }] } } } },
      'backup',
      [],
      /has no container named secret-steward/,
    ],
  ];
  for (const [what, source, command, extra, expected] of refusals) {
    it(`refuses ${what} before any Job exists (exit 2)`, () => {
      const problems = problemsOf(() => oneOffArgs(source, command, extra));

      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0], expected);
    });
  }

  it('does not ask on the command line for what the Job reads from its ConfigMaps (required settings)', () => {
    assert.deepEqual(
      problemsOf(() => oneOffArgs(cronJobSource(['verify-restore']), 'verify-restore', [])),
      [],
    );
  });

  it('a manifest that holds no Job is a configuration error naming --job-file', () => {
    assert.match(problemsOf(() => templateFromJobManifest('kind: CronJob\n', 'x.yaml'))[0], /^--job-file .*x\.yaml holds no Job/);
  });

  it('names the Job <template>-manual-<UTC time>, within 63 characters, without touching the template', () => {
    const source = cronJobSource(['backup']);
    const long = { ...source, name: 'a'.repeat(60) };

    const job = buildOneOffJob(source, ['backup', '--allow-empty'], { namespace: 'ns', now: new Date('2026-12-07T12:02:23.456Z') });
    const longJob = buildOneOffJob(long, ['backup'], { namespace: 'ns', now: new Date('2026-12-07T12:02:23Z') });

    assert.equal(job.metadata?.name, 'secret-steward-backup-manual-20261207-120223');
    assert.deepEqual(job.metadata?.annotations, { 'cronjob.kubernetes.io/instantiate': 'manual', note: 'from the template' });
    assert.deepEqual(job.spec?.template.spec?.containers[0].args, ['backup', '--allow-empty']);
    assert.deepEqual(source.spec.template.spec?.containers[0].args, ['backup']);
    assert.equal(longJob.metadata?.name?.length, 63);
  });
});
