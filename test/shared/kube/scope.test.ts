import assert from 'node:assert/strict';
import { ValueError } from '../../../shared/config/options.js';
import {
  describeScope,
  inScope,
  namespacesToList,
  outOfScopeProblems,
  type Scope,
  scopeOf,
  scopeSettings,
} from '../../../shared/kube/scope.js';

describe('shared/kube/scope', () => {
  const cluster: Scope = { kind: 'cluster' };
  const namespaced: Scope = { kind: 'namespaces', namespaces: ['payments', 'web'] };

  describe('--scope-namespaces', () => {
    const parse = scopeSettings.scopeNamespaces.parse;

    const good: Array<[string, string[]]> = [
      ['payments', ['payments']],
      ['payments,web', ['payments', 'web']],
      [' payments , web ,', ['payments', 'web']],
      ['web,web', ['web']],
    ];
    for (const [raw, expected] of good) it(`reads "${raw}"`, () => assert.deepEqual(parse(raw), expected));

    for (const raw of [',', 'Payments', 'a_b', 'payments,-x'])
      it(`refuses "${raw}", naming the expected form`, () =>
        assert.throws(
          () => parse(raw),
          (e) => e instanceof ValueError && /comma-separated namespace names/.test(e.expected),
        ));

    it('is cluster-wide when not given', () => {
      assert.deepEqual(scopeOf({}), cluster);
      assert.deepEqual(scopeOf({ scopeNamespaces: ['web'] }), { kind: 'namespaces', namespaces: ['web'] });
    });
  });

  it('names the scope for status and logs', () => {
    assert.equal(describeScope(cluster), 'cluster-wide');
    assert.equal(describeScope(namespaced), 'namespaces payments, web');
  });

  it('covers every namespace cluster-wide, and only its own otherwise', () => {
    assert.equal(inScope(cluster, 'kube-system'), true);
    assert.equal(inScope(namespaced, 'web'), true);
    assert.equal(inScope(namespaced, 'secret-steward'), false);
  });

  const lists: Array<[string, string[], Scope, string[]]> = [
    ['cluster-wide, no filter: one list of all namespaces', [], cluster, []],
    ['cluster-wide, a filter: its namespaces', ['a'], cluster, ['a']],
    ['namespaced, no filter: each namespace of the scope', [], namespaced, ['payments', 'web']],
    ['namespaced, a filter: its namespaces', ['web'], namespaced, ['web']],
  ];
  for (const [what, filter, scope, expected] of lists)
    it(`lists ${what}`, () => assert.deepEqual(namespacesToList(filter, scope), expected));

  it('refuses namespaces outside a namespaced scope, naming them, the setting and the scope', () => {
    assert.deepEqual(outOfScopeProblems(cluster, ['x'], '--namespace'), []);
    assert.deepEqual(outOfScopeProblems(namespaced, ['web'], '--namespace'), []);

    const [problem, ...rest] = outOfScopeProblems(namespaced, ['web', 'shop', 'kube-system', 'shop'], '--namespace');

    assert.deepEqual(rest, []);
    assert.equal(problem.setting, '--namespace');
    assert.match(
      problem.message,
      /^namespaces shop, kube-system are outside --scope-namespaces \/ SECRET_STEWARD_SCOPE_NAMESPACES \(payments, web\)/,
    );
  });
});
