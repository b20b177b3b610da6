import assert from 'node:assert/strict';
import { readMessage } from 'openpgp';
import {
  CryptoError,
  type DecryptionKey,
  decryptAndVerify,
  encryptBytes,
  loadDecryptionKeys,
  loadRecipientKeys,
  loadSigningKey,
  loadTrustedSignerKeys,
  type RecipientKey,
  reencryptBytes,
  type SigningKey,
  type TrustedSignerKey,
} from '../../../shared/crypto/index.js';
import { makeTestKey, rejection, TempDir } from './support.js';

describe('shared/crypto/reencrypt', () => {
  let dir: TempDir;
  let oldRecipient: RecipientKey;
  let oldKeys: DecryptionKey[];
  let newRecipient: RecipientKey;
  let newKeys: DecryptionKey[];
  let signer: SigningKey;
  let trusted: TrustedSignerKey[];

  before(async () => {
    dir = new TempDir();
    const [o, n, s] = await Promise.all([makeTestKey(dir, 'old'), makeTestKey(dir, 'new'), makeTestKey(dir, 'signer')]);
    oldRecipient = (await loadRecipientKeys([o.publicFile], { now: new Date(), warnWithinMs: 0 })).keys[0];
    oldKeys = await loadDecryptionKeys([o.privateFile], o.passphraseFile);
    newRecipient = (await loadRecipientKeys([n.publicFile], { now: new Date(), warnWithinMs: 0 })).keys[0];
    newKeys = await loadDecryptionKeys([n.privateFile], n.passphraseFile);
    signer = (await loadSigningKey(s.privateFile, s.passphraseFile, { now: new Date() })).key;
    trusted = await loadTrustedSignerKeys([s.publicFile]);
  });
  after(() => dir.cleanup());

  it("keeps a signed message's original signature: the new key decrypts it and the signer's signature still verifies", async () => {
    const signed = await encryptBytes(Buffer.from('{"index":1}'), { recipients: [oldRecipient], signingKey: signer });

    const again = await reencryptBytes(signed, { decryptionKeys: oldKeys, recipients: [newRecipient], label: 'index', now: new Date() });

    const r = await decryptAndVerify(again, { decryptionKeys: newKeys, trustedSigners: trusted });
    assert.equal(Buffer.from(r.plaintext).toString(), '{"index":1}');
    assert.equal(r.signature.status, 'valid');
    assert.equal(r.signature.signerFingerprint, signer.fingerprint);
    const e = await rejection(decryptAndVerify(again, { decryptionKeys: oldKeys, trustedSigners: trusted }));
    assert.ok(e instanceof CryptoError && e.kind === 'wrong-key', String(e));
  });

  it('writes a fresh session key, PKESK + SEIPDv1, to exactly the new recipients, plaintext unchanged', async () => {
    const plain = Buffer.from('segment bytes, gzip or not, are passed through');
    const before = await encryptBytes(plain, { recipients: [oldRecipient] });

    const again = await reencryptBytes(before, {
      decryptionKeys: oldKeys,
      recipients: [newRecipient],
      label: 'segment 1',
      now: new Date(),
    });

    const message = await readMessage({ binaryMessage: again });
    assert.deepEqual(
      message.getEncryptionKeyIDs().map((k) => k.toHex()),
      newRecipient.key.getKeys().flatMap((k) => (k.getAlgorithmInfo().algorithm === 'ecdh' ? [k.getKeyID().toHex()] : [])),
    );
    assert.equal(message.packets.filterByTag(18).length, 1);
    const r = await decryptAndVerify(again, { decryptionKeys: newKeys, trustedSigners: [] });
    assert.deepEqual(Buffer.from(r.plaintext), plain);
    assert.equal(r.signature.status, 'unsigned');
  });

  it('refuses (wrong-key) a message the keys given do not decrypt, naming what was re-encrypted', async () => {
    const other = await encryptBytes(Buffer.from('x'), { recipients: [newRecipient] });

    const e = await rejection(
      reencryptBytes(other, { decryptionKeys: oldKeys, recipients: [newRecipient], label: 'segment 2 of backup B', now: new Date() }),
    );

    assert.ok(e instanceof CryptoError, String(e));
    assert.match(e.message, /^cannot re-encrypt segment 2 of backup B: it does not decrypt with the decryption keys given/);
  });
});
