/**
 * Measures memory and throughput of a large streamed put (not a test: figures vary by machine).
 *
 *   node --openssl-legacy-provider --import tsx test/support/s3-put-memory.ts [MiB] [partMiB]
 *
 * s3rver runs in a child process so that its own memory is not counted. Prints RSS before,
 * peak RSS during the upload, throughput, and the same for the file store.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createObjectStore } from '../../shared/storage/create-object-store.js';
import { FileObjectStore } from '../../shared/storage/file-object-store.js';
import type { ObjectStore } from '../../shared/storage/object-store.js';
import { startS3Server } from './s3-server.js';

const MIB = 1024 * 1024;

if (process.argv[2] === '--serve') {
  const s3 = await startS3Server();
  process.send?.({ settings: s3.settings(''), credentials: s3.credentials });
  process.on('disconnect', () => void s3.stop().then(() => process.exit(0)));
} else {
  const totalMiB = Number(process.argv[2] ?? 200);
  const partMiB = Number(process.argv[3] ?? 16);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: process.execArgv, stdio: 'inherit' });
  const { settings, credentials } = await new Promise<{
    settings: Parameters<typeof createObjectStore>[0];
    credentials: { accessKeyId: string; secretAccessKey: string };
  }>((resolve) => child.once('message', (m) => resolve(m as never)));
  settings.store = { kind: 's3', bucket: (settings.store as { bucket: string }).bucket, prefix: 'memory' };
  settings.s3PartSize = partMiB;
  const s3Store = createObjectStore(settings, { credentials });
  const dir = await mkdtemp(join(tmpdir(), 'put-memory-'));
  try {
    for (const [name, store] of [
      ['s3 (s3rver)', s3Store],
      ['file', new FileObjectStore(dir)],
    ] as Array<[string, ObjectStore]>) {
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const started = process.hrtime.bigint();
      const put = await store.put('big.bin', generated(totalMiB * MIB));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      clearInterval(timer);
      const read = await timed(() => store.digest('big.bin'));
      console.log(
        `${name}: put ${totalMiB} MiB in ${partMiB} MiB parts: ${(totalMiB / seconds).toFixed(0)} MiB/s; ` +
          `RSS before ${(before / MIB).toFixed(0)} MiB, peak during put ${(peak / MIB).toFixed(0)} MiB (+${((peak - before) / MIB).toFixed(0)}); ` +
          `read-back digest ${(totalMiB / read.seconds).toFixed(0)} MiB/s, ${read.value.sha256 === put.sha256 ? 'identical' : 'DIFFERENT'}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    child.disconnect();
  }
}

/** `total` bytes in 64 KiB chunks, generated on demand (the source holds nothing). */
function generated(total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024);
  async function* gen() {
    for (let sent = 0, n = 0; sent < total; sent += chunk.length, n++) {
      chunk.writeUInt32LE(n, 0);
      yield Buffer.from(chunk.subarray(0, Math.min(chunk.length, total - sent)));
    }
  }
  return Readable.from(gen());
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
