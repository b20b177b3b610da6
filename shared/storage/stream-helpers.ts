import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ObjectDigest } from './object-store.js';

/**
 * Reads a stream into one Buffer, giving up (and destroying the stream) as soon as more than
 * `maxBytes` arrived, with the error `tooLarge()` returns.
 */
export async function readAll(stream: Readable, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) {
      stream.destroy();
      throw tooLarge();
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

/** Size and hex SHA-256 of everything a stream yields, in constant memory. */
export async function sha256Of(stream: Readable): Promise<ObjectDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}
