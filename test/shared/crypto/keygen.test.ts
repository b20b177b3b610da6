import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decryptKey, readKey, readPrivateKey } from 'openpgp';
import { fileBaseName, generateKeyPair, keyFilePaths, randomPassphrase, writeKeyFiles } from '../../../shared/crypto/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { REDACTED, redactor } from '../../../shared/log/index.js';
import { rejection, TempDir } from './support.js';

describe('shared/crypto/keygen', () => {
  let dir: TempDir;
  before(() => {
    dir = new TempDir();
  });
  after(() => dir.cleanup());

  describe('generateKeyPair', () => {
    const cases = [
      { type: 'ecc' as const, algorithm: 'ed25519/cv25519', bits: undefined },
      { type: 'rsa' as const, algorithm: 'rsa3072/rsa3072', bits: 3072 as const },
    ];
    for (const c of cases) {
      it(`${c.type}: a v4 ${c.algorithm} key, passphrase-protected, with the user id and expiry asked for`, async () => {
        const now = new Date();

        const pair = await generateKeyPair({
          name: 'test-only keygen',
          email: 'keygen@example.invalid',
          passphrase: 'test-only-keygen-passphrase',
          type: c.type,
          ...(c.bits ? { rsaBits: c.bits } : {}),
          expiresInSeconds: 30 * 86_400,
          now,
        });

        const publicKey = await readKey({ armoredKey: pair.publicKey });
        const privateKey = await readPrivateKey({ armoredKey: pair.privateKey });
        assert.equal(publicKey.keyPacket.version, 4);
        assert.equal(pair.algorithm, c.algorithm);
        assert.equal(pair.userId, 'test-only keygen <keygen@example.invalid>');
        assert.equal(pair.fingerprint, publicKey.getFingerprint().toUpperCase());
        assert.ok(pair.expiresAt && Math.abs(pair.expiresAt.getTime() - now.getTime() - 30 * 86_400_000) < 2000);
        assert.equal(privateKey.isDecrypted(), false);
        assert.ok((await decryptKey({ privateKey, passphrase: 'test-only-keygen-passphrase' })).isDecrypted());
        assert.match(pair.revocationCertificate, /BEGIN PGP PUBLIC KEY BLOCK/);
        assert.equal(redactor.sanitize(pair.privateKey.split('\n')[3]), REDACTED);
      });
    }

    it('never expires when no lifetime is given', async () => {
      const pair = await generateKeyPair({ name: 'n', email: 'n@example.invalid', passphrase: 'test-only-passphrase', type: 'ecc' });

      assert.equal(pair.expiresAt, undefined);
    });
  });

  it('randomPassphrase is 256 random bits, base64url, registered with the redactor', () => {
    const a = randomPassphrase();
    const b = randomPassphrase();

    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
    assert.equal(redactor.sanitize(`p=${a}`), `p=${REDACTED}`);
  });

  describe('file names', () => {
    const names: [string, string][] = [
      ['backups-prod', 'backups-prod'],
      ['secret-steward backups (prod)', 'secret-steward-backups-prod'],
      ['../../etc/passwd', 'etc-passwd'],
      ['Jürgen 2026', 'Jürgen-2026'],
      ['!!!', ''],
    ];
    for (const [name, base] of names) {
      it(`"${name}" -> "${base}"`, () => {
        assert.equal(fileBaseName(name), base);
      });
    }

    it('keyFilePaths puts every file in the directory', () => {
      const paths = keyFilePaths('/keys', 'backups prod');

      assert.deepEqual(paths, {
        publicKey: '/keys/backups-prod.public.asc',
        privateKey: '/keys/backups-prod.private.asc',
        passphrase: '/keys/backups-prod.passphrase',
        revocationCertificate: '/keys/backups-prod.revocation.asc',
      });
    });
  });

  describe('writeKeyFiles', () => {
    it('creates the directory and writes each file with its mode', async () => {
      const out = join(dir.path, 'new', 'keys');

      await writeKeyFiles(
        [
          { path: join(out, 'a.public.asc'), content: 'public', mode: 0o644 },
          { path: join(out, 'a.private.asc'), content: 'private', mode: 0o600 },
        ],
        { force: false, setting: '--out-dir' },
      );

      assert.equal(statSync(out).mode & 0o777, 0o700);
      assert.equal(statSync(join(out, 'a.public.asc')).mode & 0o777, 0o644);
      assert.equal(statSync(join(out, 'a.private.asc')).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(out, 'a.private.asc'), 'utf8'), 'private');
    });

    it('refuses to overwrite without force, naming the existing files, and writes nothing', async () => {
      const existing = dir.file('b.private.asc', 'old private');

      const error = await rejection(
        writeKeyFiles(
          [
            { path: join(dir.path, 'b.public.asc'), content: 'new public', mode: 0o644 },
            { path: existing, content: 'new private', mode: 0o600 },
          ],
          { force: false, setting: '--out-dir' },
        ),
      );

      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 1);
      assert.match(error.message, /b\.private\.asc already exists; refusing to overwrite/);
      assert.equal(readFileSync(existing, 'utf8'), 'old private');
      assert.throws(() => statSync(join(dir.path, 'b.public.asc')));
    });

    it('with force replaces the file atomically and tightens its mode', async () => {
      const existing = dir.file('c.private.asc', 'old');
      writeFileSync(existing, 'old', { mode: 0o644 });

      await writeKeyFiles([{ path: existing, content: 'new', mode: 0o600 }], { force: true, setting: '--out-dir' });

      assert.equal(readFileSync(existing, 'utf8'), 'new');
      assert.equal(statSync(existing).mode & 0o777, 0o600);
    });
  });
});
