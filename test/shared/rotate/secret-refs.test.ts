import assert from 'node:assert/strict';
import { toWorkload } from '../../../shared/kube/workloads.js';
import { pointerSegment, referencesAny, repointOps, secretRefs } from '../../../shared/rotate/secret-refs.js';
import { SECRET_REFERENCE_FIELDS } from '../../../shared/rotate/workload-fields.js';

const template = {
  spec: {
    initContainers: [{ name: 'init', envFrom: [{ secretRef: { name: 'db' } }] }],
    containers: [
      {
        name: 'app',
        env: [
          { name: 'A', value: 'x' },
          { name: 'B', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        ],
        envFrom: [{ configMapRef: { name: 'cfg' } }, { secretRef: { name: 'other' } }],
      },
    ],
    volumes: [
      { name: 'v', secret: { secretName: 'db' } },
      { name: 'p', projected: { sources: [{ configMap: { name: 'cfg' } }, { secret: { name: 'db' } }] } },
    ],
    imagePullSecrets: [{ name: 'regcred' }, { name: 'db' }],
  },
};

describe('shared/rotate/secret-refs', () => {
  it('finds every way a pod template names a Secret, with its JSON pointer', () => {
    assert.deepEqual(
      secretRefs(template as never).map((r) => `${r.via} ${r.name} ${r.path}`),
      [
        'envFrom db /spec/initContainers/0/envFrom/0/secretRef/name',
        'env db /spec/containers/0/env/1/valueFrom/secretKeyRef/name',
        'envFrom other /spec/containers/0/envFrom/1/secretRef/name',
        'volume db /spec/volumes/0/secret/secretName',
        'projected db /spec/volumes/1/projected/sources/1/secret/name',
        'imagePullSecrets regcred /spec/imagePullSecrets/0/name',
        'imagePullSecrets db /spec/imagePullSecrets/1/name',
      ],
    );
  });

  it('finds a reference at every field of the shared list (workload-fields.ts), and only there', () => {
    const refs = secretRefs(template as never);

    const fields = new Set(refs.map((r) => r.path.replace(/^\/spec\//, '').replace(/\/\d+(?=\/|$)/g, '/*')));
    const listed = new Set(
      SECRET_REFERENCE_FIELDS.filter((f) => f.path[0] !== 'initContainers' || f.via === 'envFrom').map((f) => f.path.join('/')),
    );
    assert.deepEqual([...fields].sort(), [...listed].sort());
  });

  it("repoints with a test of the old value before each replacement, under the kind's template path", () => {
    const cron = toWorkload('CronJob', {
      metadata: { name: 'c', namespace: 'n' },
      spec: { jobTemplate: { spec: { template: template as never } } },
    });

    const ops = repointOps(cron, 'db', 'db-v2');

    assert.equal(ops.length, 10);
    assert.deepEqual(ops.slice(0, 2), [
      { op: 'test', path: '/spec/jobTemplate/spec/template/spec/initContainers/0/envFrom/0/secretRef/name', value: 'db' },
      { op: 'replace', path: '/spec/jobTemplate/spec/template/spec/initContainers/0/envFrom/0/secretRef/name', value: 'db-v2' },
    ]);
    assert.ok(referencesAny(cron, new Set(['other'])));
    assert.ok(!referencesAny(cron, new Set(['cfg'])));
  });

  it('escapes JSON pointer segments', () => {
    assert.equal(pointerSegment('secret-steward.io/restartedAt'), 'secret-steward.io~1restartedAt');
    assert.equal(pointerSegment('a~b'), 'a~0b');
  });
});
