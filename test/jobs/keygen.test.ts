import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptKey, readKey, readPrivateKey } from 'openpgp';
import { keygenCommand } from '../../jobs/keygen.js';
import { BREAK_GLASS_RESTORE } from '../../shared/crypto/break-glass.js';
import { MemorySink } from '../../shared/log/index.js';
import { runCommand } from '../../shared/runtime/command.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  logs: string;
}

async function keygen(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const sink = new MemorySink();
  const code = await runCommand(keygenCommand, argv, {
    env,
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    logSink: sink,
    handleSignals: false,
  });
  return { code, stdout, stderr, logs: sink.lines.join('') };
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('jobs/keygen', function () {
  this.timeout(60_000);
  let root: string;
  let n = 0;
  /** A fresh, not yet existing output directory per test. */
  let out: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'steward-keygen-'));
  });
  beforeEach(() => {
    out = join(root, `out-${++n}`);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes the public key (0644), and the private key, generated passphrase and revocation certificate (0600)', async () => {
    const run = await keygen(['--key-name', 'backups prod', '--email', 'backups@example.invalid', '--out-dir', out]);

    assert.equal(run.code, 0, run.stderr + run.logs);
    assert.deepEqual(readdirSync(out).sort(), [
      'backups-prod.passphrase',
      'backups-prod.private.asc',
      'backups-prod.public.asc',
      'backups-prod.revocation.asc',
    ]);
    assert.equal(mode(out), 0o700);
    assert.equal(mode(join(out, 'backups-prod.public.asc')), 0o644);
    assert.equal(mode(join(out, 'backups-prod.private.asc')), 0o600);
    assert.equal(mode(join(out, 'backups-prod.passphrase')), 0o600);
    assert.equal(mode(join(out, 'backups-prod.revocation.asc')), 0o600);
  });

  it('the generated passphrase unlocks the private key, and it appears in no output or log', async () => {
    const run = await keygen(['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out]);

    const passphrase = readFileSync(join(out, 'k.passphrase'), 'utf8').trim();
    const privateKey = await readPrivateKey({ armoredKey: readFileSync(join(out, 'k.private.asc'), 'utf8') });
    assert.equal(privateKey.isDecrypted(), false);
    assert.ok((await decryptKey({ privateKey, passphrase })).isDecrypted());
    assert.ok(passphrase.length >= 40);
    for (const text of [run.stdout, run.stderr, run.logs]) assert.ok(!text.includes(passphrase));
  });

  it('prints the fingerprint and where each half goes', async () => {
    const run = await keygen(['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out]);

    const publicKey = await readKey({ armoredKey: readFileSync(join(out, 'k.public.asc'), 'utf8') });
    const fingerprint = publicKey.getFingerprint().toUpperCase();
    assert.ok(run.stdout.includes(`fingerprint  ${fingerprint}`));
    assert.ok(
      run.stdout.includes(`create secret generic secret-steward-backup-keys --from-file=recipient.asc=${join(out, 'k.public.asc')}`),
    );
    assert.ok(
      run.stdout.includes(
        `create secret generic secret-steward-restore-keys --from-file=private.asc=${join(out, 'k.private.asc')} --from-file=passphrase=${join(out, 'k.passphrase')}`,
      ),
    );
    assert.ok(run.stdout.includes(`gpg --import ${join(out, 'k.private.asc')}`));
    assert.match(run.stdout, /OFFLINE break-glass copy/);
    assert.ok(run.stdout.includes(BREAK_GLASS_RESTORE), 'the break-glass line of README and backup --help');
    assert.doesNotMatch(run.stdout, /gpg --decrypt[^|\n]*>/, 'no plaintext written to a file');
    assert.match(run.stdout, /ed25519\/cv25519 \(expires \d{4}-/);
    assert.match(run.logs, new RegExp(`"fingerprint":"${fingerprint}"`));
  });

  it('expires in 2 years by default; --expires never makes a key that never expires', async () => {
    const defaultRun = await keygen(['--key-name', 'a', '--email', 'a@example.invalid', '--out-dir', out]);
    const neverRun = await keygen(['--key-name', 'b', '--email', 'b@example.invalid', '--out-dir', out, '--expires', 'never']);

    const a = await readKey({ armoredKey: readFileSync(join(out, 'a.public.asc'), 'utf8') });
    const b = await readKey({ armoredKey: readFileSync(join(out, 'b.public.asc'), 'utf8') });
    const expiry = (await a.getExpirationTime()) as Date;
    assert.ok(Math.abs(expiry.getTime() - Date.now() - 730 * 86_400_000) < 60_000);
    assert.equal(await b.getExpirationTime(), Infinity);
    assert.equal(defaultRun.code, 0);
    assert.match(neverRun.stdout, /never expires/);
  });

  it("still takes --name (now --key-name) with a warning naming both, and ignores SECRET_STEWARD_NAME (restore's filter)", async () => {
    const run = await keygen(['--name', 'old', '--email', 'k@example.invalid', '--out-dir', out]);
    const filterOnly = await keygen(['--email', 'k@example.invalid', '--out-dir', join(root, 'unused')], { SECRET_STEWARD_NAME: 'db' });

    assert.equal(run.code, 0, run.stderr + run.logs);
    assert.ok(existsSync(join(out, 'old.public.asc')));
    const warning = run.logs.split('\n').find((l) => l.includes('"deprecated"'));
    assert.ok(warning, run.logs);
    assert.deepEqual((({ level, setting, deprecated }) => ({ level, setting, deprecated }))(JSON.parse(warning)), {
      level: 'warn',
      setting: '--key-name',
      deprecated: '--name',
    });
    assert.equal(filterOnly.code, 2);
    assert.match(filterOnly.stderr, /--key-name \/ SECRET_STEWARD_KEY_NAME: is required/);
  });

  it('uses a given passphrase file and writes no passphrase file; settings also come from SECRET_STEWARD_* variables', async () => {
    const passphraseFile = join(root, `pass-${n}`);
    writeFileSync(passphraseFile, 'test-only keygen passphrase\n');

    const run = await keygen([], {
      SECRET_STEWARD_KEY_NAME: 'envkey',
      SECRET_STEWARD_EMAIL: 'env@example.invalid',
      SECRET_STEWARD_OUT_DIR: out,
      SECRET_STEWARD_PASSPHRASE_FILE: passphraseFile,
      SECRET_STEWARD_TYPE: 'rsa',
    });

    assert.equal(run.code, 0, run.stderr);
    assert.ok(!existsSync(join(out, 'envkey.passphrase')));
    const privateKey = await readPrivateKey({ armoredKey: readFileSync(join(out, 'envkey.private.asc'), 'utf8') });
    assert.ok((await decryptKey({ privateKey, passphrase: 'test-only keygen passphrase' })).isDecrypted());
    assert.equal(privateKey.getAlgorithmInfo().bits, 3072);
    assert.ok(run.stdout.includes(`--from-file=passphrase=${passphraseFile}`));
    assert.match(run.stdout, /rsa3072\/rsa3072/);
  });

  it('refuses to overwrite existing key files (exit 2, files untouched); --force replaces them', async () => {
    await keygen(['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out]);
    const before = readFileSync(join(out, 'k.private.asc'), 'utf8');

    const refused = await keygen(['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out]);
    const untouched = readFileSync(join(out, 'k.private.asc'), 'utf8');
    const forced = await keygen(['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--force']);

    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /k\.public\.asc, .*k\.private\.asc, .* already exist; refusing to overwrite/);
    assert.match(refused.stderr, /--out-dir \/ SECRET_STEWARD_OUT_DIR/);
    assert.equal(untouched, before);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(join(out, 'k.private.asc'), 'utf8'), before);
    assert.equal(mode(join(out, 'k.private.asc')), 0o600);
  });

  it('--dry-run writes nothing and lists the files', async () => {
    const run = await keygen(['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--dry-run']);

    assert.equal(run.code, 0);
    assert.ok(!existsSync(out));
    assert.match(run.stdout, /^Dry run: would create a ed25519\/cv25519 key pair/);
    assert.ok(run.stdout.includes(join(out, 'k.private.asc')));
  });

  const invalid: { name: string; argv: () => string[]; expect: RegExp }[] = [
    { name: 'no settings', argv: () => [], expect: /--key-name .*is required[\s\S]*--email .*is required[\s\S]*--out-dir .*is required/ },
    {
      name: 'a malformed email',
      argv: () => ['--key-name', 'k', '--email', 'nope', '--out-dir', out],
      expect: /expected an email address/,
    },
    {
      name: '--rsa-bits 2048',
      argv: () => ['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--type', 'rsa', '--rsa-bits', '2048'],
      expect: /expected 3072 or 4096/,
    },
    {
      name: '--rsa-bits with an ecc key',
      argv: () => ['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--rsa-bits', '4096'],
      expect: /--rsa-bits .*only applies with --type rsa/,
    },
    {
      name: 'an unknown --type',
      argv: () => ['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--type', 'dsa'],
      expect: /expected one of ecc, rsa/,
    },
    {
      name: 'a malformed --expires',
      argv: () => ['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--expires', 'soon'],
      expect: /expected never, a number of years/,
    },
    {
      name: 'an --expires shorter than a day',
      argv: () => ['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--expires', '2h'],
      expect: /at least a day/,
    },
    {
      name: 'a name without letters or digits',
      argv: () => ['--key-name', '!!!', '--email', 'k@example.invalid', '--out-dir', out],
      expect: /--key-name .*needs at least one letter or digit/,
    },
    {
      name: 'a missing passphrase file',
      argv: () => ['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--passphrase-file', join(root, 'nope')],
      expect: /cannot read passphrase file .*nope: no such file/,
    },
    {
      name: 'a passphrase shorter than 12 characters',
      argv: () => {
        const file = join(root, `short-${n}`);
        writeFileSync(file, 'short\n');
        return ['--key-name', 'k', '--email', 'k@example.invalid', '--out-dir', out, '--passphrase-file', file];
      },
      expect: /shorter than 12 characters/,
    },
  ];
  for (const c of invalid) {
    it(`exits 2 and writes nothing for ${c.name}`, async () => {
      const run = await keygen(c.argv());

      assert.equal(run.code, 2, run.stdout);
      assert.match(run.stderr, c.expect);
      assert.ok(!existsSync(out));
      assert.ok(!run.stderr.includes('short\n'));
    });
  }

  it('--help says where each half of the key pair goes', async () => {
    const run = await keygen(['--help']);

    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: secret-steward keygen --key-name NAME --email EMAIL --out-dir DIR/);
    assert.match(run.stdout, /PUBLIC key: into the backup job's Secret \(secret-steward-backup-keys\)/);
    assert.match(run.stdout, /PRIVATE key \+ passphrase: only where restores and DR drills run \(secret-steward-restore-keys\)/);
    assert.match(run.stdout, /OFFLINE copy .*gpg --import/s);
    assert.match(run.stdout, /--passphrase-file FILE/);
    assert.match(run.stdout, /Exit codes: 0 key pair written; 2 /);
  });
});
