import assert from 'node:assert/strict';
import { documentChunks, renderDocument } from '../../../shared/runtime/output.js';

describe('shared/runtime/output', () => {
  describe('documentChunks', () => {
    const doc = (n: number) => ({
      format: 'secret-steward.io/test/v1',
      dryRun: false,
      items: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, digest: 'x'.repeat(64), nested: { a: [i, 'b'], empty: {} } })),
      counts: { done: n },
      warnings: ['a "quoted" warning'],
    });

    for (const [what, n, chunk] of [
      ['many items in small pieces', 50, 100],
      ['one item', 1, 64 * 1024],
      ['no items', 0, 10],
    ] as const) {
      it(`joins to exactly what renderDocument prints, omitted fields included: ${what}`, () => {
        const omit = new Set(['digest']);

        const pieces = [...documentChunks(doc(n), 'json', 'items', omit, chunk)];

        assert.equal(pieces.join(''), renderDocument(doc(n), 'json', omit));
        if (n === 50) assert.ok(pieces.length > 10, `${pieces.length} pieces`);
      });
    }

    it('renders yaml whole', () => {
      assert.deepEqual([...documentChunks(doc(3), 'yaml', 'items')], [renderDocument(doc(3), 'yaml')]);
    });
  });
});
