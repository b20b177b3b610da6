import assert from 'node:assert/strict';
import { KubeApiError } from './errors.js';
import { api } from './helpers.js';
import { KubeEmulator } from './index.js';
import { parseLabelSelector } from './selectors.js';

/**
 * Label selectors are parsed as kube-apiserver parses the `labelSelector` parameter:
 * labels.Parse in k8s.io/apimachinery/pkg/labels/selector.go (its Lexer, Parser and
 * NewRequirement, the grammar in Parse's doc comment, e.g. `x in (foo,,baz),y,z notin ()`) with
 * the label key and value checks of pkg/util/validation/validation.go; a parse error is the 400
 * BadRequest message.
 */
describe('test/emulator/selectors', () => {
  const accepted: [string, unknown][] = [
    [
      'x in (foo,,baz),y,z notin ()',
      [
        { key: 'x', op: 'in', values: ['', 'baz', 'foo'] },
        { key: 'y', op: 'exists', values: [] },
        { key: 'z', op: 'notin', values: [''] },
      ],
    ],
    ['k in ()', [{ key: 'k', op: 'in', values: [''] }]],
    ['k=', [{ key: 'k', op: '=', values: [''] }]],
    ['in in (in)', [{ key: 'in', op: 'in', values: ['in'] }]],
    [
      ' k > 5 , !app ',
      [
        { key: 'k', op: 'gt', values: ['5'] },
        { key: 'app', op: '!', values: [] },
      ],
    ],
    ['example.com/app==web', [{ key: 'example.com/app', op: '=', values: ['web'] }]],
    ['  ', []],
  ];
  for (const [selector, requirements] of accepted) {
    it(`accepts ${JSON.stringify(selector)}`, () => {
      assert.deepEqual(parseLabelSelector(selector).requirements, requirements);
    });
  }

  const NAME_RULE =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  const VALUE_RULE =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  const refused: [string, string][] = [
    ['a=b,,c=d', "found ',', expected: identifier after ','"],
    ['a=b,', "found '', expected: identifier after ','"],
    ['=v', "found '=', expected: !, identifier, or 'end of string'"],
    ['!k=v', "found '=', expected: ',' or 'end of string'"],
    ['k in (a b)', "unable to parse requirement: found 'b', expected: ',' or ')'"],
    ['k in a', "unable to parse requirement: found 'a' expected: '('"],
    ['k in (a', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['k!=(a,b)', "unable to parse requirement: found '(', expected: identifier"],
    ['k v', "unable to parse requirement: found 'v', expected: in, notin, =, ==, !=, gt, lt"],
    ['k>1.5', `unable to parse requirement: values[0]: Invalid value: "1.5": for 'Gt', 'Lt' operators, the value must be an integer`],
    ['k>-1', `unable to parse requirement: values[0][k]: Invalid value: "-1": ${VALUE_RULE}`],
    ['k in (ok,-bad)', `unable to parse requirement: values[0][k]: Invalid value: "-bad": ${VALUE_RULE}`],
    ['-k=v', `unable to parse requirement: <nil>: Invalid value: "-k": name part ${NAME_RULE}`],
    ['/k', `unable to parse requirement: <nil>: Invalid value: "/k": prefix part must be non-empty`],
  ];
  for (const [selector, message] of refused) {
    it(`refuses ${JSON.stringify(selector)} with the real message`, () => {
      assert.throws(
        () => parseLabelSelector(selector),
        (e: unknown) => e instanceof KubeApiError && e.code === 400 && e.status.reason === 'BadRequest' && e.status.message === message,
      );
    });
  }

  it('answers a list with a malformed selector 400 BadRequest, and `k in ()` as a selector of the empty value', async () => {
    const emu = await KubeEmulator.start();
    try {
      emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'empty', namespace: 'default', labels: { k: '' } } } as never);
      emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'full', namespace: 'default', labels: { k: 'v' } } } as never);

      const bad = await api(emu, 'GET', `/api/v1/namespaces/default/secrets?labelSelector=${encodeURIComponent('a=b,')}`);
      const empty = await api(emu, 'GET', `/api/v1/namespaces/default/secrets?labelSelector=${encodeURIComponent('k in ()')}`);

      assert.equal(bad.status, 400);
      assert.equal(bad.body.message, "found '', expected: identifier after ','");
      assert.deepEqual(
        empty.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        ['empty'],
      );
    } finally {
      await emu.stop();
    }
  });
});
