import assert from 'node:assert/strict';
import { describeObject, kustomizationDirs, type ManifestObject, renderManifests } from './render.js';
import { formatProblems, unknownFields, validateObject } from './schema.js';

const cronJob = (spec: Record<string, unknown>): ManifestObject => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'x', namespace: 'y' },
  spec: {
    schedule: '0 * * * *',
    jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } } } },
    ...spec,
  },
});
const withContainer = (container: Record<string, unknown>): ManifestObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'c', image: 'i', ...container }] },
});

/**
 * Custom resources the Kubernetes schemas do not cover, and the test that validates them:
 * the PrometheusRule's rules with promtool (test/monitoring/rules.test.ts).
 */
const VALIDATED_ELSEWHERE = new Set(['monitoring.coreos.com/v1 PrometheusRule']);

describe('manifests: Kubernetes schema validation', () => {
  describe('the validator itself', () => {
    it('accepts a CronJob using timeZone and podFailurePolicy (batch/v1 fields of 1.25+)', async () => {
      const obj = cronJob({ timeZone: 'Etc/UTC' });
      (obj.spec as any).jobTemplate.spec.podFailurePolicy = {
        rules: [
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          { action: 'FailJob', onExitCodes: { operator: 'In', values: [2] } },
        ],
      };

      const problems = await validateObject(obj);

      assert.deepEqual(problems, []);
    });

    const bad: [string, ManifestObject, RegExp][] = [
      ['a wrong type', cronJob({ schedule: 5 }), /^spec\.schedule: must be string/],
      [
        'a value outside an enum',
        cronJob({ concurrencyPolicy: 'Sometimes' }),
        /^spec\.concurrencyPolicy: must be equal to one of the allowed values/,
      ],
      ['a missing required field', cronJob({ jobTemplate: undefined }), /^spec: must have required property jobTemplate/],
      [
        'an invalid quantity',
        withContainer({ resources: { limits: { memory: 'lots' } } }),
        /^spec\.containers\.0\.resources\.limits\.memory: must match format "quantity"/m,
      ],
      ['an unknown top-level field', cronJob({ timezone: 'Etc/UTC' }), /^spec\.timezone: unknown field "timezone"/],
      [
        'an unknown nested field (typo)',
        withContainer({ securityContext: { readOnlyRootFileSystem: true } }),
        /^spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem: unknown field/,
      ],
      ['an unknown kind', { apiVersion: 'batch/v1', kind: 'CronJobs', metadata: { name: 'x' } }, /no schema for batch\/v1 CronJobs/],
      ['an unknown apiVersion', { apiVersion: 'batch/v2', kind: 'CronJob', metadata: { name: 'x' } }, /no schema for batch\/v2 CronJob/],
    ];
    for (const [what, obj, expected] of bad) {
      it(`reports ${what}`, async () => {
        const problems = await validateObject(obj);

        assert.match(problems.map((p) => `${p.path}: ${p.message}`).join('\n'), expected);
      });
    }

    it('walks arrays and maps of typed values for unknown fields', () => {
      const problems = unknownFields({ rules: [{ verbs: ['get'], resource: ['secrets'] }] }, 'V1ClusterRole');

      assert.deepEqual(problems, [{ path: 'rules[0].resource', message: 'unknown field "resource"' }]);
    });
  });

  for (const dir of kustomizationDirs()) {
    it(`every object of ${dir} is valid`, async () => {
      const objects = await renderManifests(dir);

      const report: string[] = [];
      for (const obj of objects.filter((o) => !VALIDATED_ELSEWHERE.has(`${o.apiVersion} ${o.kind}`))) {
        const problems = await validateObject(obj);
        if (problems.length > 0) report.push(formatProblems(obj, problems));
      }

      assert.equal(report.join('\n'), '', `invalid objects in ${dir}`);
      assert.ok(objects.length > 0, `${dir}: ${objects.map(describeObject).join(', ')}`);
    });
  }
});
