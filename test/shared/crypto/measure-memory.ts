/**
 * Measures encryption (and, for a bounded segment, decryption) throughput and peak RSS.
 * Not part of the mocha suite (it takes tens of seconds); run it by hand:
 *
 *   node --import tsx test/shared/crypto/measure-memory.ts [encrypt-MiB=200] [decrypt-MiB=64]
 *
 * The input is generated on the fly and the output is written to a temp file, so the only
 * memory that can grow with the input is the crypto layer's own.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decryptStream, encryptStream, generateKeyPair, loadDecryptionKeys, loadRecipientKeys } from '../../../shared/crypto/index.js';

const encryptMiB = Number(process.argv[2] ?? 200);
const decryptMiB = Number(process.argv[3] ?? 64);
const MiB = 1024 * 1024;

function generated(totalBytes: number): Readable {
  const block = randomBytes(MiB);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= totalBytes) return void this.push(null);
      const n = Math.min(MiB, totalBytes - sent);
      // A fresh copy per chunk, so nothing is shared with what was pushed before.
      this.push(Buffer.from(block.subarray(0, n)));
      sent += n;
    },
  });
}

function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

const mb = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

const dir = mkdtempSync(join(tmpdir(), 'steward-measure-'));
try {
  const pair = await generateKeyPair({
    name: 'measure',
    email: 'measure@example.invalid',
    passphrase: 'measure-only-passphrase',
    type: 'ecc',
  });
  writeFileSync(join(dir, 'pub.asc'), pair.publicKey);
  writeFileSync(join(dir, 'priv.asc'), pair.privateKey);
  writeFileSync(join(dir, 'pass'), 'measure-only-passphrase\n');
  const { keys } = await loadRecipientKeys([join(dir, 'pub.asc')], { now: new Date(), warnWithinMs: 0 });
  const decryptionKeys = await loadDecryptionKeys([join(dir, 'priv.asc')], join(dir, 'pass'));

  for (const [label, size] of [
    ['encrypt', encryptMiB],
    ['encrypt (for decrypt)', decryptMiB],
  ] as const) {
    const baseline = process.memoryUsage.rss();
    const rss = sampleRss();
    const started = performance.now();
    await pipeline(encryptStream(generated(size * MiB), { recipients: keys }), createWriteStream(join(dir, `${size}.pgp`)));
    const seconds = (performance.now() - started) / 1000;
    const peak = rss.stop();
    console.log(
      `${label} ${size} MiB: ${(size / seconds).toFixed(1)} MiB/s (${seconds.toFixed(1)} s), RSS baseline ${mb(baseline)}, peak ${mb(peak)}, growth ${mb(peak - baseline)}`,
    );
  }

  global.gc?.();
  const baseline = process.memoryUsage.rss();
  const rss = sampleRss();
  const started = performance.now();
  let bytes = 0;
  const plaintext = await decryptStream(createReadStream(join(dir, `${decryptMiB}.pgp`)), { decryptionKeys, label: 'measurement segment' });
  await pipeline(
    plaintext,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done();
      },
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const peak = rss.stop();
  console.log(
    `decrypt ${decryptMiB} MiB: ${(decryptMiB / seconds).toFixed(1)} MiB/s (${seconds.toFixed(1)} s), RSS baseline ${mb(baseline)}, peak ${mb(peak)}, growth ${mb(peak - baseline)}; ${bytes === decryptMiB * MiB ? 'byte count OK' : `WRONG byte count ${bytes}`}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
