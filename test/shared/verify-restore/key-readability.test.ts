import assert from 'node:assert/strict';
import { assessKeyReadability, type ReadabilityCandidate, unreadableWarning } from '../../../shared/verify-restore/key-readability.js';

const OLD = 'A'.repeat(40);
const NEW = 'B'.repeat(40);
const ESCROW = 'C'.repeat(40);

const backup = (id: string, recipients: string[], kind: ReadabilityCandidate['kind'] = 'scheduled'): ReadabilityCandidate => ({
  id,
  kind,
  recipients,
});

describe('shared/verify-restore/key-readability', () => {
  it('judges each backup by its recipients: readable by the decryption keys among them, oldest id first', () => {
    const backups = [
      backup('20261127T031500Z-cccccc', [NEW]),
      backup('20261125T031500Z-aaaaaa', [OLD]),
      backup('20261126T031500Z-bbbbbb', [OLD, ESCROW], 'pre-restore'),
    ];

    const r = assessKeyReadability(backups, [NEW]);

    assert.deepEqual(r, {
      decryptionKeys: [NEW],
      backups: [
        { id: '20261125T031500Z-aaaaaa', kind: 'scheduled', recipients: [OLD], readable: false, readableBy: [] },
        { id: '20261126T031500Z-bbbbbb', kind: 'pre-restore', recipients: [OLD, ESCROW], readable: false, readableBy: [] },
        { id: '20261127T031500Z-cccccc', kind: 'scheduled', recipients: [NEW], readable: true, readableBy: [NEW] },
      ],
      unreadable: ['20261125T031500Z-aaaaaa', '20261126T031500Z-bbbbbb'],
    });
  });

  const cases: Array<{ name: string; recipients: string[]; keys: string[]; readableBy: string[] }> = [
    { name: 'one key of two recipients', recipients: [OLD, NEW], keys: [NEW], readableBy: [NEW] },
    { name: 'both keys configured', recipients: [OLD, NEW], keys: [OLD, NEW], readableBy: [OLD, NEW] },
    { name: 'the old key kept beside the new one', recipients: [OLD], keys: [NEW, OLD], readableBy: [OLD] },
    { name: 'only an escrow recipient', recipients: [ESCROW], keys: [OLD, NEW], readableBy: [] },
    { name: 'no recipient recorded', recipients: [], keys: [NEW], readableBy: [] },
    { name: 'no decryption key', recipients: [NEW], keys: [], readableBy: [] },
  ];
  for (const c of cases) {
    it(`${c.name}: readable by ${c.readableBy.length === 0 ? 'none' : c.readableBy.length}`, () => {
      const r = assessKeyReadability([backup('20261125T031500Z-aaaaaa', c.recipients)], c.keys);

      assert.deepEqual(r.backups[0].readableBy, c.readableBy);
      assert.equal(r.backups[0].readable, c.readableBy.length > 0);
      assert.deepEqual(r.unreadable, c.readableBy.length > 0 ? [] : ['20261125T031500Z-aaaaaa']);
    });
  }

  it('warns naming the unreadable backups, the keys they are encrypted to and both ways out; nothing when all are readable', () => {
    const r = assessKeyReadability(
      [backup('20261125T031500Z-aaaaaa', [OLD]), backup('20261126T031500Z-bbbbbb', [OLD]), backup('20261127T031500Z-cccccc', [NEW])],
      [NEW],
    );

    const w = unreadableWarning(r);

    assert.equal(
      w,
      `2 retained backup(s) can be read only by key(s) this drill does not hold (${OLD}): 20261125T031500Z-aaaaaa, 20261126T031500Z-bbbbbb. ` +
        'Keep the old private key configured (--decryption-key, repeatable) wherever backups are restored, ' +
        'or re-encrypt these backups to the current key with secret-steward rekey (docs/rekey.md)',
    );
    assert.equal(unreadableWarning(assessKeyReadability(r.backups, [OLD, NEW])), undefined);
  });

  it('names at most ten backups in the warning and counts the rest', () => {
    const many = Array.from({ length: 13 }, (_, i) => backup(`202611${String(10 + i)}T031500Z-aaaaaa`, [OLD]));

    const w = unreadableWarning(assessKeyReadability(many, [NEW])) ?? '';

    assert.match(w, /^13 retained backup\(s\)/);
    assert.match(w, /20261119T031500Z-aaaaaa and 3 more\. Keep/);
    assert.doesNotMatch(w, /20261120T031500Z/);
  });
});
