import { settingLabel } from '../config/options.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { ConfigError } from '../errors/index.js';
import type { CommandContext } from '../runtime/command.js';
import { BREAK_GLASS_RESTORE } from './break-glass.js';
import { type KeyFilePaths, keyFilePaths } from './key-file-names.js';
import { type GeneratedKeyPair, generateKeyPair, type KeyFile, randomPassphrase, refuseExisting, writeKeyFiles } from './keygen.js';
import { type KeygenSettings, keygenSettings, MIN_PASSPHRASE_LENGTH } from './keygen-settings.js';
import { readPassphrase } from './keys.js';

/**
 * `secret-steward keygen`: reads the passphrase (or generates one), refuses to replace existing
 * key files without --force, then generates the key pair, writes each half to its own file and
 * prints where each belongs (`--dry-run`: only which files it would write).
 */
export async function runKeygenJob(s: KeygenSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const outDirLabel = settingLabel('outDir', keygenSettings.outDir);
  const paths = keyFilePaths(s.outDir, s.keyName);
  const generatePassphrase = s.passphraseFile === undefined;
  const targets = [paths.publicKey, paths.privateKey, paths.revocationCertificate, ...(generatePassphrase ? [paths.passphrase] : [])];

  let passphrase: string | undefined;
  if (s.passphraseFile !== undefined) {
    const label = settingLabel('passphraseFile', keygenSettings.passphraseFile);
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
    name: s.keyName,
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
  ctx.io.stdout.write(instructions(pair, paths, s.passphraseFile ?? paths.passphrase, generatePassphrase));
  return ExitCode.Success;
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
    `     ${BREAK_GLASS_RESTORE}   (per segment; asks for the passphrase; the plaintext stays in the pipe)`,
    '',
    `Then remove the private key${generated ? ' and passphrase' : ''} from this machine (shred -u ${paths.privateKey}${generated ? ` ${paths.passphrase}` : ''}).`,
    'Without the private key the backups cannot be read; check the offline copy with a restore drill (secret-steward verify-restore).',
    '',
  ].join('\n');
}
