import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readKey } from 'openpgp';
import {
  describeKey,
  keyExpiry,
  loadDecryptionKeys,
  loadRecipientKeys,
  loadSigningKey,
  loadTrustedSignerKeys,
  parseSignerKeySpec,
} from '../../../shared/crypto/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { REDACTED, redactor } from '../../../shared/log/index.js';
import { makeTestKey, rejection, TempDir, type TestKey } from './support.js';

const DAY = 86_400_000;

describe('shared/crypto/keys', () => {
  let dir: TempDir;
  let alice: TestKey;
  let bob: TestKey;

  before(async () => {
    dir = new TempDir();
    alice = await makeTestKey(dir, 'alice');
    bob = await makeTestKey(dir, 'bob');
  });
  after(() => dir.cleanup());

  /** The ConfigError a load rejects with, and its text. */
  async function configError(promise: Promise<unknown>): Promise<{ error: ConfigError; text: string }> {
    const error = await rejection(promise);
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error.name}: ${error.message}`);
    return { error, text: error.message };
  }

  describe('loadRecipientKeys', () => {
    it('loads armored public keys from several files, with fingerprint, user ids and no expiry', async () => {
      const { keys, warnings } = await loadRecipientKeys([alice.publicFile, bob.publicFile], { now: new Date(), warnWithinMs: 30 * DAY });

      assert.equal(keys.length, 2);
      const expected = (await readKey({ armoredKey: alice.publicKey })).getFingerprint().toUpperCase();
      assert.equal(keys[0].fingerprint, expected);
      assert.match(keys[0].fingerprint, /^[0-9A-F]{40}$/);
      assert.deepEqual(keys[0].userIds, ['test-only alice <alice@example.invalid>']);
      assert.equal(keys[0].expiresAt, undefined);
      assert.equal(keys[0].file, alice.publicFile);
      assert.deepEqual(warnings, []);
    });

    it('reads several armor blocks in one file, and binary keys; the same key twice counts once', async () => {
      const both = dir.file('both.asc', `${alice.publicKey}\n${bob.publicKey}\n${alice.publicKey}`);
      const binary = dir.file('bob.gpg', (await readKey({ armoredKey: bob.publicKey })).write());

      const fromArmor = await loadRecipientKeys([both], { now: new Date(), warnWithinMs: 0 });
      const fromBinary = await loadRecipientKeys([binary], { now: new Date(), warnWithinMs: 0 });

      assert.deepEqual(
        fromArmor.keys.map((k) => k.userIds[0]),
        ['test-only alice <alice@example.invalid>', 'test-only bob <bob@example.invalid>'],
      );
      assert.equal(fromBinary.keys[0].userIds[0], 'test-only bob <bob@example.invalid>');
    });

    it('warns about a key expiring within the window, not about one expiring later', async () => {
      const soon = await makeTestKey(dir, 'soon', { keyExpirationTime: 10 * 86_400 });

      const inWindow = await loadRecipientKeys([soon.publicFile], { now: new Date(), warnWithinMs: 30 * DAY });
      const outsideWindow = await loadRecipientKeys([soon.publicFile], { now: new Date(), warnWithinMs: 5 * DAY });

      assert.equal(inWindow.warnings.length, 1);
      const warning = inWindow.warnings[0];
      assert.equal(warning.kind, 'expiring');
      assert.equal(warning.fingerprint, inWindow.keys[0].fingerprint);
      assert.deepEqual(warning.userIds, ['test-only soon <soon@example.invalid>']);
      assert.ok(Math.abs(warning.expiresAt.getTime() - (Date.now() + 10 * DAY)) < 60_000);
      assert.match(warning.message, /expires on .* \(in (9|10) days\)/);
      assert.ok(inWindow.keys[0].expiresAt);
      assert.deepEqual(outsideWindow.warnings, []);
    });

    it('warns when only the encryption subkey expires soon', async () => {
      const subSoon = await makeTestKey(dir, 'subsoon', { subkeys: [{ keyExpirationTime: 3 * 86_400 }] });

      const { keys, warnings } = await loadRecipientKeys([subSoon.publicFile], { now: new Date(), warnWithinMs: 7 * DAY });

      assert.equal(warnings.length, 1);
      assert.ok(keys[0].expiresAt && keys[0].expiresAt.getTime() < Date.now() + 4 * DAY);
    });

    const rejected: { name: string; make: () => Promise<string>; expect: RegExp }[] = [
      {
        name: 'an expired key',
        make: async () =>
          (await makeTestKey(dir, 'expired', { date: new Date(Date.now() - 10 * DAY), keyExpirationTime: 86_400 })).publicFile,
        expect: /key [0-9A-F]{40} \(test-only expired <expired@example\.invalid>\) expired on \d{4}-\d\d-\d\dT/,
      },
      {
        name: 'a key whose only encryption subkey expired',
        make: async () =>
          (await makeTestKey(dir, 'subexpired', { date: new Date(Date.now() - 10 * DAY), subkeys: [{ keyExpirationTime: 86_400 }] }))
            .publicFile,
        expect: /has no valid encryption \(sub\)key at .*: subkey [0-9A-F]{16} expired on/,
      },
      {
        name: 'a revoked key',
        make: async () => (await makeTestKey(dir, 'revoked', { revoked: true })).publicFile,
        expect: /\(test-only revoked <revoked@example\.invalid>\) is revoked/,
      },
      {
        name: 'a key created in the future (clock skew)',
        make: async () => (await makeTestKey(dir, 'future', { date: new Date(Date.now() + DAY) })).publicFile,
        expect: /was created at .*, after now .*; is a clock wrong\?/,
      },
      {
        name: 'a private key',
        make: async () => alice.privateFile,
        expect: /holds a PRIVATE key .*the backup job must hold only public keys/,
      },
      {
        name: 'a signing-only key (no encryption subkey)',
        make: async () => (await makeTestKey(dir, 'signonly', { subkeys: [] })).publicFile,
        expect: /has no valid encryption \(sub\)key/,
      },
      {
        name: 'a v6 key (GnuPG 2.2 cannot use it)',
        make: async () => (await makeTestKey(dir, 'v6', { type: 'curve25519', config: { v6Keys: true } })).publicFile,
        expect: /is a version 6 key; GnuPG 2\.2 cannot/,
      },
      {
        name: 'a v4 key with RFC 9580 X25519 encryption (GnuPG 2.2 cannot use it)',
        make: async () => (await makeTestKey(dir, 'x25519', { type: 'curve25519' })).publicFile,
        expect: /uses the RFC 9580 x25519 algorithm for encryption, which GnuPG 2\.2 cannot use/,
      },
      {
        name: 'a missing file',
        make: async () => `${dir.path}/does-not-exist.asc`,
        expect: /cannot read .*does-not-exist\.asc: no such file/,
      },
      {
        name: 'a file that is not a key',
        make: async () => dir.file('notes.txt', 'just some text\n'),
        expect: /notes\.txt is not an OpenPGP key/,
      },
      {
        name: 'an empty file',
        make: async () => dir.file('empty.asc', ''),
        expect: /empty\.asc is empty/,
      },
      {
        name: 'an armored message instead of a key',
        make: async () => dir.file('message.asc', '-----BEGIN PGP MESSAGE-----\n\nwcBMA\n-----END PGP MESSAGE-----\n'),
        expect: /holds an OpenPGP message, not a key/,
      },
      {
        name: 'a damaged armor block',
        make: async () => dir.file('damaged.asc', alice.publicKey.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!')),
        expect: /damaged\.asc is not an OpenPGP key/,
      },
    ];
    for (const c of rejected) {
      it(`rejects ${c.name} with a ConfigError naming the setting and the file`, async () => {
        const file = await c.make();

        const { error, text } = await configError(
          loadRecipientKeys([file], { now: new Date(), warnWithinMs: 0, setting: '--recipient-key / SECRET_STEWARD_RECIPIENT_KEY' }),
        );

        assert.equal(error.exitCode, 2);
        assert.equal(error.problems[0].setting, '--recipient-key / SECRET_STEWARD_RECIPIENT_KEY');
        assert.match(text, c.expect);
        assert.ok(text.includes(file), 'names the file');
        assert.ok(!text.includes('BEGIN PGP'), 'no key material');
      });
    }

    it('never echoes file contents: a passphrase file given as a key file is not shown', async () => {
      const canary = 'test-only-CANARY-passphrase-5d1e';
      const mistaken = dir.file('mistaken.pass', `${canary}\n`);

      const { text } = await configError(loadRecipientKeys([mistaken], { now: new Date(), warnWithinMs: 0 }));
      const signing = await configError(loadSigningKey(mistaken, mistaken, { now: new Date() }));

      assert.match(text, /mistaken\.pass is not an OpenPGP key/);
      assert.ok(!text.includes(canary));
      assert.ok(!signing.text.includes(canary));
    });

    it('reports every bad file at once', async () => {
      const { error } = await configError(
        loadRecipientKeys([alice.privateFile, `${dir.path}/nope.asc`, bob.publicFile], { now: new Date(), warnWithinMs: 0 }),
      );

      assert.equal(error.problems.length, 2);
    });

    it('rejects an empty list', async () => {
      const { text } = await configError(loadRecipientKeys([], { now: new Date(), warnWithinMs: 0 }));

      assert.match(text, /at least one public key/);
    });
  });

  describe('loadSigningKey', () => {
    it('unlocks the key with the passphrase from the file (trailing newline ignored) and registers the passphrase', async () => {
      const crlf = dir.file('alice-crlf.pass', `${alice.passphrase}\r\n`);

      const { key, warnings } = await loadSigningKey(alice.privateFile, crlf, { now: new Date() });

      assert.ok(key.key.isDecrypted());
      assert.equal(key.userIds[0], 'test-only alice <alice@example.invalid>');
      assert.deepEqual(warnings, []);
      assert.equal(redactor.sanitize(`x ${alice.passphrase} y`), `x ${REDACTED} y`);
    });

    it('needs no passphrase for a key stored without one', async () => {
      const plain = await makeTestKey(dir, 'plain', { passphrase: '' });

      const { key } = await loadSigningKey(plain.privateFile, undefined, { now: new Date() });

      assert.ok(key.key.isDecrypted());
    });

    it('warns when the signing key expires within the window', async () => {
      const soon = await makeTestKey(dir, 'signsoon', { keyExpirationTime: 2 * 86_400 });

      const { warnings } = await loadSigningKey(soon.privateFile, soon.passphraseFile, { now: new Date(), warnWithinMs: 7 * DAY });

      assert.equal(warnings.length, 1);
      assert.match(warnings[0].message, /^signing key /);
    });

    it('says "wrong passphrase" without showing the passphrase', async () => {
      const wrong = dir.file('wrong.pass', 'test-only-wrong-passphrase-canary\n');

      const { error, text } = await configError(
        loadSigningKey(alice.privateFile, wrong, {
          now: new Date(),
          passphraseSetting: '--signing-key-passphrase-file / SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE',
        }),
      );

      const fingerprint = (await readKey({ armoredKey: alice.publicKey })).getFingerprint().toUpperCase();
      assert.ok(text.includes(`cannot unlock signing key ${fingerprint} from ${alice.privateFile}: wrong passphrase`), text);
      assert.equal(error.problems[0].setting, '--signing-key-passphrase-file / SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE');
      assert.ok(!text.includes('test-only-wrong-passphrase-canary'));
      assert.ok(!text.includes(alice.passphrase));
    });

    const rejected: { name: string; args: () => Promise<[string, string | undefined]>; expect: RegExp }[] = [
      {
        name: 'a missing passphrase for a protected key',
        args: async () => [alice.privateFile, undefined],
        expect: /is passphrase-protected; give the file holding its passphrase/,
      },
      {
        name: 'an empty passphrase file',
        args: async () => [alice.privateFile, dir.file('empty.pass', '\n')],
        expect: /passphrase file .*empty\.pass is empty/,
      },
      {
        name: 'an unreadable passphrase file',
        args: async () => [alice.privateFile, `${dir.path}/nope.pass`],
        expect: /cannot read passphrase file .*nope\.pass: no such file/,
      },
      {
        name: 'a public key',
        args: async () => [alice.publicFile, alice.passphraseFile],
        expect: /holds no private key .*signing needs the private key/,
      },
      {
        name: 'two keys in the file',
        args: async () => [dir.file('two.asc', `${alice.privateKey}\n${bob.privateKey}`), alice.passphraseFile],
        expect: /holds 2 keys; the signing key file must hold exactly one private key/,
      },
      {
        name: 'an expired key',
        args: async () => {
          const k = await makeTestKey(dir, 'signexpired', { date: new Date(Date.now() - 10 * DAY), keyExpirationTime: 86_400 });
          return [k.privateFile, k.passphraseFile];
        },
        expect: /expired on/,
      },
      {
        name: 'a revoked key',
        args: async () => {
          const k = await makeTestKey(dir, 'signrevoked', { revoked: true });
          return [k.privateFile, k.passphraseFile];
        },
        expect: /is revoked/,
      },
    ];
    for (const c of rejected) {
      it(`rejects ${c.name}`, async () => {
        const [file, passphraseFile] = await c.args();

        const { text } = await configError(loadSigningKey(file, passphraseFile, { now: new Date() }));

        assert.match(text, c.expect);
      });
    }
  });

  describe('loadDecryptionKeys', () => {
    it('unlocks several keys with one passphrase file; keys stored without a passphrase need none', async () => {
      const shared = await makeTestKey(dir, 'shared', { passphrase: alice.passphrase });
      const plain = await makeTestKey(dir, 'plain2', { passphrase: '' });

      const keys = await loadDecryptionKeys([alice.privateFile, shared.privateFile, plain.privateFile], alice.passphraseFile);

      assert.equal(keys.length, 3);
      assert.ok(keys.every((k) => k.key.isDecrypted()));
    });

    it('accepts expired and revoked keys: old backups must stay restorable', async () => {
      const expired = await makeTestKey(dir, 'oldkey', { date: new Date(Date.now() - 10 * DAY), keyExpirationTime: 86_400 });
      const revoked = await makeTestKey(dir, 'revokedkey', { revoked: true, passphrase: expired.passphrase });

      const keys = await loadDecryptionKeys([expired.privateFile, revoked.privateFile], expired.passphraseFile);

      assert.equal(keys.length, 2);
      assert.ok(keys[0].expiresAt && keys[0].expiresAt.getTime() < Date.now());
    });

    it('rejects public keys, wrong passphrases and signing-only keys, all at once', async () => {
      const signOnly = await makeTestKey(dir, 'signonly2', { subkeys: [], passphrase: alice.passphrase });

      const { error } = await configError(
        loadDecryptionKeys([bob.publicFile, bob.privateFile, signOnly.privateFile], alice.passphraseFile),
      );

      const messages = error.problems.map((p) => p.message);
      assert.equal(messages.length, 3);
      assert.match(messages[0], /holds a public key .*decryption needs the private key/);
      assert.match(messages[1], /cannot unlock decryption key [0-9A-F]{40} from .*: wrong passphrase/);
      assert.match(messages[2], /has no key that can decrypt/);
      assert.equal(error.problems[1].setting, '--decryption-key-passphrase-file');
    });
  });

  describe('loadTrustedSignerKeys', () => {
    it('loads public keys and rejects private ones', async () => {
      const keys = await loadTrustedSignerKeys([alice.publicFile]);
      const { text } = await configError(loadTrustedSignerKeys([bob.privateFile], { setting: '--trusted-signer-key' }));

      assert.equal(keys[0].userIds[0], 'test-only alice <alice@example.invalid>');
      assert.match(text, /--trusted-signer-key: .* holds a PRIVATE key .*must be public keys/);
    });

    it("carries each key's window, and a retired key's revocation date, to the caller", async () => {
      const retired = await makeTestKey(dir, 'retired', {
        date: new Date('2026-01-01T00:00:00Z'),
        retiredAt: new Date('2026-06-01T00:00:00Z'),
      });

      const [a, r] = await loadTrustedSignerKeys([
        `${alice.publicFile},notBefore=2026-01-01T00:00:00Z,notAfter=2026-07-01T00:00:00+02:00`,
        retired.publicFile,
      ]);

      assert.deepEqual(
        [a.notBefore?.toISOString(), a.notAfter?.toISOString(), a.revokedAt],
        ['2026-01-01T00:00:00.000Z', '2026-06-30T22:00:00.000Z', undefined],
      );
      assert.deepEqual([r.notBefore, r.notAfter, r.revokedAt?.toISOString()], [undefined, undefined, '2026-06-01T00:00:00.000Z']);
    });

    it('reports every bad window, and one key given twice with different windows, at once, without reading key material into them', async () => {
      const { error, text } = await configError(
        loadTrustedSignerKeys(
          [
            `${alice.publicFile},notAfter=yesterday`,
            `${bob.publicFile},notBefore=2026-05-01T00:00:00Z,notAfter=2026-04-01T00:00:00Z`,
            `${bob.publicFile}`,
            `${bob.publicFile},notAfter=2026-04-01T00:00:00Z`,
          ],
          { setting: '--trusted-signer-key' },
        ),
      );

      const messages = error.problems.map((p) => p.message.replaceAll(dir.path, 'DIR'));
      assert.deepEqual(
        error.problems.map((p) => p.setting),
        ['--trusted-signer-key', '--trusted-signer-key', '--trusted-signer-key'],
      );
      assert.equal(
        messages[0],
        'DIR/test-only-alice.public.asc,notAfter=yesterday: notAfter is not an RFC 3339 time such as 2026-03-01T00:00:00Z',
      );
      assert.equal(
        messages[1],
        'DIR/test-only-bob.public.asc,notBefore=2026-05-01T00:00:00Z,notAfter=2026-04-01T00:00:00Z: notBefore (2026-05-01T00:00:00.000Z) is not before notAfter (2026-04-01T00:00:00.000Z)',
      );
      assert.match(
        messages[2],
        /^key [0-9A-F]{40} is given twice \(DIR\/test-only-bob.public.asc, DIR\/test-only-bob.public.asc\) with different windows$/,
      );
      assert.doesNotMatch(text, /BEGIN PGP/);
    });
  });

  it('refuses a window where the setting is not judged by one (windows: false), rather than ignore it', async () => {
    const { text } = await configError(
      loadTrustedSignerKeys([`${alice.publicFile},notAfter=2026-01-01T00:00:00Z`], { setting: '--drill-signer-key', windows: false }),
    );

    assert.match(text, /--drill-signer-key: .*alice\.public\.asc,notAfter=2026-01-01T00:00:00Z: this setting takes a key file only/);
  });

  describe('parseSignerKeySpec', () => {
    const table: [string, ReturnType<typeof parseSignerKeySpec>][] = [
      ['k.asc', { file: 'k.asc' }],
      ['dir,with,commas/k.asc', { file: 'dir,with,commas/k.asc' }],
      ['k.asc,notAfter=2026-03-01T00:00:00Z', { file: 'k.asc', notAfter: new Date('2026-03-01T00:00:00Z') }],
      [
        'k.asc,notAfter=2026-03-01T00:00:00Z,notBefore=2025-03-01T00:00:00.5Z',
        { file: 'k.asc', notBefore: new Date('2025-03-01T00:00:00.500Z'), notAfter: new Date('2026-03-01T00:00:00Z') },
      ],
      ['k.asc,notAfter=2026-03-01', { problems: ['notAfter is not an RFC 3339 time such as 2026-03-01T00:00:00Z'] }],
      ['k.asc,notAfter=2026-03-01T00:00:00Z,notAfter=2026-04-01T00:00:00Z', { problems: ['notAfter given twice'] }],
      [',notBefore=2026-03-01T00:00:00Z', { problems: ['no key file before the window'] }],
    ];
    for (const [raw, expected] of table) {
      it(`${raw} -> ${JSON.stringify(expected)}`, () => {
        assert.deepEqual(parseSignerKeySpec(raw), expected);
      });
    }
  });

  describe('keyExpiry and describeKey', () => {
    it('gives the earlier of primary and subkey expiry per usage, undefined for never', async () => {
      const k = await makeTestKey(dir, 'exp', { keyExpirationTime: 20 * 86_400, subkeys: [{ keyExpirationTime: 5 * 86_400 }] });
      const key = await readKey({ armoredKey: k.publicKey });
      const never = await readKey({ armoredKey: alice.publicKey });

      const now = new Date();
      const primary = await keyExpiry(key, 'primary', now);
      const encrypt = await keyExpiry(key, 'encrypt', now);

      assert.ok(primary && Math.abs(primary.getTime() - now.getTime() - 20 * DAY) < 60_000);
      assert.ok(encrypt && Math.abs(encrypt.getTime() - now.getTime() - 5 * DAY) < 60_000);
      assert.equal(await keyExpiry(never, 'encrypt', now), undefined);
    });

    it('describes a key or a loaded key as "FINGERPRINT (first user id)"', async () => {
      const key = await readKey({ armoredKey: readFileSync(alice.publicFile, 'utf8') });
      const { keys } = await loadRecipientKeys([alice.publicFile], { now: new Date(), warnWithinMs: 0 });

      assert.equal(describeKey(key), `${key.getFingerprint().toUpperCase()} (test-only alice <alice@example.invalid>)`);
      assert.equal(describeKey(keys[0]), describeKey(key));
    });
  });
});
