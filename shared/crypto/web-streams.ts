/**
 * Node Readable <-> web ReadableStream for openpgp.js 6 (which streams web streams only).
 *
 * Not `Readable.toWeb`: its adapter pushes with 'data' events, and when the web stream is
 * cancelled while the Readable is still flowing, a late 'data' event enqueues into the closed
 * controller and throws an uncaught ERR_INVALID_STATE that kills the process
 * (nodejs/node#54205, #64529; fix pending in nodejs/node#62773). Pulling through the
 * Readable's async iterator has no such race, honours backpressure one chunk at a time, and
 * cancelling destroys the Readable.
 */
import type { Readable } from 'node:stream';

/** A pull-based web stream of the Readable's bytes. Cancelling it destroys the Readable. */
export function readableToWeb(readable: Readable): ReadableStream<Uint8Array> {
  const iterator = readable[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | string>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(asPlainBytes(value));
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 1 },
  );
}

/** The web stream's chunks as an async iterable; leaving the loop early cancels the stream. */
export function webChunks(stream: unknown): AsyncIterable<Uint8Array> {
  return stream as AsyncIterable<Uint8Array>;
}

/** openpgp.js wants Uint8Array chunks; a Buffer is one, but expose a plain view of its bytes. */
function asPlainBytes(chunk: Uint8Array | string): Uint8Array {
  if (typeof chunk === 'string') return new TextEncoder().encode(chunk);
  return Buffer.isBuffer(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : chunk;
}
