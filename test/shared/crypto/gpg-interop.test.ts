/**
 * Interop with the real GnuPG 2.2 on this machine: the break-glass restore is plain gpg, so
 * what secret-steward writes must decrypt and verify there, and keys made by gpg must work
 * here. Skipped when gpg is not installed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  decryptAndVerify,
  decryptStream,
  encryptBytes,
  encryptStream,
  type GeneratedKeyPair,
  generateKeyPair,
  loadDecryptionKeys,
  loadRecipientKeys,
  loadSigningKey,
  loadTrustedSignerKeys,
  signCleartext,
  signDetached,
  verifyCleartext,
  verifyDetached,
} from '../../../shared/crypto/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { requireDependency } from '../../support/dependencies.js';
import { collect, GpgHome, hasGpg, rejection, TempDir } from './support.js';

const PASSPHRASE = 'test-only-gpg-interop-passphrase';

describe('shared/crypto interop with GnuPG 2.2', function () {
  this.timeout(120_000);
  let gpg: GpgHome;
  let dir: TempDir;
  let passphraseFile: string;

  before(function () {
    requireDependency(this, 'gpg', hasGpg(), 'apt-get install gnupg');
    gpg = new GpgHome();
    dir = new TempDir();
    passphraseFile = dir.file('passphrase', `${PASSPHRASE}\n`);
  });
  after(() => {
    gpg?.close();
    dir?.cleanup();
  });

  /** gpg --decrypt of `ciphertext`; returns the plaintext and gpg's status lines. */
  function gpgDecrypt(ciphertext: Uint8Array, name: string): { plaintext: Buffer; status: string } {
    const input = dir.file(`${name}.pgp`, ciphertext);
    const output = join(dir.path, `${name}.out`);
    const result = gpg.ok(['--status-fd', '2', '--trust-model', 'always', '--output', output, '--decrypt', input], { passphraseFile });
    return { plaintext: readFileSync(output), status: result.stderr };
  }

  describe('(a) keys made by gpg --quick-gen-key', () => {
    const kinds = [
      {
        name: 'ed25519/cv25519 (future-default)',
        uid: 'test-only gpg-ecc <gpg-ecc@example.invalid>',
        algo: 'future-default',
        encryptionSubkey: false,
      },
      {
        name: 'rsa3072 with an rsa3072 encryption subkey',
        uid: 'test-only gpg-rsa <gpg-rsa@example.invalid>',
        algo: 'rsa3072',
        encryptionSubkey: true,
      },
    ];
    for (const kind of kinds) {
      describe(kind.name, () => {
        let fingerprint: string;
        let publicFile: string;
        let privateFile: string;

        before(() => {
          gpg.ok(['--quick-gen-key', kind.uid, kind.algo, 'default', 'never'], { passphraseFile });
          fingerprint = gpg.fingerprint(kind.uid);
          if (kind.encryptionSubkey) gpg.ok(['--quick-add-key', fingerprint, 'rsa3072', 'encr', 'never'], { passphraseFile });
          publicFile = dir.file(`${fingerprint}.public.asc`, gpg.ok(['--armor', '--export', fingerprint]).stdout);
          privateFile = dir.file(
            `${fingerprint}.private.asc`,
            gpg.ok(['--armor', '--export-secret-keys', fingerprint], { passphraseFile }).stdout,
          );
        });

        it('loads as a recipient key, and gpg decrypts what we encrypt, byte-identical', async () => {
          const { keys } = await loadRecipientKeys([publicFile], { now: new Date(), warnWithinMs: 0 });
          const plaintext = randomBytes(1024 * 1024 + 7);

          const ciphertext = await collect(
            encryptStream(Readable.from([plaintext.subarray(0, 5000), plaintext.subarray(5000)]), { recipients: keys }),
          );
          const decrypted = gpgDecrypt(ciphertext, `a-${fingerprint}`);

          assert.equal(keys[0].fingerprint, fingerprint);
          assert.ok(decrypted.plaintext.equals(plaintext));
          assert.match(decrypted.status, /\[GNUPG:\] DECRYPTION_OKAY/);
          assert.match(decrypted.status, /\[GNUPG:\] GOODMDC/);
        });

        it('gpg decrypts an empty message too', async () => {
          const { keys } = await loadRecipientKeys([publicFile], { now: new Date(), warnWithinMs: 0 });

          const ciphertext = await encryptBytes(new Uint8Array(0), { recipients: keys });

          assert.equal(gpgDecrypt(ciphertext, `empty-${fingerprint}`).plaintext.length, 0);
        });

        it('its exported secret key decrypts and signs here', async () => {
          const decryptionKeys = await loadDecryptionKeys([privateFile], passphraseFile);
          const { key: signingKey } = await loadSigningKey(privateFile, passphraseFile, { now: new Date() });
          const trusted = await loadTrustedSignerKeys([publicFile]);
          const { keys } = await loadRecipientKeys([publicFile], { now: new Date(), warnWithinMs: 0 });

          const ciphertext = await encryptBytes(Buffer.from('{"index":true}'), { recipients: keys, signingKey });
          const { plaintext, signature } = await decryptAndVerify(ciphertext, { decryptionKeys, trustedSigners: trusted });

          assert.equal(Buffer.from(plaintext).toString(), '{"index":true}');
          assert.equal(signature.status, 'valid');
        });
      });
    }

    it('an rsa3072 key without an encryption subkey is rejected as a recipient', async () => {
      const uid = 'test-only gpg-signonly <gpg-signonly@example.invalid>';
      gpg.ok(['--quick-gen-key', uid, 'rsa3072', 'default', 'never'], { passphraseFile });
      const fingerprint = gpg.fingerprint(uid);
      const publicFile = dir.file('signonly.asc', gpg.ok(['--armor', '--export', fingerprint]).stdout);

      const error = await rejection(loadRecipientKeys([publicFile], { now: new Date(), warnWithinMs: 0 }));

      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /has no valid encryption \(sub\)key/);
    });
  });

  describe('(b) keys made by secret-steward keygen, used by gpg', () => {
    for (const type of ['ecc', 'rsa'] as const) {
      describe(type, () => {
        let pair: GeneratedKeyPair;
        let publicFile: string;
        let privateFile: string;

        before(async () => {
          pair = await generateKeyPair({
            name: `test-only keygen-${type}`,
            email: `keygen-${type}@example.invalid`,
            passphrase: PASSPHRASE,
            type,
            expiresInSeconds: 2 * 365 * 86_400,
          });
          publicFile = dir.file(`keygen-${type}.public.asc`, pair.publicKey);
          privateFile = dir.file(`keygen-${type}.private.asc`, pair.privateKey);
        });

        it('gpg --import takes the private key with its passphrase and lists the expected algorithms', () => {
          gpg.ok(['--import', privateFile], { passphraseFile });

          const listing = gpg.ok(['--with-colons', '--list-secret-keys', pair.fingerprint]).stdout.toString();

          assert.match(listing, new RegExp(`fpr:+${pair.fingerprint}:`));
          if (type === 'ecc') assert.match(listing, /:ed25519:[\s\S]*:cv25519:/);
          else {
            assert.match(listing, /^sec:[^:]*:3072:1:/m);
            assert.match(listing, /^ssb:[^:]*:3072:1:[^\n]*:e:/m);
          }
        });

        it('gpg decrypts a message we encrypted to it, byte-identical', async () => {
          const { keys } = await loadRecipientKeys([publicFile], { now: new Date(), warnWithinMs: 0 });
          const plaintext = randomBytes(300_000);

          const ciphertext = await collect(encryptStream(Readable.from([plaintext]), { recipients: keys }));

          assert.ok(gpgDecrypt(ciphertext, `b-${type}`).plaintext.equals(plaintext));
        });

        it('gpg verifies our detached signature', async () => {
          const { key } = await loadSigningKey(privateFile, passphraseFile, { now: new Date() });
          const report = Buffer.from('{"drill":"passed"}\n');
          const data = dir.file(`report-${type}.json`, report);
          const signature = dir.file(`report-${type}.json.asc`, await signDetached(report, key));

          const result = gpg.ok(['--status-fd', '1', '--verify', signature, data]);

          assert.match(result.stdout.toString(), new RegExp(`\\[GNUPG:\\] VALIDSIG ${pair.fingerprint} `));
        });

        it('gpg verifies our cleartext-signed seal and prints the same text', async () => {
          const { key } = await loadSigningKey(privateFile, passphraseFile, { now: new Date() });
          const text = '{"format":"secret-steward.io/backup-seal/v1","backupId":"20261207T030000Z-abcdef"}';
          const seal = dir.file(`seal-${type}.json.asc`, await signCleartext(text, key));

          const result = gpg.ok(['--status-fd', '2', '--decrypt', seal]);

          assert.equal(result.stdout.toString().trimEnd(), text);
          assert.match(result.stderr, new RegExp(`\\[GNUPG:\\] VALIDSIG ${pair.fingerprint} `));
        });

        it('gpg decrypts our signed index, streamed in pieces as the backup writes it, and reports a good signature by our key', async () => {
          const { keys } = await loadRecipientKeys([publicFile], { now: new Date(), warnWithinMs: 0 });
          const { key } = await loadSigningKey(privateFile, passphraseFile, { now: new Date() });
          const pieces = ['{"segments":[]', ',"secrets":[', '{"name":"a"}'.repeat(20_000), ']}'];

          const ciphertext = await collect(
            encryptStream(Readable.from(pieces, { objectMode: false }), { recipients: keys, signingKey: key }),
          );
          const { plaintext, status } = gpgDecrypt(ciphertext, `index-${type}`);

          assert.equal(plaintext.toString(), pieces.join(''));
          assert.match(status, /\[GNUPG:\] GOODSIG /);
          assert.match(status, new RegExp(`\\[GNUPG:\\] VALIDSIG [0-9A-F]{40} .* ${pair.fingerprint}\\b`));
        });
      });
    }
  });

  describe('(c) gpg encrypts and signs, secret-steward decrypts and verifies', () => {
    let signerFingerprint: string;
    let signerPublicFile: string;
    let recipient: GeneratedKeyPair;
    let recipientPrivateFile: string;

    before(async () => {
      const uid = 'test-only gpg-signer <gpg-signer@example.invalid>';
      gpg.ok(['--quick-gen-key', uid, 'future-default', 'default', 'never'], { passphraseFile });
      signerFingerprint = gpg.fingerprint(uid);
      signerPublicFile = dir.file('gpg-signer.public.asc', gpg.ok(['--armor', '--export', signerFingerprint]).stdout);
      recipient = await generateKeyPair({
        name: 'test-only restore',
        email: 'restore@example.invalid',
        passphrase: PASSPHRASE,
        type: 'ecc',
      });
      recipientPrivateFile = dir.file('restore.private.asc', recipient.privateKey);
      gpg.ok(['--import', dir.file('restore.public.asc', recipient.publicKey)]);
    });

    it('decryptAndVerify reads a gpg-signed, gpg-encrypted (zlib-compressed) message as valid', async () => {
      const plaintext = randomBytes(200_000);
      const input = dir.file('c-plain.bin', plaintext);
      const output = join(dir.path, 'c-plain.bin.gpg');
      gpg.ok(
        [
          '--trust-model',
          'always',
          '--local-user',
          signerFingerprint,
          '--recipient',
          recipient.fingerprint,
          '--output',
          output,
          '--sign',
          '--encrypt',
          input,
        ],
        {
          passphraseFile,
        },
      );
      const decryptionKeys = await loadDecryptionKeys([recipientPrivateFile], passphraseFile);
      const trusted = await loadTrustedSignerKeys([signerPublicFile]);

      const result = await decryptAndVerify(readFileSync(output), { decryptionKeys, trustedSigners: trusted, label: 'gpg message' });
      const streamed = await collect(await decryptStream(Readable.from([readFileSync(output)]), { decryptionKeys, label: 'gpg message' }));

      assert.ok(Buffer.from(result.plaintext).equals(plaintext));
      assert.equal(result.signature.status, 'valid');
      assert.equal(result.signature.signerFingerprint, signerFingerprint);
      assert.ok(streamed.equals(plaintext));
    });

    it('verifyCleartext accepts what gpg --clearsign writes', async () => {
      const text = '{"format":"secret-steward.io/backup-seal/v1"}';
      const data = dir.file('c-seal.json', `${text}\n`);
      gpg.ok(['--local-user', signerFingerprint, '--output', `${data}.asc`, '--clearsign', data], { passphraseFile });
      const trusted = await loadTrustedSignerKeys([signerPublicFile]);

      const result = await verifyCleartext(readFileSync(`${data}.asc`, 'utf8'), trusted);

      assert.equal(result.check.status, 'valid');
      assert.equal(result.text?.trimEnd(), text);
    });

    it('verifyDetached accepts a gpg detached signature (armored and binary)', async () => {
      const data = dir.file('c-report.json', '{"drill":"passed"}\n');
      gpg.ok(['--local-user', signerFingerprint, '--armor', '--output', `${data}.asc`, '--detach-sign', data], { passphraseFile });
      gpg.ok(['--local-user', signerFingerprint, '--output', `${data}.sig`, '--detach-sign', data], { passphraseFile });
      const trusted = await loadTrustedSignerKeys([signerPublicFile]);

      const armored = await verifyDetached(readFileSync(data), readFileSync(`${data}.asc`, 'utf8'), trusted);
      const binary = await verifyDetached(readFileSync(data), readFileSync(`${data}.sig`), trusted);

      assert.equal(armored.status, 'valid');
      assert.equal(binary.status, 'valid');
    });
  });
});
