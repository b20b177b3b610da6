import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createMessage, encrypt, enums, type Message, readKey, sign } from 'openpgp';
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
  loadTrustedSignerKeys,
  type RecipientKey,
  type SigningKey,
  type TrustedSignerKey,
} from '../../../shared/crypto/index.js';
import { collect, makeTestKey, rejection, TempDir, type TestKey } from './support.js';

const CANARY = 'CANARY-plaintext-3f9c1e-do-not-leak';

describe('shared/crypto/decrypt', () => {
  let dir: TempDir;
  let alice: TestKey;
  let bob: TestKey;
  let mallory: TestKey;
  let aliceRecipient: RecipientKey;
  let bobRecipient: RecipientKey;
  let aliceDecrypt: DecryptionKey[];
  let bobDecrypt: DecryptionKey[];
  let malloryDecrypt: DecryptionKey[];
  let aliceSigning: SigningKey;
  let mallorySigning: SigningKey;
  let trustedAlice: TrustedSignerKey[];

  before(async () => {
    dir = new TempDir();
    [alice, bob, mallory] = await Promise.all(['alice', 'bob', 'mallory'].map((n) => makeTestKey(dir, n)));
    const now = new Date();
    const recipients = await loadRecipientKeys([alice.publicFile, bob.publicFile], { now, warnWithinMs: 0 });
    [aliceRecipient, bobRecipient] = recipients.keys;
    aliceDecrypt = await loadDecryptionKeys([alice.privateFile], alice.passphraseFile);
    bobDecrypt = await loadDecryptionKeys([bob.privateFile], bob.passphraseFile);
    malloryDecrypt = await loadDecryptionKeys([mallory.privateFile], mallory.passphraseFile);
    aliceSigning = (await loadSigningKey(alice.privateFile, alice.passphraseFile, { now })).key;
    mallorySigning = (await loadSigningKey(mallory.privateFile, mallory.passphraseFile, { now })).key;
    trustedAlice = await loadTrustedSignerKeys([alice.publicFile]);
  });
  after(() => dir.cleanup());

  async function streamRoundTrip(plaintext: Buffer, chunks = 1): Promise<Buffer> {
    const size = Math.ceil(plaintext.length / chunks) || 1;
    const parts = Array.from({ length: chunks }, (_, i) => plaintext.subarray(i * size, (i + 1) * size));
    const ciphertext = await collect(encryptStream(Readable.from(parts), { recipients: [aliceRecipient] }));
    return collect(await decryptStream(Readable.from([ciphertext]), { decryptionKeys: aliceDecrypt, label: 'segment 1 of backup T' }));
  }

  describe('round trips', () => {
    const cases: { name: string; data: () => Buffer; chunks?: number }[] = [
      { name: 'an empty input', data: () => Buffer.alloc(0) },
      { name: 'every byte value (not UTF-8)', data: () => Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
      { name: 'CRLF and lone CR stay as they are (binary, no newline conversion)', data: () => Buffer.from('a\r\nb\rc\n') },
      { name: '3 MiB of random bytes in 97 chunks', data: () => randomBytes(3 * 1024 * 1024 + 13), chunks: 97 },
    ];
    for (const c of cases) {
      it(`stream -> stream is byte-identical for ${c.name}`, async () => {
        const plaintext = c.data();

        const decrypted = await streamRoundTrip(plaintext, c.chunks);

        assert.ok(decrypted.equals(plaintext));
      });
    }

    it('bytes -> bytes is byte-identical, for an empty and a binary document', async () => {
      for (const plaintext of [Buffer.alloc(0), randomBytes(4096)]) {
        const ciphertext = await encryptBytes(plaintext, { recipients: [aliceRecipient] });

        const { plaintext: decrypted, signature } = await decryptAndVerify(ciphertext, {
          decryptionKeys: aliceDecrypt,
          trustedSigners: [],
        });

        assert.ok(Buffer.from(decrypted).equals(plaintext));
        assert.equal(signature.status, 'unsigned');
      }
    });

    it('a message for several recipients decrypts with each recipient key alone', async () => {
      const plaintext = Buffer.from(CANARY);
      const ciphertext = await collect(encryptStream(Readable.from([plaintext]), { recipients: [aliceRecipient, bobRecipient] }));

      const byAlice = await collect(await decryptStream(Readable.from([ciphertext]), { decryptionKeys: aliceDecrypt }));
      const byBob = await collect(await decryptStream(Readable.from([ciphertext]), { decryptionKeys: bobDecrypt }));

      assert.ok(byAlice.equals(plaintext));
      assert.ok(byBob.equals(plaintext));
    });

    it('decrypts with the right key among several given', async () => {
      const ciphertext = await encryptBytes(Buffer.from('x'), { recipients: [bobRecipient] });

      const { plaintext } = await decryptAndVerify(ciphertext, { decryptionKeys: [...malloryDecrypt, ...bobDecrypt], trustedSigners: [] });

      assert.equal(Buffer.from(plaintext).toString(), 'x');
    });
  });

  describe('signed index (decryptAndVerify)', () => {
    it('valid: signed by a trusted key', async () => {
      const ciphertext = await encryptBytes(Buffer.from('{"index":1}'), { recipients: [aliceRecipient], signingKey: aliceSigning });

      const { plaintext, signature } = await decryptAndVerify(ciphertext, { decryptionKeys: aliceDecrypt, trustedSigners: trustedAlice });

      assert.equal(Buffer.from(plaintext).toString(), '{"index":1}');
      assert.equal(signature.status, 'valid');
      assert.equal(signature.signerFingerprint, trustedAlice[0].fingerprint);
      assert.ok(signature.signedAt instanceof Date);
    });

    it('valid also with a bare openpgp.js public key as trusted signer', async () => {
      const ciphertext = await encryptBytes(Buffer.from('{}'), { recipients: [aliceRecipient], signingKey: aliceSigning });

      const { signature } = await decryptAndVerify(ciphertext, {
        decryptionKeys: aliceDecrypt,
        trustedSigners: [await readKey({ armoredKey: alice.publicKey })],
      });

      assert.equal(signature.status, 'valid');
    });

    it('unsigned: no signature at all', async () => {
      const ciphertext = await encryptBytes(Buffer.from('{}'), { recipients: [aliceRecipient] });

      const { signature } = await decryptAndVerify(ciphertext, { decryptionKeys: aliceDecrypt, trustedSigners: trustedAlice });

      assert.deepEqual(signature, { status: 'unsigned' });
    });

    it('untrusted: signed by a key not in the trusted set, which is named', async () => {
      const ciphertext = await encryptBytes(Buffer.from('{}'), { recipients: [aliceRecipient], signingKey: mallorySigning });

      const { signature } = await decryptAndVerify(ciphertext, { decryptionKeys: aliceDecrypt, trustedSigners: trustedAlice });

      assert.equal(signature.status, 'untrusted');
      assert.equal(signature.signerFingerprint, mallorySigning.fingerprint);
      assert.match(signature.signerKeyId ?? '', /^[0-9A-F]{16}$/);
      assert.ok(mallorySigning.fingerprint.endsWith(signature.signerKeyId!));
    });

    it('invalid: a trusted signature over different data (integrity intact, signature not)', async () => {
      // Sign A, then swap the literal data for B inside the signed message before encrypting:
      // the MDC covers what was encrypted, so only the signature can tell.
      const signed = (await sign({
        message: await createMessage({ binary: Buffer.from('{"secrets":1}') }),
        signingKeys: aliceSigning.key,
        format: 'object',
      })) as Message<Uint8Array>;
      // setBytes is private in openpgp.js's typings.
      const literal = signed.packets.findPacket(enums.packet.literalData) as unknown as {
        setBytes(bytes: Uint8Array, format: enums.literal): void;
      };
      literal.setBytes(Buffer.from('{"secrets":0}'), enums.literal.binary);
      const ciphertext = await encrypt({ message: signed, encryptionKeys: aliceRecipient.key, format: 'binary' });

      const { signature } = await decryptAndVerify(ciphertext, { decryptionKeys: aliceDecrypt, trustedSigners: trustedAlice });

      assert.equal(signature.status, 'invalid');
      assert.equal(signature.signerFingerprint, trustedAlice[0].fingerprint);
      assert.match(signature.reason ?? '', /digest did not match/i);
    });
  });

  describe('failures', () => {
    let signedIndex: Uint8Array;
    let segment: Buffer;

    before(async () => {
      signedIndex = await encryptBytes(Buffer.from(CANARY), { recipients: [aliceRecipient], signingKey: aliceSigning });
      segment = await collect(encryptStream(Readable.from([Buffer.from(CANARY)]), { recipients: [aliceRecipient] }));
    });

    /** Both entry points, so every failure is checked on each. */
    const entryPoints = {
      decryptAndVerify: (bytes: Uint8Array, keys: DecryptionKey[], label: string) =>
        decryptAndVerify(bytes, { decryptionKeys: keys, trustedSigners: trustedAlice, label }),
      decryptStream: async (bytes: Uint8Array, keys: DecryptionKey[], label: string) =>
        collect(await decryptStream(Readable.from([Buffer.from(bytes)]), { decryptionKeys: keys, label })),
    };

    const flip = (bytes: Uint8Array, fromEnd: number): Uint8Array => {
      const copy = Uint8Array.from(bytes);
      copy[copy.length - fromEnd] ^= 0x01;
      return copy;
    };

    const cases: { name: string; bytes: () => Uint8Array; keys: () => DecryptionKey[]; kind: string; message: RegExp }[] = [
      {
        name: 'wrong decryption key: lists the message key ids and the keys given',
        bytes: () => signedIndex,
        keys: () => malloryDecrypt,
        kind: 'wrong-key',
        message:
          /^cannot decrypt THE-LABEL: it is encrypted to key id [0-9A-F]{16}, but the decryption keys given are [0-9A-F]{40} \(test-only mallory <mallory@example\.invalid>\) \[key ids [0-9A-F]{16}, [0-9A-F]{16}\]$/,
      },
      {
        name: 'one flipped bit in the last byte (MDC)',
        bytes: () => flip(signedIndex, 1),
        keys: () => aliceDecrypt,
        kind: 'corrupt',
        message: /^cannot decrypt THE-LABEL: the data is damaged, truncated or was modified after encryption \(.*\)$/,
      },
      {
        name: 'one flipped bit in the encrypted data',
        bytes: () => flip(signedIndex, 40),
        keys: () => aliceDecrypt,
        kind: 'corrupt',
        message: /damaged, truncated or was modified/,
      },
      {
        name: 'a truncated message',
        bytes: () => signedIndex.subarray(0, signedIndex.length - 10),
        keys: () => aliceDecrypt,
        kind: 'corrupt',
        message: /damaged, truncated or was modified|not a complete OpenPGP message/,
      },
      {
        name: 'a message cut inside the first packet',
        bytes: () => signedIndex.subarray(0, 5),
        keys: () => aliceDecrypt,
        kind: 'corrupt',
        message: /cannot decrypt THE-LABEL/,
      },
      {
        name: 'bytes that are not OpenPGP',
        bytes: () => Buffer.from('{"not":"pgp"}'),
        keys: () => aliceDecrypt,
        kind: 'corrupt',
        message: /^cannot decrypt THE-LABEL: it is not a complete OpenPGP message \(empty, truncated, damaged or not OpenPGP at all\)/,
      },
      {
        name: 'an empty object',
        bytes: () => new Uint8Array(0),
        keys: () => aliceDecrypt,
        kind: 'corrupt',
        message: /it is not a complete OpenPGP message/,
      },
    ];

    for (const [entry, run] of Object.entries(entryPoints)) {
      for (const c of cases) {
        it(`${entry}: ${c.name} -> CryptoError ${c.kind}, no plaintext in the message`, async () => {
          const error = await rejection(run(c.bytes(), c.keys(), 'THE-LABEL'));

          assert.ok(error instanceof CryptoError, `${error.name}: ${error.message}`);
          assert.equal(error.kind, c.kind);
          assert.equal(error.label, 'THE-LABEL');
          assert.match(error.message, c.message);
          assert.equal(error.exitCode, 1);
          assert.ok(!error.message.includes(CANARY));
          assert.ok(!error.message.includes(Buffer.from(CANARY).toString('base64')));
          assert.ok(!error.message.includes(alice.passphrase) && !error.message.includes(mallory.passphrase));
        });
      }
    }

    it('a message encrypted with a password only -> CryptoError unsupported', async () => {
      const ciphertext = await encrypt({
        message: await createMessage({ binary: Buffer.from(CANARY) }),
        passwords: 'test-only-password',
        format: 'binary',
      });

      const error = await rejection(decryptAndVerify(ciphertext, { decryptionKeys: aliceDecrypt, trustedSigners: [], label: 'index' }));

      assert.ok(error instanceof CryptoError);
      assert.equal(error.kind, 'unsupported');
      assert.match(error.message, /encrypted with a password, not to a key/);
    });

    it('a compressed message inflating past maxPlaintextBytes -> CryptoError unsupported; within it, it decrypts', async () => {
      const plaintext = Buffer.alloc(4 * 1024 * 1024, 0x41);
      const config = { preferredCompressionAlgorithm: enums.compression.zlib, aeadProtect: false };
      const ciphertext = (await encrypt({
        message: await createMessage({ binary: plaintext }),
        encryptionKeys: aliceRecipient.key,
        format: 'binary',
        config,
      })) as Uint8Array;
      assert.ok(ciphertext.length < 64 * 1024, 'a small message claiming 4 MiB');

      for (const [entry, run] of Object.entries({
        decryptAndVerify: (max?: number) =>
          decryptAndVerify(ciphertext, { decryptionKeys: aliceDecrypt, trustedSigners: [], label: 'index', maxPlaintextBytes: max }).then(
            (r) => Buffer.from(r.plaintext),
          ),
        decryptStream: async (max?: number) =>
          collect(
            await decryptStream(Readable.from([Buffer.from(ciphertext)]), {
              decryptionKeys: aliceDecrypt,
              label: 'index',
              maxPlaintextBytes: max,
            }),
          ),
      })) {
        const error = await rejection(run(1024 * 1024));

        assert.ok(error instanceof CryptoError, `${entry}: ${error.message}`);
        assert.equal(error.kind, 'unsupported');
        assert.match(error.message, /^cannot decrypt index: its OpenPGP compressed data inflates past 1048576 bytes/);
        assert.ok((await run(8 * 1024 * 1024)).equals(plaintext), entry);
      }
    });

    it('decryptStream releases no byte of a tampered message (integrity is checked first)', async () => {
      const tampered = Buffer.from(flip(segment, 1));
      let released = 0;

      const error = await rejection(
        (async () => {
          const out = await decryptStream(Readable.from([tampered]), { decryptionKeys: aliceDecrypt, label: 'segment 2' });
          for await (const chunk of out) released += (chunk as Buffer).length;
        })(),
      );

      assert.ok(error instanceof CryptoError);
      assert.equal(released, 0);
    });

    it('decryptStream releases the ciphertext stream when it refuses the message', async () => {
      const input = Readable.from([segment.subarray(0, 200), segment.subarray(200)]);

      await rejection(decryptStream(input, { decryptionKeys: malloryDecrypt, label: 'segment 4' }));

      assert.ok(input.destroyed);
    });

    it('decryptStream passes an error of the ciphertext stream through unchanged', async () => {
      const failure = new Error('object store read failed');
      const input = new Readable({
        read() {
          this.push(segment.subarray(0, 20));
          this.destroy(failure);
        },
      });

      const error = await rejection(decryptStream(input, { decryptionKeys: aliceDecrypt, label: 'segment 3' }).then(collect));

      assert.equal(error, failure);
    });
  });
});
