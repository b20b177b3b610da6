import {
  booleanSetting,
  customSetting,
  enumSetting,
  fileSetting,
  parseDuration,
  settingLabel,
  stringSetting,
  ValueError,
} from '../shared/config/options.js';
import { problemFor } from '../shared/config/parse.js';
import {
  fileBaseName,
  type GeneratedKeyPair,
  generateKeyPair,
  type KeyFile,
  type KeyFilePaths,
  keyFilePaths,
  randomPassphrase,
  readPassphrase,
  refuseExisting,
  writeKeyFiles,
} from '../shared/crypto/index.js';
import { ExitCode } from '../shared/errors/exit-codes.js';
import { ConfigError } from '../shared/errors/index.js';
import { logSettings } from '../shared/log/log-settings.js';
import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';

const YEAR_SECONDS = 365 * 86_400;
const MIN_PASSPHRASE_LENGTH = 12;

const settings = {
  name: stringSetting({
    description: 'Name in the key\'s user id, e.g. "secret-steward backups prod". The file names are made from it.',
    valueName: 'NAME',
    required: true,
    group: 'Key',
  }),
  email: stringSetting({
    description: "Email address in the key's user id (it only labels the key; nothing is sent to it).",
    valueName: 'EMAIL',
    required: true,
    pattern: /^[^\s@<>]+@[^\s@<>]+$/,
    expected: 'an email address such as backups@example.com',
    group: 'Key',
  }),
  type: enumSetting(['ecc', 'rsa'] as const, {
    description:
      'Key algorithm. ecc: ed25519 signing key with a cv25519 encryption subkey (fast, small; GnuPG 2.2 and later read it). ' +
      'rsa: RSA primary key and encryption subkey, for policies that require RSA.',
    default: 'ecc',
    group: 'Key',
  }),
  rsaBits: customSetting({
    description: 'RSA key size, with --type rsa. Default: 3072.',
    valueName: '3072|4096',
    group: 'Key',
    parse: (raw: string): 3072 | 4096 => {
      if (raw === '3072' || raw === '4096') return Number(raw) as 3072 | 4096;
      throw new ValueError('3072 or 4096');
    },
  }),
  expires: customSetting({
    description:
      'How long the key stays valid: a number of years (2y), a duration (90d, 52w), or never. The backup job refuses an expired ' +
      'recipient key and warns ahead of expiry; extend a key with gpg --quick-set-expire before it expires.',
    valueName: 'DURATION|never',
    default: 2 * YEAR_SECONDS,
    defaultText: '2y',
    group: 'Key',
    parse: parseExpiry,
  }),
  outDir: stringSetting({
    description: 'Directory to write the key files to (created with mode 0700 if missing).',
    valueName: 'DIR',
    required: true,
    group: 'Output',
  }),
  passphraseFile: fileSetting({
    description:
      'File holding the passphrase that protects the private key (one trailing newline is ignored; at least ' +
      `${MIN_PASSPHRASE_LENGTH} characters). Without it a random 256-bit passphrase is generated and written to DIR/<name>.passphrase (mode 0600).`,
    group: 'Output',
  }),
  force: booleanSetting({
    description: 'Replace existing key files. Without it keygen refuses (exit 2) rather than destroy a key that old backups may need.',
    default: false,
    group: 'Output',
  }),
  dryRun: booleanSetting({
    description: 'Check the settings and the output directory and print which files would be written; generate and write nothing.',
    default: false,
    group: 'Output',
  }),
  ...logSettings,
};

/** `secret-steward keygen`: create the OpenPGP key pair that backups are encrypted to. */
export const keygenCommand = defineCommand({
  help: {
    name: 'keygen',
    summary: 'Create an OpenPGP key pair for backups (public half for backup, private for restore).',
    usage: 'secret-steward keygen --name NAME --email EMAIL --out-dir DIR [--passphrase-file FILE] [--type ecc|rsa] [--expires 2y|never]',
    description:
      'Creates an OpenPGP key pair (v4, readable by GnuPG 2.2 and later) for encrypting backups, and writes each half to its own ' +
      'file in DIR: <name>.public.asc (mode 0644), <name>.private.asc (passphrase-protected, mode 0600), <name>.revocation.asc ' +
      '(mode 0600) and, when no --passphrase-file is given, a generated <name>.passphrase (mode 0600). It prints the fingerprint ' +
      'and the commands that put each half where it belongs.\n' +
      'Where each half goes:\n' +
      "- PUBLIC key: into the backup job's Secret (secret-steward-backup-keys). The backup job only encrypts and must never hold a private key.\n" +
      '- PRIVATE key + passphrase: only where restores and DR drills run (secret-steward-restore-keys), never next to the backups.\n' +
      '- An OFFLINE copy of the private key, passphrase and revocation certificate (password manager, safe): the break-glass path, ' +
      'restorable with plain gpg --import and gpg --decrypt even without secret-steward or the cluster. Without the private key, the backups are unreadable.',
    examples: [
      'secret-steward keygen --name backups-prod --email backups@example.com --out-dir ./keys',
      'secret-steward keygen --name backups-prod --email backups@example.com --out-dir ./keys --passphrase-file ./pass --type rsa --rsa-bits 4096 --expires never',
    ],
    notes: [
      'Exit codes: 0 key pair written; 2 invalid settings, unreadable passphrase file, or key files already exist (nothing is written without --force); 1 the files could not be written.',
      'GnuPG may print "WARNING: key ... contains preferences for unavailable algorithms" (SHA3) when importing the key: harmless, gpg 2.2 simply does not use those.',
    ],
  },
  settings,
  validate: (s) => (s.rsaBits !== undefined && s.type !== 'rsa' ? [problemFor(settings, 'rsaBits', 'only applies with --type rsa')] : []),
  run: async (s, ctx) => {
    const outDirLabel = settingLabel('outDir', settings.outDir);
    if (fileBaseName(s.name) === '') {
      throw new ConfigError([problemFor(settings, 'name', 'needs at least one letter or digit (the file names are made from it)')]);
    }
    const paths = keyFilePaths(s.outDir, s.name);
    const generatePassphrase = s.passphraseFile === undefined;
    const targets = [paths.publicKey, paths.privateKey, paths.revocationCertificate, ...(generatePassphrase ? [paths.passphrase] : [])];

    let passphrase: string | undefined;
    if (s.passphraseFile !== undefined) {
      const label = settingLabel('passphraseFile', settings.passphraseFile);
      passphrase = await readPassphrase(s.passphraseFile, label);
      if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
        throw new ConfigError([
          { setting: label, message: `the passphrase in ${s.passphraseFile} is shorter than ${MIN_PASSPHRASE_LENGTH} characters` },
        ]);
      }
    }
    if (!s.force) await refuseExisting(targets, outDirLabel);
    if (s.dryRun) {
      ctx.io.stdout.write(
        `Dry run: would create a ${describeType(s.type, s.rsaBits)} key pair and write:\n${targets.map((t) => `  ${t}`).join('\n')}\n`,
      );
      return ExitCode.Success;
    }
    passphrase ??= randomPassphrase();

    const pair = await generateKeyPair({
      name: s.name,
      email: s.email,
      passphrase,
      type: s.type,
      ...(s.type === 'rsa' ? { rsaBits: s.rsaBits ?? 3072 } : {}),
      expiresInSeconds: s.expires,
      now: ctx.clock.now(),
    });
    const files: KeyFile[] = [
      { path: paths.publicKey, content: pair.publicKey, mode: 0o644 },
      { path: paths.privateKey, content: pair.privateKey, mode: 0o600 },
      { path: paths.revocationCertificate, content: pair.revocationCertificate, mode: 0o600 },
      ...(generatePassphrase ? [{ path: paths.passphrase, content: `${passphrase}\n`, mode: 0o600 }] : []),
    ];
    await writeKeyFiles(files, { force: s.force, setting: outDirLabel });
    ctx.log.info({ fingerprint: pair.fingerprint, algorithm: pair.algorithm, outDir: s.outDir }, 'key pair written');
    ctx.io.stdout.write(instructions(pair, paths, generatePassphrase ? paths.passphrase : s.passphraseFile!, generatePassphrase));
    return ExitCode.Success;
  },
});

function parseExpiry(raw: string): number {
  const text = raw.trim().toLowerCase();
  if (text === 'never' || text === '0') return 0;
  const years = /^(\d+)y$/.exec(text);
  const seconds = years ? Number(years[1]) * YEAR_SECONDS : (parseDuration(text) ?? 0) / 1000;
  if (!Number.isSafeInteger(seconds) || seconds < 86_400) {
    throw new ValueError('never, a number of years such as 2y, or a duration of at least a day such as 90d or 52w');
  }
  return seconds;
}

function describeType(type: 'ecc' | 'rsa', rsaBits: number | undefined): string {
  return type === 'ecc' ? 'ed25519/cv25519' : `rsa${rsaBits ?? 3072}`;
}

function instructions(pair: GeneratedKeyPair, paths: KeyFilePaths, passphraseFile: string, generated: boolean): string {
  const expiry = pair.expiresAt ? `expires ${pair.expiresAt.toISOString()}` : 'never expires';
  return [
    `Created OpenPGP key pair ${pair.algorithm} (${expiry}):`,
    `  fingerprint  ${pair.fingerprint}`,
    `  user id      ${pair.userId}`,
    '',
    'Files:',
    `  ${paths.publicKey}  public key (safe to share)`,
    `  ${paths.privateKey}  private key, passphrase-protected (mode 0600)`,
    ...(generated ? [`  ${paths.passphrase}  generated passphrase (mode 0600)`] : [`  passphrase: the one in ${passphraseFile}`]),
    `  ${paths.revocationCertificate}  revocation certificate (mode 0600; gpg --import it only if the private key is lost or compromised)`,
    '',
    'Where each half goes:',
    '1. PUBLIC key -> the backup job. It only encrypts and must never hold a private key:',
    `     kubectl -n secret-steward create secret generic secret-steward-backup-keys --from-file=recipient.asc=${paths.publicKey}`,
    '2. PRIVATE key + passphrase -> only where restores and DR drills run (not next to the backups):',
    `     kubectl -n secret-steward create secret generic secret-steward-restore-keys --from-file=private.asc=${paths.privateKey} --from-file=passphrase=${passphraseFile}`,
    '3. OFFLINE break-glass copy of the private key, passphrase and revocation certificate (password manager, safe).',
    '   It restores without secret-steward or the cluster:',
    `     gpg --import ${paths.privateKey}`,
    '     gpg --decrypt SEGMENT.pgp > SEGMENT   (asks for the passphrase)',
    '',
    `Then remove the private key${generated ? ' and passphrase' : ''} from this machine (shred -u ${paths.privateKey}${generated ? ` ${paths.passphrase}` : ''}).`,
    'Without the private key the backups cannot be read; check the offline copy with a restore drill (secret-steward verify-restore).',
    '',
  ].join('\n');
}

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(keygenCommand, process.argv.slice(2));
