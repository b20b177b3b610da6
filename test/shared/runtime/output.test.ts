import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { documentChunks, renderDocument, writePieces } from '../../../shared/runtime/output.js';

describe('shared/runtime/output', () => {
  describe('writePieces', () => {
    /** A sink whose buffer is full after every write, as a pipe nobody has read yet. */
    class FullSink extends EventEmitter {
      readonly written: string[] = [];
      write(text: string): boolean {
        this.written.push(text);
        return false;
      }
    }

    it('writes the next piece only once the sink has drained', async () => {
      const sink = new FullSink();

      const writing = writePieces(sink, ['a', 'b', 'c']);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(sink.written, ['a'], 'waits for drain after a full write');
      sink.emit('drain');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(sink.written, ['a', 'b']);
      sink.emit('drain');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(sink.written, ['a', 'b', 'c']);
      sink.emit('drain'); // the last piece is waited for too: the document has left the process
      await writing;

      assert.deepEqual(sink.written, ['a', 'b', 'c']);
      assert.equal(sink.listenerCount('drain') + sink.listenerCount('close') + sink.listenerCount('error'), 0, 'no listener left behind');
    });

    it('stops waiting when the sink closes or fails, and writes straight on to a sink that is not a stream', async () => {
      const closed = new FullSink();
      const writing = writePieces(closed, ['a', 'b']);
      await new Promise((r) => setImmediate(r));
      closed.emit('close');
      await new Promise((r) => setImmediate(r));
      closed.emit('error', new Error('EPIPE'));
      await writing;
      assert.deepEqual(closed.written, ['a', 'b']);

      const plain: string[] = [];
      await writePieces({ write: (t: string) => plain.push(t) }, ['x', 'y']);
      assert.deepEqual(plain, ['x', 'y']);
    });
  });

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
