import assert from 'node:assert/strict';
import { matchesSelector, parseLabelSelector } from '../../../shared/restore/label-selector.js';

describe('shared/restore/label-selector', () => {
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
    ['a in ()', /the set of values is empty/],
    ['-a=b', /"-a" is not a valid label key/],
    ['a=has space', /not a requirement/],
    ['a=-x', /"-x" is not a valid label value/],
    ['a>1', /not a requirement/],
  ];
  for (const [selector, message] of bad) {
    it(`rejects "${selector}"`, () => {
      assert.throws(() => parseLabelSelector(selector), message);
    });
  }
});
