import assert from 'node:assert/strict';
import { editDistance, nearest } from '../../../shared/config/nearest.js';

const COMMANDS = ['rotate', 'backup', 'verify-restore', 'restore', 'prune', 'list-backups', 'keygen', 'status'];

describe('shared/config/nearest', () => {
  const cases: { name: string; words: boolean; expected: string[] }[] = [
    { name: 'backups', words: true, expected: ['list-backups'] },
    { name: 'bakup', words: true, expected: ['backup'] },
    { name: 'restor', words: true, expected: ['restore', 'verify-restore'] },
    { name: 'verify', words: true, expected: ['verify-restore'] },
    { name: 'stats', words: true, expected: ['status'] },
    { name: 'key-gen', words: true, expected: ['keygen'] },
    { name: 'frobnicate', words: true, expected: [] },
    { name: 'backups', words: false, expected: ['backup'] },
    { name: 'verify', words: false, expected: [] },
  ];
  for (const c of cases) {
    it(`${c.name}${c.words ? ' (by word)' : ''} -> ${c.expected.join(', ') || 'nothing'}`, () => {
      assert.deepEqual(nearest(c.name, COMMANDS, { words: c.words }), c.expected);
    });
  }

  it('counts insertions, deletions and substitutions', () => {
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('dry-run', 'dry-run'), 0);
  });
});
