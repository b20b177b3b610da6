#!/usr/bin/env node
/**
 * `secret-steward <command> [options]`: the one CLI and the container entrypoint.
 * Each CronJob sets only `args` (e.g. `["backup"]`).
 */
import type { AnyCommand } from '../shared/runtime/command.js';

const REQUIRED_NODE_MAJOR = 22;

async function main(argv: string[]): Promise<number> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < REQUIRED_NODE_MAJOR) {
    process.stderr.write(
      `secret-steward needs Node.js ${REQUIRED_NODE_MAJOR} or newer (24 LTS recommended); this is ${process.version}.\n` +
        "Run it through npm (npm run cli -- <command>), which uses the project's Node 24, or install Node 24.\n",
    );
    return 2;
  }
  const { COMMANDS } = await import('./commands.js');
  const { runCommand } = await import('../shared/runtime/command.js');
  const { TOOL_VERSION } = await import('../shared/runtime/version.js');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help']);
    process.stdout.write(topLevelHelp(COMMANDS));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`secret-steward ${TOOL_VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.help.name === name);
  if (command === undefined) {
    const { nearest } = await import('../shared/config/nearest.js');
    const suggestions = nearest(
      name,
      COMMANDS.map((c) => c.help.name),
      { words: true },
    );
    const hint = suggestions.length > 0 ? ` (did you mean ${suggestions.join(' or ')}?)` : '';
    process.stderr.write(`secret-steward: unknown command "${name}"${hint}. Run 'secret-steward --help' for the list.\n`);
    return 2;
  }
  return runCommand(command, rest);
}

function topLevelHelp(commands: readonly AnyCommand[]): string {
  const width = Math.max(...commands.map((c) => c.help.name.length)) + 2;
  return [
    'Usage: secret-steward <command> [options]',
    '',
    'Kubernetes Secret lifecycle jobs: scheduled rotation with verified rollouts, OpenPGP-encrypted',
    'backups to S3-compatible storage, and restore drills that prove the backups come back.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.help.name.padEnd(width)}${c.help.summary}`),
    `  ${'version'.padEnd(width)}Print the version.`,
    '',
    "Run 'secret-steward <command> --help' for a command's options. Every option can also be set as",
    'an environment variable: SECRET_STEWARD_ + the option name in capitals, - as _ (flags win).',
    '',
    'Exit codes:',
    '  0    success',
    '  1    the run finished but some items failed, or a verification check failed',
    '  2    configuration or usage error (never worth a retry)',
    '  3    another run holds the lock; nothing was done',
    '  4    transient infrastructure failure (API server or storage unreachable after retries)',
    '  143  stopped by SIGTERM/SIGINT at a safe point; a rerun resumes',
    '',
  ].join('\n');
}

process.exitCode = await main(process.argv.slice(2));
