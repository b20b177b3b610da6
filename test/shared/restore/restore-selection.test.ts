import assert from 'node:assert/strict';
import type { ExportedSecret } from '../../../shared/backup/secret-export.js';
import { RestoreSelection } from '../../../shared/restore/restore-selection.js';

const s = (namespace: string, name: string, labels?: Record<string, string>): ExportedSecret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { namespace, name, ...(labels ? { labels } : {}) },
  type: 'Opaque',
});

describe('shared/restore/restore-selection', () => {
  const all = [s('a', 'x', { app: 'web' }), s('a', 'y'), s('b', 'x', { app: 'db' }), s('c', 'z', { app: 'web' })];
  const pick = (sel: RestoreSelection) => all.filter((x) => sel.selects(x)).map((x) => `${x.metadata.namespace}/${x.metadata.name}`);

  const table: Array<[string, ConstructorParameters<typeof RestoreSelection>[0], string[]]> = [
    ['everything by default', { namespaces: [], names: [], mapping: [] }, ['a/x', 'a/y', 'b/x', 'c/z']],
    ['by namespace', { namespaces: ['a', 'c'], names: [], mapping: [] }, ['a/x', 'a/y', 'c/z']],
    ['by namespace/name', { namespaces: [], names: ['b/x', 'c/z'], mapping: [] }, ['b/x', 'c/z']],
    ['a bare name in each --namespace', { namespaces: ['a', 'b'], names: ['x'], mapping: [] }, ['a/x', 'b/x']],
    ['by the labels at backup time', { namespaces: [], names: [], selector: 'app=web', mapping: [] }, ['a/x', 'c/z']],
    ['namespace and selector together', { namespaces: ['a'], names: [], selector: 'app', mapping: [] }, ['a/x']],
    [
      'within a namespaced scope, only what is restored into it',
      { namespaces: [], names: [], mapping: [], scope: ['a', 'c'] },
      ['a/x', 'a/y', 'c/z'],
    ],
    [
      'within a namespaced scope, by where it is restored (after --map-namespace)',
      { namespaces: [], names: [], mapping: [{ from: 'b', to: 'c' }], scope: ['c'] },
      ['b/x', 'c/z'],
    ],
  ];
  for (const [what, o, expected] of table) {
    it(`selects ${what}`, () => assert.deepEqual(pick(new RestoreSelection(o)), expected));
  }

  it('maps namespaces and reports mappings that matched nothing', () => {
    const sel = new RestoreSelection({
      namespaces: [],
      names: [],
      mapping: [
        { from: 'a', to: 'a-restored' },
        { from: 'typo', to: 'x' },
      ],
    });

    assert.equal(sel.targetNamespace('a'), 'a-restored');
    assert.equal(sel.targetNamespace('b'), 'b');
    assert.deepEqual(sel.unusedMappings(new Set(['a', 'b'])), ['typo']);
  });
});
