import assert from 'node:assert/strict';
import { matchesSelector, parseLabelSelector } from '../../../shared/kube/label-selector.js';
import { parseLabelSelector as parseAsApiServer } from '../../emulator/selectors.js';

describe('shared/kube/label-selector', () => {
  const labels = { app: 'payments', tier: 'db', 'example.com/team': 'core' };
  const table: Array<[string, Record<string, string> | undefined, boolean]> = [
    ['app=payments', labels, true],
    ['app==payments', labels, true],
    ['app=web', labels, false],
    ['app!=web', labels, true],
    ['missing!=x', labels, true],
    ['app', labels, true],
    ['!app', labels, false],
    ['!missing', labels, true],
    ['tier in (db, cache)', labels, true],
    ['tier in (cache)', labels, false],
    ['missing in (x)', labels, false],
    ['tier notin (cache)', labels, true],
    ['missing notin (x)', labels, true],
    ['app=payments,tier=db', labels, true],
    ['app=payments, tier in (cache,web)', labels, false],
    ['example.com/team=core', labels, true],
    ['app=payments', undefined, false],
    ['app=', { app: '' }, true],
    ['app in ()', { app: '' }, true],
    ['app in ()', labels, false],
    ['replicas>2', { replicas: '3' }, true],
    ['replicas>2', { replicas: '2' }, false],
    ['replicas<5', { replicas: 'five' }, false],
    ['replicas<5', labels, false],
  ];
  for (const [selector, l, expected] of table) {
    it(`${selector} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(l)}`, () => {
      assert.equal(matchesSelector(parseLabelSelector(selector), l), expected);
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['a in (', /unbalanced parentheses/],
    ['a=b,,c', /empty requirement/],
    ['-a=b', /"-a" is not a valid label key/],
    ['a=has space', /not a requirement/],
    ['a=-x', /"-x" is not a valid label value/],
    ['a>1.5', /must be an integer/],
    ['a>-1', /"-1" is not a valid label value/],
    [`${'p'.repeat(254)}/a`, /is not a valid label key/],
  ];
  for (const [selector, message] of bad) {
    it(`rejects "${selector}"`, () => {
      assert.throws(() => parseLabelSelector(selector), message);
    });
  }

  // The selectors kube-apiserver refuses (labels.Parse, as ported in test/emulator/selectors.ts)
  // are refused here too, so that a bad --selector is a configuration error before any request,
  // and what it accepts is accepted.
  const parity = [
    'a=b,,c=d',
    'a=b,',
    '=v',
    '!k=v',
    'k in (a b)',
    'k in a',
    'k in (a',
    'k!=(a,b)',
    'k v',
    'k>1.5',
    'k>-1',
    '-k=v',
    '/k',
    'x in (foo,,baz),y,z notin ()',
    'in in (in)',
    ' k > 5 , !app ',
    'example.com/app==web',
    'k=',
  ];
  for (const selector of parity) {
    it(`agrees with the API server on ${JSON.stringify(selector)}`, () => {
      const server = (() => {
        try {
          parseAsApiServer(selector);
          return 'accepted';
        } catch {
          return 'refused';
        }
      })();
      const ours = (() => {
        try {
          parseLabelSelector(selector);
          return 'accepted';
        } catch {
          return 'refused';
        }
      })();

      assert.equal(ours, server);
    });
  }
});
