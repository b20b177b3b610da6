import { ENV_PREFIX, flagName, type SettingsSpec, settingLabel } from './options.js';

/** What a command says about itself in `--help`. */
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

const WIDTH = 100;

/** Renders a command's help: usage, description, options grouped, then examples and notes. */
export function renderHelp(cmd: CommandHelp, spec: SettingsSpec): string {
  const out: string[] = [];
  out.push(`Usage: ${cmd.usage ?? `secret-steward ${cmd.name} [options]`}`, '', wrap(cmd.description, 0), '');
  const groups = new Map<string, string[]>();
  for (const [key, s] of Object.entries(spec)) {
    const group = s.group ?? 'Options';
    const head = `  --${flagName(key)}${s.boolean ? '' : ` ${s.valueName ?? 'VALUE'}`}${s.repeatable ? ' (repeatable)' : ''}`;
    const env = s.env === false ? '' : `env ${settingLabel(key, s).split(' / ').slice(1).join(', ')}`;
    const def = s.defaultText ?? describeDefault(s.default);
    const details = [s.description, s.required ? 'Required.' : '', def ? `Default: ${def}.` : '', env ? `[${env}]` : '']
      .filter((x) => x !== '')
      .join(' ');
    const lines = groups.get(group) ?? [];
    lines.push(head, wrap(details, 6));
    groups.set(group, lines);
  }
  for (const [group, lines] of groups) out.push(`${group}:`, ...lines, '');
  out.push('  -h, --help', wrap('Show this help.', 6), '');
  if (cmd.examples?.length) out.push('Examples:', ...cmd.examples.map((e) => `  ${e}`), '');
  for (const n of cmd.notes ?? []) out.push(wrap(n, 0), '');
  out.push(
    wrap(
      `Every option can also be set as an environment variable: ${ENV_PREFIX} followed by the option name in capitals ` +
        `with - as _ (--s3-endpoint is ${ENV_PREFIX}S3_ENDPOINT); repeatable options take a comma-separated list. ` +
        'Flags win over the environment.',
      0,
    ),
  );
  return `${out.join('\n')}\n`;
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
