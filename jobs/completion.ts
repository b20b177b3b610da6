import { COMPLETION_SHELLS, type CompletionShell, renderCompletion } from '../shared/config/completion.js';
import { ExitCode } from '../shared/errors/exit-codes.js';
import { ConfigError } from '../shared/errors/index.js';
import { type AnyCommand, defineCommand } from '../shared/runtime/command.js';

/**
 * `secret-steward completion bash|zsh`: the shell completion script, made from the command list
 * and settings tables. jobs/commands.ts makes it with the list it belongs to (which it cannot
 * import without a cycle), so it has no entrypoint of its own.
 */
export const completionCommandFor = (commandList: () => readonly AnyCommand[]) =>
  defineCommand({
    help: {
      name: 'completion',
      summary: 'Print the shell completion script for bash or zsh.',
      usage: 'secret-steward completion bash|zsh',
      description:
        'Prints a completion script for bash or zsh on stdout: command names, every long and short option of each command, ' +
        'the values of options that take one of a few (such as -o and --log-level), and file names after an option that takes a file. ' +
        'It is generated from the same settings tables as --help, so it always matches this version.',
      examples: [
        'source <(secret-steward completion bash)   # in ~/.bashrc',
        'source <(secret-steward completion zsh)    # in ~/.zshrc',
        'secret-steward completion bash > /etc/bash_completion.d/secret-steward',
      ],
    },
    settings: {},
    maxPositionals: 1,
    run: async (_settings, ctx, positionals) => {
      const shell = positionals[0];
      if (!(COMPLETION_SHELLS as readonly string[]).includes(shell ?? ''))
        throw ConfigError.single('argument 1', `the shell: one of ${COMPLETION_SHELLS.join(', ')}`);
      const commands = commandList().map((c) => ({
        name: c.help.name,
        settings: c.settings,
        ...(c.help.name === 'completion' ? { positionals: COMPLETION_SHELLS } : {}),
      }));
      ctx.io.stdout.write(renderCompletion(shell as CompletionShell, commands));
      return ExitCode.Success;
    },
  });
