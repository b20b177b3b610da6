import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { bodyParts } from '../../../shared/storage/body-parts.js';

/** Part sizes and `last` flags, copying each part (stream parts share one buffer). */
async function cut(body: Readable | Uint8Array, partSize: number): Promise<Array<{ bytes: Buffer; last: boolean }>> {
  const out: Array<{ bytes: Buffer; last: boolean }> = [];
  for await (const p of bodyParts(body, partSize)) out.push({ bytes: Buffer.from(p.data), last: p.last });
  return out;
}

function counting(total: number): Buffer {
  return Buffer.from(Array.from({ length: total }, (_, i) => i % 251));
}

function chunked(bytes: Buffer, sizes: number[]): Readable {
  const chunks: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length];
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return Readable.from(chunks);
}

describe('shared/storage/body-parts', () => {
  const cases: Array<{ name: string; total: number; chunks: number[]; partSize: number; parts: number[] }> = [
    { name: 'empty stream', total: 0, chunks: [1], partSize: 10, parts: [0] },
    { name: 'smaller than a part', total: 7, chunks: [3], partSize: 10, parts: [7] },
    { name: 'exactly one part', total: 10, chunks: [4], partSize: 10, parts: [10] },
    { name: 'one byte more than a part', total: 11, chunks: [4], partSize: 10, parts: [10, 1] },
    { name: 'exact multiple, chunk larger than a part', total: 30, chunks: [25], partSize: 10, parts: [10, 10, 10] },
    { name: 'uneven chunks', total: 47, chunks: [1, 6, 13], partSize: 10, parts: [10, 10, 10, 10, 7] },
    { name: 'zero-length chunks in between', total: 20, chunks: [10, 0, 0, 10, 0], partSize: 10, parts: [10, 10] },
  ];
  for (const c of cases) {
    it(`cuts a stream: ${c.name}`, async () => {
      const bytes = counting(c.total);

      const parts = await cut(chunked(bytes, c.chunks), c.partSize);

      assert.deepEqual(
        parts.map((p) => p.bytes.length),
        c.parts,
      );
      assert.deepEqual(
        parts.map((p) => p.last),
        c.parts.map((_, i) => i === c.parts.length - 1),
      );
      assert.deepEqual(Buffer.concat(parts.map((p) => p.bytes)), bytes);
    });
    it(`cuts a Buffer the same way: ${c.name}`, async () => {
      const bytes = counting(c.total);

      const parts = await cut(bytes, c.partSize);

      assert.deepEqual(
        parts.map((p) => p.bytes.length),
        c.parts,
      );
      assert.deepEqual(Buffer.concat(parts.map((p) => p.bytes)), bytes);
    });
  }

  it('reuses one buffer for every full part of a stream', async () => {
    // Sizes above Buffer's 4 KiB pool threshold, so that sharing is not the pool's doing.
    const source = counting(50_000);
    const seen = new Set<ArrayBufferLike>();
    let parts = 0;

    for await (const p of bodyParts(chunked(source, [3000]), 10_000)) {
      seen.add(p.data.buffer);
      parts++;
    }

    assert.equal(parts, 5);
    assert.equal(seen.size, 1);
    assert.ok(!seen.has(source.buffer), 'parts are copied into the part buffer');
  });

  it('accepts string chunks and refuses objects', async () => {
    assert.equal((await cut(Readable.from(['ab', 'c']), 10))[0].bytes.toString(), 'abc');
    await assert.rejects(cut(Readable.from([{ not: 'bytes' }]), 10), /must yield bytes/);
  });

  it('destroys the stream when the consumer stops early', async () => {
    const stream = chunked(counting(100), [10]);

    for await (const _ of bodyParts(stream, 10)) break;

    assert.ok(stream.destroyed);
  });
});
