import assert from 'node:assert/strict';
import { api, deployment, secret } from './helpers.js';
import { KubeEmulator } from './index.js';
import { applyJsonPatch } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic-merge-patch.js';

const JSON_PATCH = 'application/json-patch+json';
const MERGE = 'application/merge-patch+json';
const SMP = 'application/strategic-merge-patch+json';

describe('test/emulator/patch', () => {
  describe('json patch (RFC 6902)', () => {
    const doc = { a: { b: [1, 2, 3] }, c: 'x', 'x/y': 1, 'm~n': 2 };
    const cases: [string, unknown[], unknown][] = [
      ['add to object', [{ op: 'add', path: '/d', value: 1 }], { ...doc, d: 1 }],
      ['add into array', [{ op: 'add', path: '/a/b/1', value: 9 }], { ...doc, a: { b: [1, 9, 2, 3] } }],
      ['append with -', [{ op: 'add', path: '/a/b/-', value: 4 }], { ...doc, a: { b: [1, 2, 3, 4] } }],
      ['remove', [{ op: 'remove', path: '/c' }], { a: { b: [1, 2, 3] }, 'x/y': 1, 'm~n': 2 }],
      [
        'replace escaped keys',
        [
          { op: 'replace', path: '/x~1y', value: 5 },
          { op: 'replace', path: '/m~0n', value: 6 },
        ],
        { ...doc, 'x/y': 5, 'm~n': 6 },
      ],
      ['move', [{ op: 'move', from: '/c', path: '/e' }], { a: { b: [1, 2, 3] }, e: 'x', 'x/y': 1, 'm~n': 2 }],
      ['copy', [{ op: 'copy', from: '/c', path: '/e' }], { ...doc, e: 'x' }],
      [
        'test then replace',
        [
          { op: 'test', path: '/c', value: 'x' },
          { op: 'replace', path: '/c', value: 'y' },
        ],
        { ...doc, c: 'y' },
      ],
    ];
    for (const [title, patch, expected] of cases) {
      it(title, () => assert.deepEqual(applyJsonPatch(doc, patch), expected));
    }

    it('fails a test op and leaves the input untouched', () => {
      assert.throws(() => applyJsonPatch(doc, [{ op: 'test', path: '/c', value: 'nope' }]), /testing value \/c failed/);
      assert.equal(doc.c, 'x');
    });
  });

  describe('merge patch (RFC 7386)', () => {
    it('merges objects, deletes with null, replaces arrays', () => {
      const result = applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2], k: 'v' }, { a: { b: null, d: 3 }, l: [3], k: null });

      assert.deepEqual(result, { a: { c: 2, d: 3 }, l: [3] });
    });
  });

  describe('strategic merge patch', () => {
    const dep = {
      metadata: { name: 'd', finalizers: ['a', 'b'], ownerReferences: [{ uid: 'u1', name: 'x', kind: 'K', apiVersion: 'v1' }] },
      spec: {
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
        template: {
          spec: {
            containers: [
              {
                name: 'app',
                image: 'i:1',
                env: [
                  { name: 'A', value: '1' },
                  { name: 'B', value: '2' },
                ],
                envFrom: [{ secretRef: { name: 's1' } }],
                ports: [{ containerPort: 80 }],
                volumeMounts: [{ name: 'v', mountPath: '/v' }],
              },
              { name: 'side', image: 's:1' },
            ],
            volumes: [{ name: 'v', secret: { secretName: 's1' } }],
            imagePullSecrets: [{ name: 'reg' }],
            tolerations: [{ key: 't1' }],
          },
        },
      },
    };
    const smp = (patch: unknown) => applyStrategicMergePatch(dep, patch, 'Deployment') as typeof dep;

    it('merges containers and env by name, keeping the others', () => {
      const out = smp({
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'app',
                  env: [
                    { name: 'B', value: '3' },
                    { name: 'C', value: '4' },
                  ],
                },
              ],
            },
          },
        },
      });

      const app = out.spec.template.spec.containers[0];
      assert.deepEqual(app.env, [
        { name: 'A', value: '1' },
        { name: 'B', value: '3' },
        { name: 'C', value: '4' },
      ]);
      assert.equal(app.image, 'i:1');
      assert.equal(out.spec.template.spec.containers[1].name, 'side');
    });

    it('replaces lists without merge keys (envFrom, tolerations)', () => {
      const out = smp({
        spec: {
          template: { spec: { tolerations: [{ key: 't2' }], containers: [{ name: 'app', envFrom: [{ secretRef: { name: 's2' } }] }] } },
        },
      });

      assert.deepEqual(out.spec.template.spec.tolerations, [{ key: 't2' }]);
      assert.deepEqual(out.spec.template.spec.containers[0].envFrom, [{ secretRef: { name: 's2' } }]);
    });

    it('merges volumes by name, volumeMounts by mountPath, ports by containerPort, imagePullSecrets by name (new items first)', () => {
      const out = smp({
        spec: {
          template: {
            spec: {
              volumes: [{ name: 'w', emptyDir: {} }],
              imagePullSecrets: [{ name: 'reg2' }],
              containers: [
                {
                  name: 'app',
                  volumeMounts: [{ mountPath: '/v', readOnly: true }],
                  ports: [{ containerPort: 80, name: 'http' }, { containerPort: 81 }],
                },
              ],
            },
          },
        },
      });

      const spec = out.spec.template.spec;
      // Without $setElementOrder the real algorithm (mergeSortedSlice) puts new items before server-only ones.
      assert.deepEqual(
        spec.volumes.map((v) => v.name),
        ['w', 'v'],
      );
      assert.deepEqual(spec.imagePullSecrets, [{ name: 'reg2' }, { name: 'reg' }]);
      assert.deepEqual(spec.containers[0].volumeMounts, [{ name: 'v', mountPath: '/v', readOnly: true }]);
      assert.deepEqual(spec.containers[0].ports, [{ containerPort: 80, name: 'http' }, { containerPort: 81 }]);
    });

    it('honours $patch: delete and $patch: replace in lists and maps', () => {
      const deleted = smp({ spec: { template: { spec: { containers: [{ name: 'side', $patch: 'delete' }] } } } });
      const replaced = smp({ spec: { template: { spec: { containers: [{ name: 'only', image: 'o:1' }, { $patch: 'replace' }] } } } });
      const mapReplaced = smp({ spec: { strategy: { $patch: 'replace', type: 'Recreate' } } });

      assert.deepEqual(
        deleted.spec.template.spec.containers.map((c) => c.name),
        ['app'],
      );
      assert.deepEqual(replaced.spec.template.spec.containers, [{ name: 'only', image: 'o:1' }]);
      assert.deepEqual(mapReplaced.spec.strategy, { type: 'Recreate' });
    });

    it('orders lists by $setElementOrder as kubectl apply sends it', () => {
      const out = smp({
        spec: {
          template: {
            spec: {
              $setElementOrder: undefined,
              '$setElementOrder/containers': [{ name: 'side' }, { name: 'new' }, { name: 'app' }],
              containers: [{ name: 'new', image: 'n:1' }],
            },
          },
        },
      });

      assert.deepEqual(
        out.spec.template.spec.containers.map((c) => c.name),
        ['side', 'new', 'app'],
      );
    });

    it('applies $retainKeys (Deployment strategy switch) and $deleteFromPrimitiveList (finalizers)', () => {
      const out = smp({
        metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], finalizers: ['c'] },
        spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } },
      });

      assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
      assert.deepEqual(out.metadata.finalizers, ['c', 'b']);
    });

    it('merges ownerReferences by uid and deletes keys set to null', () => {
      const out = smp({
        metadata: { ownerReferences: [{ uid: 'u2', name: 'y', kind: 'K', apiVersion: 'v1' }] },
        spec: { template: { spec: { imagePullSecrets: null } } },
      });

      assert.deepEqual(
        out.metadata.ownerReferences.map((o) => o.uid),
        ['u2', 'u1'],
      );
      assert.equal(out.spec.template.spec.imagePullSecrets, undefined);
    });

    it('merges status conditions by type', () => {
      const out = applyStrategicMergePatch(
        {
          status: {
            conditions: [
              { type: 'Available', status: 'True' },
              { type: 'Progressing', status: 'True' },
            ],
          },
        },
        { status: { conditions: [{ type: 'Progressing', status: 'False' }] } },
        'Deployment',
      ) as { status: { conditions: unknown[] } };

      assert.deepEqual(out.status.conditions, [
        { type: 'Available', status: 'True' },
        { type: 'Progressing', status: 'False' },
      ]);
    });
  });

  describe('over HTTP', () => {
    let emu: KubeEmulator;
    const base = '/api/v1/namespaces/default/secrets';

    beforeEach(async () => {
      emu = await KubeEmulator.start();
      emu.create({ ...secret('s', { a: 'MQ==', b: 'Mg==' }), metadata: { name: 's', namespace: 'default', labels: { x: '1' } } } as never);
    });
    afterEach(async () => {
      await emu.stop();
    });

    it('applies each patch type to a Secret', async () => {
      const json = await api(
        emu,
        'PATCH',
        `${base}/s`,
        [
          { op: 'test', path: '/data/a', value: 'MQ==' },
          { op: 'remove', path: '/data/b' },
        ],
        { contentType: JSON_PATCH },
      );
      const merge = await api(emu, 'PATCH', `${base}/s`, { metadata: { labels: { x: null, y: '2' } } }, { contentType: MERGE });
      const strategic = await api(emu, 'PATCH', `${base}/s`, { data: { c: 'Mw==' } }, { contentType: SMP });

      assert.deepEqual(json.body.data, { a: 'MQ==' });
      assert.deepEqual(merge.body.metadata.labels, { y: '2' });
      assert.deepEqual(strategic.body.data, { a: 'MQ==', c: 'Mw==' });
    });

    it('answers 422 for a failed json-patch test and 400 for a malformed patch', async () => {
      const failedTest = await api(emu, 'PATCH', `${base}/s`, [{ op: 'test', path: '/data/a', value: 'nope' }], {
        contentType: JSON_PATCH,
      });
      const malformed = await api(emu, 'PATCH', `${base}/s`, { not: 'a list' }, { contentType: JSON_PATCH });

      assert.equal(failedTest.status, 422);
      assert.equal(malformed.status, 400);
    });

    it('treats metadata.resourceVersion in a patch as a precondition', async () => {
      const current = emu.get('v1', 'Secret', 'default', 's');
      const stale = String(Number(current?.metadata.resourceVersion) - 1);

      const conflict = await api(
        emu,
        'PATCH',
        `${base}/s`,
        { metadata: { resourceVersion: stale }, data: { a: 'Mg==' } },
        { contentType: MERGE },
      );
      const fresh = await api(
        emu,
        'PATCH',
        `${base}/s`,
        { metadata: { resourceVersion: current?.metadata.resourceVersion }, data: { a: 'Mg==' } },
        { contentType: MERGE },
      );

      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.reason, 'Conflict');
      assert.equal(fresh.status, 200);
    });

    it('answers 415 for server-side apply and unknown patch types, 404 for missing objects', async () => {
      const apply = await api(emu, 'PATCH', `${base}/s`, 'data: {}', { contentType: 'application/apply-patch+yaml' });
      const missing = await api(emu, 'PATCH', `${base}/nope`, {}, { contentType: MERGE });

      assert.equal(apply.status, 415);
      assert.equal(apply.body.reason, 'UnsupportedMediaType');
      assert.equal(missing.status, 404);
    });

    it('strategic-merges a Deployment pod template over HTTP and bumps generation', async () => {
      emu.create({ ...deployment('web', { env: [{ name: 'A', value: '1' }] }), metadata: { name: 'web', namespace: 'default' } } as never);

      const res = await api(
        emu,
        'PATCH',
        '/apis/apps/v1/namespaces/default/deployments/web',
        { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'B', value: '2' }] }] } } } },
        { contentType: SMP },
      );

      assert.equal(res.status, 200);
      assert.deepEqual(res.body.spec.template.spec.containers[0].env, [
        { name: 'B', value: '2' },
        { name: 'A', value: '1' },
      ]);
      assert.equal(res.body.metadata.generation, 2);
    });
  });
});
