import { EXIT_CODE_MEANINGS } from '../errors/exit-codes.js';
import { ENV_PREFIX, envName, flagName, type SettingSpec, type SettingsSpec } from './options.js';

/** What a command says about itself in `--help`, the command list and docs/cli/. */
export interface CommandHelp {
  name: string;
  /** One line, shown in the command list. */
  summary: string;
  /** Paragraphs explaining what the command does and when to use it. */
  description: string;
  usage?: string;
  examples?: readonly string[];
  /** Extra paragraphs (exit codes, notes) shown after the options. */
  notes?: readonly string[];
}

/** One option as `--help` and the generated reference present it. */
export interface OptionHelp {
  /** `--store`. */
  flag: string;
  /** `-n`, when the option has a kubectl-style short form. */
  short?: string;
  /** `URL`; absent for a boolean flag. */
  valueName?: string;
  repeatable: boolean;
  required: boolean;
  description: string;
  /** The default as shown (`1h`, `us-east-1, or AWS_REGION / AWS_DEFAULT_REGION`); absent when none. */
  default?: string;
  /** `SECRET_STEWARD_STORE`, then any other variables honoured (`KUBECONFIG`). */
  env: readonly string[];
}

/** A settings table's options by help group (`Object storage`, `Kubernetes access`...), in table order. */
export function optionGroups(spec: SettingsSpec): Map<string, OptionHelp[]> {
  const groups = new Map<string, OptionHelp[]>();
  for (const [key, s] of Object.entries(spec)) {
    const group = s.group ?? 'Options';
    const options = groups.get(group) ?? [];
    options.push(optionHelp(key, s));
    groups.set(group, options);
  }
  return groups;
}

function optionHelp(key: string, s: SettingSpec<unknown>): OptionHelp {
  const def = s.defaultText ?? describeDefault(s.default);
  return {
    flag: `--${flagName(key)}`,
    ...(s.short === undefined ? {} : { short: `-${s.short}` }),
    ...(s.boolean ? {} : { valueName: s.valueName ?? 'VALUE' }),
    repeatable: s.repeatable === true,
    required: s.required === true,
    description: s.formerly === undefined ? s.description : `${s.description} ${formerText(s.formerly)}`,
    ...(def === '' ? {} : { default: def }),
    env: [...(s.env === false ? [] : [envName(key)]), ...(s.extraEnv ?? [])],
  };
}

/** `Formerly --signing-key / SECRET_STEWARD_SIGNING_KEY (deprecated, still accepted with a warning).` */
function formerText(formerly: NonNullable<SettingSpec<unknown>['formerly']>): string {
  const names = [formerly.flag === undefined ? '' : `--${formerly.flag}`, formerly.env ?? ''].filter((x) => x !== '');
  return `Formerly ${names.join(' / ')} (deprecated, still accepted with a warning).`;
}

/** `--store URL`, `-n, --namespace NAMESPACE (repeatable)`, `--dry-run`. */
export function optionSynopsis(o: OptionHelp): string {
  return `${o.short === undefined ? '' : `${o.short}, `}${o.flag}${o.valueName === undefined ? '' : ` ${o.valueName}`}${o.repeatable ? ' (repeatable)' : ''}`;
}

const WIDTH = 100;

/** The environment convention every command follows, as the end of each command's help says it. */
export const ENV_NOTE =
  `Every option can also be set as an environment variable: ${ENV_PREFIX} followed by the option name in capitals ` +
  `with - as _ (--s3-endpoint is ${ENV_PREFIX}S3_ENDPOINT); repeatable options take a comma-separated list. ` +
  'Flags win over the environment.';

/** Renders a command's help: usage, description, options grouped, then examples and notes. */
export function renderHelp(cmd: CommandHelp, spec: SettingsSpec): string {
  const out: string[] = [];
  out.push(`Usage: ${usageOf(cmd)}`, '', wrap(cmd.description, 0), '');
  for (const [group, options] of optionGroups(spec)) {
    out.push(`${group}:`);
    for (const o of options) {
      const details = [
        o.description,
        o.required ? 'Required.' : '',
        o.default === undefined ? '' : `Default: ${o.default}.`,
        o.env.length > 0 ? `[env ${o.env.join(', ')}]` : '',
      ]
        .filter((x) => x !== '')
        .join(' ');
      out.push(`  ${optionSynopsis(o)}`, wrap(details, 6));
    }
    out.push('');
  }
  out.push('  -h, --help', wrap('Show this help.', 6), '');
  if (cmd.examples?.length) out.push('Examples:', ...cmd.examples.map((e) => `  ${e}`), '');
  for (const n of cmd.notes ?? []) out.push(wrap(n, 0), '');
  out.push(wrap(ENV_NOTE, 0));
  return `${out.join('\n')}\n`;
}

/** `secret-steward backup [options]`, unless the command spells its usage out. */
export function usageOf(cmd: CommandHelp): string {
  return cmd.usage ?? `secret-steward ${cmd.name} [options]`;
}

/** What secret-steward is, in the command list and at the head of docs/cli/. */
export const CLI_DESCRIPTION =
  'Kubernetes Secret lifecycle jobs: scheduled rotation with verified rollouts, OpenPGP-encrypted ' +
  'backups to S3-compatible storage, and restore drills that prove the backups come back.';

/** `secret-steward --help`: every command with its summary, then the conventions and exit codes. */
export function renderCommandList(commands: readonly CommandHelp[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'Usage: secret-steward <command> [options]',
    '',
    wrap(CLI_DESCRIPTION, 0),
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    `  ${'version'.padEnd(width)}Print the version.`,
    '',
    "Run 'secret-steward <command> --help' for a command's options. Every option can also be set as",
    `an environment variable: ${ENV_PREFIX} + the option name in capitals, - as _ (flags win).`,
    '',
    'Exit codes:',
    ...EXIT_CODE_MEANINGS.map(([code, meaning]) => `  ${String(code).padEnd(5)}${meaning}`),
    '',
  ].join('\n');
}

function describeDefault(value: unknown): string {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return '';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/** Word-wraps text to the help width with a hanging indent. */
export function wrap(text: string, indent: number): string {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter((w) => w !== '')) {
      if (line !== '' && pad.length + line.length + 1 + word.length > WIDTH) {
        lines.push(pad + line);
        line = word;
      } else {
        line = line === '' ? word : `${line} ${word}`;
      }
    }
    lines.push(pad + line);
  }
  return lines.join('\n');
}
