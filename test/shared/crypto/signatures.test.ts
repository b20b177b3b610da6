import assert from 'node:assert/strict';
import {
  CryptoError,
  loadSigningKey,
  loadTrustedSignerKeys,
  type SigningKey,
  signCleartext,
  signDetached,
  type TrustedSignerKey,
  verifyCleartext,
  verifyDetached,
} from '../../../shared/crypto/index.js';
import { makeTestKey, rejection, TempDir } from './support.js';

describe('shared/crypto/signatures', () => {
  let dir: TempDir;
  let signer: SigningKey;
  let other: SigningKey;
  let trusted: TrustedSignerKey[];
  const report = Buffer.from('{"drill":"passed","backup":"20261127T110000Z"}\n');

  before(async () => {
    dir = new TempDir();
    const a = await makeTestKey(dir, 'signer');
    const b = await makeTestKey(dir, 'other');
    signer = (await loadSigningKey(a.privateFile, a.passphraseFile, { now: new Date() })).key;
    other = (await loadSigningKey(b.privateFile, b.passphraseFile, { now: new Date() })).key;
    trusted = await loadTrustedSignerKeys([a.publicFile]);
  });
  after(() => dir.cleanup());

  it('signDetached writes an armored signature that verifyDetached accepts from a trusted key', async () => {
    const signature = await signDetached(report, signer);

    const check = await verifyDetached(report, signature, trusted);

    assert.match(signature, /^-----BEGIN PGP SIGNATURE-----/);
    assert.equal(check.status, 'valid');
    assert.equal(check.signerFingerprint, trusted[0].fingerprint);
  });

  const cases: {
    name: string;
    data: () => Uint8Array;
    signature: () => Promise<string | Uint8Array | undefined>;
    keys: () => TrustedSignerKey[];
    status: string;
  }[] = [
    {
      name: 'a changed document',
      data: () => Buffer.from(report.toString().replace('passed', 'failed')),
      signature: () => signDetached(report, signer),
      keys: () => trusted,
      status: 'invalid',
    },
    {
      name: 'a signature by an untrusted key',
      data: () => report,
      signature: () => signDetached(report, other),
      keys: () => trusted,
      status: 'untrusted',
    },
    {
      name: 'no trusted keys at all',
      data: () => report,
      signature: () => signDetached(report, signer),
      keys: () => [],
      status: 'untrusted',
    },
    { name: 'no signature', data: () => report, signature: async () => undefined, keys: () => trusted, status: 'unsigned' },
    { name: 'an empty signature', data: () => report, signature: async () => '', keys: () => trusted, status: 'unsigned' },
    {
      name: 'text that is not a signature',
      data: () => report,
      signature: async () => 'not a signature',
      keys: () => trusted,
      status: 'invalid',
    },
    {
      name: 'a binary signature',
      data: () => report,
      signature: async () => {
        const { readSignature } = await import('openpgp');
        return (await readSignature({ armoredSignature: await signDetached(report, signer) })).write() as Uint8Array;
      },
      keys: () => trusted,
      status: 'valid',
    },
  ];
  for (const c of cases) {
    it(`verifyDetached: ${c.name} -> ${c.status}`, async () => {
      const signature = await c.signature();

      const check = await verifyDetached(c.data(), signature, c.keys());

      assert.equal(check.status, c.status, JSON.stringify(check));
    });
  }

  it('untrusted names the signer by key id and fingerprint', async () => {
    const check = await verifyDetached(report, await signDetached(report, other), trusted);

    assert.equal(check.signerFingerprint, other.fingerprint);
    assert.ok(other.fingerprint.endsWith(check.signerKeyId!));
  });

  describe('cleartext-signed documents', () => {
    const seal = '{"format":"secret-steward.io/backup-seal/v1","backupId":"20261207T030000Z-abcdef","secrets":3}';

    it('signCleartext keeps the text readable; verifyCleartext returns it with a valid check', async () => {
      const armored = await signCleartext(seal, signer);

      const { text, check } = await verifyCleartext(armored, trusted);

      assert.match(armored, /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA(256|512)\n\n/);
      assert.ok(armored.includes(seal));
      assert.equal(text, seal);
      assert.equal(check.status, 'valid');
      assert.equal(check.signerFingerprint, trusted[0].fingerprint);
    });

    const tampered: { name: string; armored: () => Promise<string>; status: string }[] = [
      {
        name: 'a changed text',
        armored: async () => (await signCleartext(seal, signer)).replace('"secrets":3', '"secrets":9'),
        status: 'invalid',
      },
      { name: 'a signature by an untrusted key', armored: () => signCleartext(seal, other), status: 'untrusted' },
      { name: 'a document that is not a signed message', armored: async () => seal, status: 'invalid' },
      { name: 'garbage', armored: async () => '-----BEGIN PGP SIGNED MESSAGE-----\n\x00\x01', status: 'invalid' },
    ];
    for (const c of tampered) {
      it(`verifyCleartext: ${c.name} -> ${c.status}`, async () => {
        const { check } = await verifyCleartext(await c.armored(), trusted);

        assert.equal(check.status, c.status, JSON.stringify(check));
      });
    }

    it('refuses text that cleartext signing would alter (trailing white space, CR)', async () => {
      await assert.rejects(signCleartext('{"a":1} ', signer), RangeError);
      await assert.rejects(signCleartext('{"a":1}\r\n', signer), RangeError);
    });
  });

  it('signing with a key that expired since it loaded fails with CryptoError key-unusable', async () => {
    const k = await makeTestKey(dir, 'shortsigner', { keyExpirationTime: 86_400 });
    const { key } = await loadSigningKey(k.privateFile, k.passphraseFile, { now: new Date() });

    const error = await rejection(signDetached(report, key, { label: 'drill report R1', now: new Date(Date.now() + 2 * 86_400_000) }));

    assert.ok(error instanceof CryptoError);
    assert.equal(error.kind, 'key-unusable');
    assert.match(error.message, /^cannot sign drill report R1 with key [0-9A-F]{40} /);
  });
});
