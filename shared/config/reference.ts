import { EXIT_CODE_MEANINGS } from '../errors/exit-codes.js';
import { CLI_DESCRIPTION, type CommandHelp, ENV_NOTE, type OptionHelp, optionGroups, optionSynopsis, usageOf } from './help.js';
import type { SettingsSpec } from './options.js';

/**
 * The command reference in docs/cli/, generated from the same help objects and settings tables
 * that `--help` renders, so that it cannot drift from the code: `npm run docs:cli` writes it, and
 * a test fails when the committed copy differs.
 */

/** Where the reference lives, relative to the repository root. */
export const REFERENCE_DIR = 'docs/cli';

/** One generated file: its path under the repository root and its text. */
export interface ReferenceFile {
  path: string;
  text: string;
  /** The command the file documents; absent for the index. */
  command?: string;
}

/** Every file of the reference: the index (README.md) and one page per command. */
export function referenceFiles(commands: readonly { help: CommandHelp; settings: SettingsSpec }[]): ReferenceFile[] {
  return [
    { path: `${REFERENCE_DIR}/README.md`, text: renderReferenceIndex(commands.map((c) => c.help)) },
    ...commands.map((c) => ({
      path: `${REFERENCE_DIR}/${c.help.name}.md`,
      text: renderReference(c.help, c.settings),
      command: c.help.name,
    })),
  ];
}

const GENERATED = (source: string) => `<!-- Generated from ${source} by \`npm run docs:cli\`. Do not edit. -->`;

/** docs/cli/README.md: what the CLI is, every command with its summary, conventions, exit codes. */
export function renderReferenceIndex(commands: readonly CommandHelp[]): string {
  return lines([
    GENERATED('jobs/commands.ts and each command'),
    '',
    '# `secret-steward` command reference',
    '',
    markdownText(CLI_DESCRIPTION),
    '',
    '```',
    'secret-steward <command> [options]',
    '```',
    '',
    '| Command | What it does |',
    '| --- | --- |',
    ...commands.map((c) => `| [\`${c.name}\`](${c.name}.md) | ${cell(c.summary)} |`),
    '',
    markdownText(ENV_NOTE),
    '',
    '## Exit codes',
    '',
    '| Code | Meaning |',
    '| --- | --- |',
    ...EXIT_CODE_MEANINGS.map(([code, meaning]) => `| ${code} | ${cell(meaning)} |`),
  ]);
}

/** docs/cli/<command>.md: the command's help as Markdown, its options as one table per group. */
export function renderReference(help: CommandHelp, spec: SettingsSpec): string {
  const out: string[] = [
    GENERATED(`jobs/${help.name}.ts and its settings`),
    '',
    `# \`secret-steward ${help.name}\``,
    '',
    markdownText(help.summary),
    '',
    '```',
    usageOf(help),
    '```',
    '',
    markdownText(help.description),
    '',
    '## Options',
  ];
  for (const [group, options] of optionGroups(spec)) {
    out.push('', `### ${group}`, '', '| Option | Environment | Default | Description |', '| --- | --- | --- | --- |');
    out.push(...options.map(optionRow));
  }
  out.push('', markdownText(ENV_NOTE));
  if (help.examples?.length) out.push('', '## Examples', '', '```sh', ...help.examples, '```');
  if (help.notes?.length) out.push('', '## Notes', '', help.notes.map(markdownText).join('\n\n'));
  out.push('', '[All commands](README.md)');
  return lines(out);
}

function optionRow(o: OptionHelp): string {
  const env = o.env.map((e) => `\`${e}\``).join(', ');
  const def = o.required ? 'required' : (o.default ?? '');
  return `| \`${cell(optionSynopsis(o))}\` | ${env} | ${cell(escapeInline(def))} | ${cell(escapeInline(o.description))} |`;
}

/**
 * Help text as Markdown. Lines stay lines: `- ` and `1. ` lines become lists, indented lines
 * (aligned columns) a preformatted block, every other line a paragraph. `<`, `*` and `\` are
 * escaped, so that `<name>.public.asc` and cron fields show as written.
 */
export function markdownText(text: string): string {
  const blocks: string[] = [];
  let list: string[] = [];
  let pre: string[] = [];
  const flush = () => {
    if (list.length > 0) blocks.push(list.join('\n'));
    if (pre.length > 0) blocks.push(['```text', ...pre, '```'].join('\n'));
    list = [];
    pre = [];
  };
  for (const line of text.split('\n')) {
    if (/^\s+\S/.test(line)) {
      if (list.length > 0) flush();
      pre.push(line);
    } else if (/^(- |\d+\. )/.test(line)) {
      if (pre.length > 0) flush();
      list.push(escapeInline(line));
    } else {
      flush();
      if (line.trim() !== '') blocks.push(escapeInline(line));
    }
  }
  flush();
  return blocks.join('\n\n');
}

/** Escapes what Markdown would take for markup in running text. */
function escapeInline(text: string): string {
  return text.replace(/[\\<*]/g, (c) => `\\${c}`);
}

/** A table cell: `|` would end it. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function lines(out: readonly string[]): string {
  return `${out.join('\n')}\n`;
}
