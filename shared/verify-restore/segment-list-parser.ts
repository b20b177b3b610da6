/**
 * Parses the plaintext of a backup segment one Secret at a time, so that a segment is never
 * held as one string nor as one parsed array.
 *
 * The framing is the one `SegmentWriter` writes (and that `kubectl apply -f` reads as a normal
 * `v1` `List`): a head line, one JSON object per line separated by `,` at the end of the line,
 * and a tail line:
 *
 *   {"apiVersion":"v1","kind":"List","metadata":{},"items":[
 *   {...Secret 1...},
 *   {...Secret 2...}
 *   ]}
 *
 * JSON text never contains a raw newline, so splitting on byte 0x0A is exact, and UTF-8 never
 * uses 0x0A inside a multi-byte character. Anything else is rejected with a message saying
 * where the framing broke; the segment's digest is pinned by the signed index, so in practice
 * that only happens with a writer bug, or with a backup made by hand to exhaust the reader
 * (a decompression bomb): a line is never buffered beyond {@link MAX_ITEM_BYTES}, and a
 * segment never read beyond {@link MAX_SEGMENT_PLAINTEXT_BYTES}, whatever the index claims.
 */
export const LIST_HEAD_LINE = '{"apiVersion":"v1","kind":"List","metadata":{},"items":[';
const LIST_TAIL_LINE = ']}';
const NEWLINE = 0x0a;
const MIB = 1024 * 1024;

/**
 * Longest line (one Secret's JSON) accepted: far above any Secret an API server stores (etcd
 * keeps objects under 1.5 MiB; 1 MiB of data is 1.4 MiB of base64, and JSON escaping at most
 * sextuples control characters in labels and annotations), so only a forged segment meets it.
 */
export const MAX_ITEM_BYTES = 16 * MIB;

/**
 * Most plaintext one segment can hold: the writer closes a segment before `--segment-size`
 * (at most 64 MiB, counted in UTF-16 code units, so up to 3 bytes each in UTF-8) is exceeded,
 * and a segment holds at least one Secret. An index recording more is not believed.
 */
export const MAX_SEGMENT_PLAINTEXT_BYTES = 3 * 64 * MIB + MAX_ITEM_BYTES;

export class SegmentListParser {
  private state: 'head' | 'items' | 'done' = 'head';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private expectMore = false;
  private sawEmptyLine = false;
  private line = 0;
  /** Items parsed so far. */
  items = 0;
  /** Plaintext bytes seen so far. */
  bytes = 0;

  /**
   * @param maxBytes The plaintext size the index records for the segment: more than that is
   *   refused at once (nothing is buffered beyond it, so a decompression bomb cannot grow memory).
   */
  constructor(private readonly maxBytes: number) {}

  /** Feeds a chunk; returns the items completed by it (parsed JSON values). */
  push(chunk: Buffer): unknown[] {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) throw new Error(`plaintext is longer than the ${this.maxBytes} bytes the index records`);
    const out: unknown[] = [];
    let start = 0;
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, i);
      if (this.pendingBytes + piece.length > MAX_ITEM_BYTES) throw this.tooLong();
      const lineBytes = this.pendingBytes === 0 ? piece : Buffer.concat([...this.pending, piece], this.pendingBytes + piece.length);
      this.pending = [];
      this.pendingBytes = 0;
      const item = this.takeLine(lineBytes.toString('utf8'));
      if (item !== undefined) out.push(item);
      start = i + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending.push(rest);
      this.pendingBytes += rest.length;
      if (this.pendingBytes > MAX_ITEM_BYTES) throw this.tooLong();
    }
    return out;
  }

  /** Call at the end of the plaintext; throws when the List is incomplete. */
  end(): void {
    if (this.pendingBytes > 0) {
      const text = Buffer.concat(this.pending).toString('utf8');
      this.pending = [];
      this.pendingBytes = 0;
      if (this.takeLine(text) !== undefined) throw new Error(`the List ends without its closing line after item ${this.items}`);
    }
    if (this.state !== 'done')
      throw new Error(`the List ends early, after ${this.items} item(s) and without its closing line (truncated plaintext)`);
  }

  private takeLine(text: string): unknown {
    this.line++;
    switch (this.state) {
      case 'head':
        if (text !== LIST_HEAD_LINE) throw new Error('it does not start like a secret-steward v1 List');
        this.state = 'items';
        return undefined;
      case 'done':
        throw new Error(`unexpected data after the end of the List (line ${this.line})`);
      case 'items': {
        if (text === LIST_TAIL_LINE) {
          if (this.expectMore) throw new Error(`item ${this.items} is followed by a comma but no further item`);
          this.state = 'done';
          return undefined;
        }
        if (text === '' && this.items === 0 && !this.sawEmptyLine) {
          // the empty List: head, '', tail
          this.sawEmptyLine = true;
          return undefined;
        }
        if (this.items > 0 && !this.expectMore)
          throw new Error(`item ${this.items} is not followed by a comma but another item follows (line ${this.line})`);
        const more = text.endsWith(',');
        let value: unknown;
        try {
          value = JSON.parse(more ? text.slice(0, -1) : text);
        } catch {
          throw new Error(`item ${this.items + 1} (line ${this.line}) is not valid JSON`);
        }
        this.expectMore = more;
        this.items++;
        return value;
      }
    }
  }

  /** The line being read is longer than any Secret can be. */
  private tooLong(): Error {
    return new Error(
      `line ${this.line + 1}${this.state === 'items' ? ` (item ${this.items + 1})` : ''} is longer than ${MAX_ITEM_BYTES / MIB} MiB, ` +
        'more than any Secret an API server stores (a decompression bomb, or not written by secret-steward)',
    );
  }
}
