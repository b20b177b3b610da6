import {
  booleanSetting,
  customSetting,
  enumSetting,
  fileSetting,
  parseDuration,
  type SettingsOf,
  stringSetting,
  ValueError,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { logSettings } from '../log/log-settings.js';
import { fileBaseName } from './key-file-names.js';

const YEAR_SECONDS = 365 * 86_400;

/** A given `--passphrase-file` must hold at least this many characters. */
export const MIN_PASSPHRASE_LENGTH = 12;

/** `secret-steward keygen` settings: who the key is for, what kind, and where its files go. */
export const keygenSettings = {
  keyName: stringSetting({
    description: 'Name in the key\'s user id, e.g. "secret-steward backups prod". The file names are made from it.',
    valueName: 'NAME',
    // Not SECRET_STEWARD_NAME: that is restore's Secret filter.
    formerly: { flag: 'name' },
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
} as const;

export type KeygenSettings = SettingsOf<typeof keygenSettings>;

export function validateKeygenSettings(s: KeygenSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (fileBaseName(s.keyName) === '') {
    problems.push(problemFor(keygenSettings, 'keyName', 'needs at least one letter or digit (the file names are made from it)'));
  }
  if (s.rsaBits !== undefined && s.type !== 'rsa') problems.push(problemFor(keygenSettings, 'rsaBits', 'only applies with --type rsa'));
  return problems;
}

/** `--expires`: `never` (0), `2y`, or a duration of at least a day; in seconds. */
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
