import type { Readable } from 'node:stream';

/** One slice of an upload body. */
export interface BodyPart {
  /**
   * The part's bytes. For streamed bodies the buffer is REUSED for the next part: the
   * consumer must be done with it (the upload finished) before asking for the next part.
   */
  data: Buffer;
  /** True for the final part (also for the only part of a small or empty body). */
  last: boolean;
}

/**
 * Cuts an upload body into parts of exactly `partSize` bytes (the last one shorter, possibly
 * empty for an empty body), reading the stream only as fast as the parts are consumed.
 *
 * Memory: a body that ends before `partSize` is kept as its chunks (a 2 KiB manifest never
 * costs a 16 MiB buffer); a larger one gets ONE `partSize` buffer, allocated once and reused
 * for every part, plus at most one chunk read ahead to learn whether a full part was the last.
 * Returning early (the consumer broke off) destroys the stream, so its producer stops.
 */
export async function* bodyParts(body: Readable | Uint8Array, partSize: number): AsyncGenerator<BodyPart> {
  if (body instanceof Uint8Array) {
    yield* byteParts(Buffer.from(body.buffer, body.byteOffset, body.byteLength), partSize);
    return;
  }
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  let big: Buffer | undefined;
  let carry: Buffer | undefined;
  let ended = false;

  const nextChunk = async (): Promise<Buffer | undefined> => {
    if (carry !== undefined) {
      const c = carry;
      carry = undefined;
      return c;
    }
    if (ended) return undefined;
    const r = await chunks.next();
    if (r.done) {
      ended = true;
      return undefined;
    }
    return toBuffer(r.value);
  };

  try {
    for (;;) {
      // Fill one part: small bodies stay as chunks, a full part goes into `big`.
      let filled = 0;
      const small: Buffer[] = [];
      for (;;) {
        const chunk = await nextChunk();
        if (chunk === undefined) break;
        const room = partSize - filled;
        let take = chunk;
        if (chunk.length > room) {
          take = chunk.subarray(0, room);
          carry = chunk.subarray(room);
        }
        if (big === undefined && filled + take.length < partSize) {
          small.push(take);
        } else {
          // The body is at least one part long: from now on parts are built in one buffer.
          if (big === undefined) {
            big = Buffer.allocUnsafe(partSize);
            let at = 0;
            for (const s of small) {
              big.set(s, at);
              at += s.length;
            }
            small.length = 0;
          }
          big.set(take, filled);
        }
        filled += take.length;
        if (filled === partSize) break;
      }
      if (filled < partSize) {
        // The body ended inside this part.
        const data = big !== undefined && small.length === 0 ? big.subarray(0, filled) : Buffer.concat(small, filled);
        yield { data, last: true };
        return;
      }
      // A full part: look one chunk ahead to tell whether it is the last.
      let ahead = await nextChunk();
      while (ahead !== undefined && ahead.length === 0) ahead = await nextChunk();
      carry = ahead;
      const last = ahead === undefined;
      yield { data: big!, last };
      if (last) return;
    }
  } finally {
    if (!ended) await chunks.return?.();
  }
}

function* byteParts(bytes: Buffer, partSize: number): Generator<BodyPart> {
  if (bytes.length <= partSize) {
    yield { data: bytes, last: true };
    return;
  }
  for (let at = 0; at < bytes.length; at += partSize) {
    const end = Math.min(at + partSize, bytes.length);
    yield { data: bytes.subarray(at, end), last: end === bytes.length };
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError('upload body stream must yield bytes (Buffer/Uint8Array) or strings');
}
