import assert from 'node:assert/strict';
import { LIST_HEAD_LINE, MAX_ITEM_BYTES, SegmentListParser } from '../../../shared/verify-restore/segment-list-parser.js';

const MIB = 1024 * 1024;

const HEAD = `${LIST_HEAD_LINE}\n`;
const TAIL = '\n]}\n';

/** What SegmentWriter writes for these items. */
function written(items: object[]): string {
  return HEAD + items.map((i) => JSON.stringify(i)).join(',\n') + TAIL;
}

function parseAll(text: string, chunkSize = text.length, maxBytes = Buffer.byteLength(text)): unknown[] {
  const bytes = Buffer.from(text);
  const p = new SegmentListParser(maxBytes);
  const out: unknown[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(...p.push(bytes.subarray(i, i + chunkSize)));
  p.end();
  return out;
}

describe('shared/verify-restore/segment-list-parser', () => {
  const items = [{ a: 1, s: 'x,y' }, { b: 'ünïcödé ✓ 🔐' }, { c: { nested: [1, 2, 3] } }];

  it('parses what the segment writer writes, at every chunk boundary', () => {
    const text = written(items);
    for (let chunk = 1; chunk <= 40; chunk++) assert.deepEqual(parseAll(text, chunk), items, `chunk ${chunk}`);
    assert.deepEqual(parseAll(text), items);
  });

  it('parses an empty List and a List of one', () => {
    assert.deepEqual(parseAll(written([])), []);
    assert.deepEqual(parseAll(written([{ one: true }])), [{ one: true }]);
  });

  it('counts the plaintext bytes and refuses more than the recorded size', () => {
    const text = written(items);
    const p = new SegmentListParser(Buffer.byteLength(text));
    p.push(Buffer.from(text));
    assert.equal(p.bytes, Buffer.byteLength(text));
    assert.equal(p.items, 3);
    assert.throws(() => parseAll(text, 7, Buffer.byteLength(text) - 1), /plaintext is longer than the \d+ bytes the index records/);
  });

  const broken: Array<[string, string, RegExp]> = [
    ['another head', '{"kind":"List","items":[\n{}\n]}\n', /does not start like a secret-steward v1 List/],
    ['a missing comma', `${HEAD}{"a":1}\n{"b":2}${TAIL}`, /item 1 is not followed by a comma but another item follows/],
    ['a dangling comma', `${HEAD}{"a":1},${TAIL}`, /item 1 is followed by a comma but no further item/],
    ['a truncated List', `${HEAD}{"a":1},\n{"b":2}`, /the List ends without its closing line after item 2/],
    ['a cut-off item', `${HEAD}{"a":1},\n{"b":`, /item 2 \(line 3\) is not valid JSON/],
    ['data after the end', `${written([{ a: 1 }])}{"extra":true}\n`, /unexpected data after the end of the List/],
    ['no tail at all', HEAD, /ends early, after 0 item\(s\)/],
    ['a second empty line', `${HEAD}\n${TAIL}`, /item 1 \(line 3\) is not valid JSON/],
    ['an empty line after the end', `${written([{ a: 1 }])}\n`, /unexpected data after the end of the List \(line 4\)/],
  ];
  for (const [what, text, message] of broken) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseAll(text, 5), message);
    });
  }

  it('refuses a line longer than any Secret, without buffering more of it', () => {
    const p = new SegmentListParser(256 * MIB);
    p.push(Buffer.from(HEAD));
    const chunk = Buffer.alloc(MIB, 0x41);

    assert.throws(() => {
      for (let i = 0; i <= MAX_ITEM_BYTES / MIB; i++) p.push(chunk);
    }, /^Error: line 2 \(item 1\) is longer than 16 MiB, more than any Secret an API server stores/);
    assert.throws(() => parseAll(`${HEAD}"${'A'.repeat(MAX_ITEM_BYTES)}"${TAIL}`), /line 2 \(item 1\) is longer than 16 MiB/);
    assert.deepEqual(parseAll(`${HEAD}"${'A'.repeat(MAX_ITEM_BYTES - 2)}"${TAIL}`), ['A'.repeat(MAX_ITEM_BYTES - 2)]);
  });

  it('never puts item content in an error message', () => {
    const secret = 'SECRET-VALUE-123456';
    assert.throws(
      () => parseAll(`${HEAD}{"data":{"k":"${secret}"}${TAIL}`),
      (e: Error) => !e.message.includes(secret),
    );
  });
});
