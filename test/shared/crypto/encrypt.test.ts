import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { enums, readMessage, type SymEncryptedIntegrityProtectedDataPacket } from 'openpgp';
import {
  CryptoError,
  type DecryptionKey,
  decryptAndVerify,
  decryptStream,
  encryptBytes,
  encryptStream,
  loadDecryptionKeys,
  loadRecipientKeys,
  loadSigningKey,
  type RecipientKey,
  type SigningKey,
} from '../../../shared/crypto/index.js';
import { collect, makeTestKey, rejection, TempDir } from './support.js';

const MiB = 1024 * 1024;

describe('shared/crypto/encrypt', () => {
  let dir: TempDir;
  let recipient: RecipientKey;
  let decryptionKeys: DecryptionKey[];
  let signingKey: SigningKey;

  before(async () => {
    dir = new TempDir();
    const k = await makeTestKey(dir, 'enc');
    recipient = (await loadRecipientKeys([k.publicFile], { now: new Date(), warnWithinMs: 0 })).keys[0];
    decryptionKeys = await loadDecryptionKeys([k.privateFile], k.passphraseFile);
    signingKey = (await loadSigningKey(k.privateFile, k.passphraseFile, { now: new Date() })).key;
  });
  after(() => dir.cleanup());

  it('writes what GnuPG 2.2 reads: PKESK v3 + SEIPD v1 (MDC), no compression, binary', async () => {
    const ciphertext = await encryptBytes(Buffer.from('index document'), { recipients: [recipient], signingKey });

    const message = await readMessage({ binaryMessage: ciphertext });
    const tags = Array.from(message.packets, (p) => (p.constructor as unknown as { tag: number }).tag);
    assert.deepEqual(tags, [enums.packet.publicKeyEncryptedSessionKey, enums.packet.symEncryptedIntegrityProtectedData]);
    assert.equal((message.packets[1] as SymEncryptedIntegrityProtectedDataPacket & { version: number }).version, 1);
    const inner = await message.decrypt(decryptionKeys.map((k) => k.key));
    assert.equal(inner.packets.filterByTag(enums.packet.compressedData).length, 0);
    assert.equal(inner.packets.filterByTag(enums.packet.literalData).length, 1);
  });

  it('stays on SEIPD v1 even when every recipient key advertises SEIPD v2 (AEAD)', async () => {
    const aeadKey = await makeTestKey(dir, 'aead', { config: { aeadProtect: true } });
    const { keys } = await loadRecipientKeys([aeadKey.publicFile], { now: new Date(), warnWithinMs: 0 });

    const ciphertext = await collect(encryptStream(Readable.from([Buffer.from('x')]), { recipients: keys }));

    const message = await readMessage({ binaryMessage: ciphertext });
    assert.equal((message.packets[1] as SymEncryptedIntegrityProtectedDataPacket & { version: number }).version, 1);
  });

  it('signs a stream when given a signing key (one-pass signature, verified on decryption)', async () => {
    const plaintext = Buffer.from('segment bytes'.repeat(10_000));

    const ciphertext = await collect(encryptStream(Readable.from([plaintext]), { recipients: [recipient], signingKey }));
    const { plaintext: decrypted, signature } = await decryptAndVerify(ciphertext, { decryptionKeys, trustedSigners: [recipient.key] });

    assert.ok(Buffer.from(decrypted).equals(plaintext));
    assert.equal(signature.status, 'valid');
  });

  it('streams in bounded memory: the input is never read far ahead of the output (64 MiB)', async () => {
    // What is in flight is a constant number of chunks, whatever the total (measured: about
    // 1 MiB with 64 KiB chunks, for 64 MiB or 256 MiB); 8 MiB leaves a wide margin.
    const total = 64 * MiB;
    const chunkSize = 64 * 1024;
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    const inputHash = createHash('sha256');
    const input = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        const chunk = Buffer.alloc(chunkSize, produced / chunkSize);
        inputHash.update(chunk);
        produced += chunk.length;
        this.push(chunk);
      },
    });
    const ciphertext: Buffer[] = [];

    for await (const chunk of encryptStream(input, { recipients: [recipient] })) {
      consumed += (chunk as Buffer).length;
      maxAhead = Math.max(maxAhead, produced - consumed);
      ciphertext.push(chunk as Buffer);
    }

    assert.equal(produced, total);
    assert.ok(maxAhead < 8 * MiB, `input ran ${Math.round(maxAhead / MiB)} MiB ahead of the output`);
    const plaintext = await decryptStream(Readable.from(ciphertext), { decryptionKeys, label: 'large test message' });
    const outputHash = createHash('sha256');
    for await (const chunk of plaintext) outputHash.update(chunk as Buffer);
    assert.equal(outputHash.digest('hex'), inputHash.digest('hex'));
  });

  it('passes an error of the input stream through unchanged', async () => {
    const failure = new Error('storage read failed');
    const input = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        this.destroy(failure);
      },
    });

    const error = await rejection(collect(encryptStream(input, { recipients: [recipient] })));

    assert.equal(error, failure);
  });

  it('destroying the output destroys the input', async () => {
    const input = new Readable({
      read() {
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    const output = encryptStream(input, { recipients: [recipient] });

    for await (const _ of output) break;
    await new Promise((resolve) => setImmediate(resolve));

    assert.ok(input.destroyed);
  });

  it('fails with CryptoError key-unusable, naming the label, when a recipient key expired since it loaded', async () => {
    const later = new Date(Date.now() + 3 * 86_400_000);
    const shortLived = await makeTestKey(dir, 'shortlived', { keyExpirationTime: 86_400 });
    const { keys } = await loadRecipientKeys([shortLived.publicFile], { now: new Date(), warnWithinMs: 0 });

    const error = await rejection(encryptBytes(Buffer.from('x'), { recipients: keys, label: 'index of backup B1', now: later }));

    assert.ok(error instanceof CryptoError);
    assert.equal(error.kind, 'key-unusable');
    assert.match(error.message, /^cannot encrypt index of backup B1: a key can no longer be used/);
  });

  it('refuses to encrypt to nobody', async () => {
    const error = await rejection(encryptBytes(Buffer.from('x'), { recipients: [], label: 'segment 1' }));

    assert.ok(error instanceof CryptoError);
    assert.equal(error.kind, 'key-unusable');
  });
});
