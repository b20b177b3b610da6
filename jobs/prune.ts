import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';
import { logSettings } from '../shared/log/log-settings.js';
import { ExitCode } from '../shared/runtime/exit-codes.js';

/** `secret-steward prune`: not implemented yet. */
export const pruneCommand = defineCommand({
  help: {
    name: 'prune',
    summary: 'not implemented yet',
    description: 'This command is not implemented yet: it does nothing and exits 1.',
  },
  settings: { ...logSettings },
  run: async (_settings, ctx) => {
    ctx.io.stderr.write('secret-steward prune: not implemented yet\n');
    return ExitCode.Failed;
  },
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(pruneCommand, process.argv.slice(2));
