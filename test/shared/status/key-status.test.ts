import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKey, revokeKey } from 'openpgp';
import { generateKeyPair } from '../../../shared/crypto/keygen.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { collectKeyStatus, type KeyState } from '../../../shared/status/key-status.js';

const DAY = 86_400_000;
const NOW = new Date();

describe('shared/status/key-status', function () {
  this.timeout(30_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ss-status-keys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function keyFile(
    name: string,
    o: { expiresInDays?: number; createdDaysAgo?: number; revoked?: boolean } = {},
  ): Promise<{ file: string; privateFile: string; fingerprint: string }> {
    const kp = await generateKeyPair({
      name,
      email: `${name}@test.invalid`,
      passphrase: 'test-only-passphrase',
      type: 'ecc',
      now: new Date(NOW.getTime() - (o.createdDaysAgo ?? 0) * DAY),
      ...(o.expiresInDays !== undefined ? { expiresInSeconds: o.expiresInDays * 86_400 } : {}),
    });
    let publicKey = kp.publicKey;
    if (o.revoked) {
      publicKey = (
        await revokeKey({
          key: await readKey({ armoredKey: kp.publicKey }),
          revocationCertificate: kp.revocationCertificate,
          format: 'armored',
        })
      ).publicKey;
    }
    const file = join(dir, `${name}.public.asc`);
    const privateFile = join(dir, `${name}.private.asc`);
    await writeFile(file, publicKey);
    await writeFile(privateFile, kp.privateKey);
    return { file, privateFile, fingerprint: kp.fingerprint };
  }

  const cases: Array<{ name: string; key: Parameters<typeof keyFile>[1]; state: KeyState; detail: RegExp }> = [
    { name: 'never expires', key: {}, state: 'ok', detail: /^never expires$/ },
    { name: 'expires in a year', key: { expiresInDays: 365 }, state: 'ok', detail: /^expires on .* \(in 364 days\)$/ },
    {
      name: 'expires in 10 days (warning window 30 days)',
      key: { expiresInDays: 10 },
      state: 'expiring',
      detail: /\(in 9 days\); extend it \(gpg --quick-set-expire\)/,
    },
    {
      name: 'expired 5 days ago',
      key: { createdDaysAgo: 15, expiresInDays: 10 },
      state: 'expired',
      detail: /^expired on .*: cannot (encrypt|sign) backups/,
    },
    { name: 'revoked', key: { revoked: true }, state: 'revoked', detail: /^revoked: cannot (encrypt|sign) backups; replace it$/ },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.state} for both roles`, async () => {
      const k = await keyFile(c.name.replace(/\W+/g, '-'), c.key);

      const got = await collectKeyStatus({ recipient: [k.file], signer: [k.file] }, { now: NOW, warnWithinMs: 30 * DAY });

      assert.deepEqual(
        got.map((s) => [s.role, s.state, s.fingerprint]),
        [
          ['recipient', c.state, k.fingerprint],
          ['signer', c.state, k.fingerprint],
        ],
      );
      for (const s of got) assert.match(s.detail, c.detail);
    });
  }

  it("leaves out a signer key retired with notAfter (a rollover's old key): nothing to renew; one retired later still counts", async () => {
    const retired = await keyFile('retired', { createdDaysAgo: 15, expiresInDays: 10 });
    const retiring = await keyFile('retiring', { createdDaysAgo: 15, expiresInDays: 10 });
    const at = (days: number) => new Date(NOW.getTime() + days * DAY).toISOString();

    const got = await collectKeyStatus(
      { recipient: [], signer: [`${retired.file},notAfter=${at(-1)}`, `${retiring.file},notAfter=${at(1)}`] },
      { now: NOW, warnWithinMs: 30 * DAY },
    );

    assert.deepEqual(
      got.map((s) => [s.role, s.state, s.fingerprint]),
      [['signer', 'expired', retiring.fingerprint]],
    );
  });

  it('refuses private key files and unreadable files, naming the setting, all at once', async () => {
    const k = await keyFile('private');

    const err = await collectKeyStatus(
      { recipient: [k.privateFile], signer: [join(dir, 'missing.asc')] },
      { now: NOW, warnWithinMs: DAY },
    ).catch((e) => e);

    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.problems.map((p: { setting: string }) => p.setting),
      ['--recipient-key / SECRET_STEWARD_RECIPIENT_KEY', '--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY'],
    );
    assert.match(err.message, /holds a PRIVATE key/);
    assert.match(err.message, /cannot read .*missing\.asc/);
  });
});
