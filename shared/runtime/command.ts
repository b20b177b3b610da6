import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type CommandHelp, renderHelp } from '../config/help.js';
import type { SettingsOf, SettingsSpec } from '../config/options.js';
import { type ParsedArgs, parseSettings } from '../config/parse.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import type { ConfigProblem } from '../errors/index.js';
import { ConfigError, errorText, exitCodeFor, StewardError } from '../errors/index.js';
import { createLogger, type Logger, type LogSink, redactor, type StatusLine, stderrSink, TerminalStatusLine } from '../log/index.js';
import { type LogSettings, resolveLogFormat } from '../log/log-settings.js';
import { type Clock, systemClock } from './clock.js';
import { Shutdown } from './shutdown.js';

/** Process-level things a command needs; tests and the sandbox demo supply their own. */
export interface CommandIO {
  env: NodeJS.ProcessEnv;
  /** Command output (reports, plans, tables). */
  stdout: { write(text: string): unknown };
  /** Human-readable problems (configuration errors). Logs go to `logSink`. */
  stderr: { write(text: string): unknown };
  /** Where log lines go. @default stderr */
  logSink?: LogSink;
  /**
   * stderr is a terminal: `--log-format auto` writes text lines, and long runs redraw a progress
   * line on `stderr` (log lines still go to `logSink`, each on a clean line). @default false;
   * {@link defaultIO}: `process.stderr.isTTY`
   */
  stderrIsTTY?: boolean;
  /** The terminal's width, for the progress line. */
  columns?: () => number | undefined;
  clock?: Clock;
  /** Install SIGTERM/SIGINT handlers. @default true */
  handleSignals?: boolean;
  /** A Shutdown to use instead of a fresh one (tests trigger it to simulate SIGTERM). */
  shutdown?: Shutdown;
}

/** What `run` receives besides its settings. */
export interface CommandContext {
  /** The command's name (`rotate`): its log lines' `job`, its requests' User-Agent and fieldManager. */
  command: string;
  io: CommandIO;
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
  /** Pod name in a cluster (HOSTNAME), else the host name: Lease holder and Event instance. */
  identity: string;
  /** Unique id of this run, in every log line. */
  runId: string;
  /** A line redrawn in place on stderr: only when stderr is a terminal (see `Progress`). */
  statusLine?: StatusLine;
}

/**
 * One way to wire a command, so that a new command is a copy of an existing one. Each
 * `secret-steward <command>` is three files named for it (`backup`: shared/backup/backup-*.ts):
 *
 * - `shared/<domain>/<command>-settings.ts`: `<command>Settings`, the settings table (its own
 *   settings plus the shared groups it spreads: `storeSettings`, `kubeSettings`, `lockSettings`,
 *   `logSettings`...), `validate<Command>Settings`, the cross-setting checks, and
 *   `type <Command>Settings = SettingsOf<typeof <command>Settings>`.
 * - `shared/<domain>/<command>-job.ts`: `run<Command>Job(settings, ctx)` builds the dependencies
 *   from the settings, runs, and returns the exit code.
 * - `jobs/<command>.ts`: `export const <command>Command = defineCommand({ help, settings,
 *   validate, run })` with the command's help text, a `run` that imports the job module when it
 *   runs (so `--help` and the command list never load it), and the entrypoint line
 *   `if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(...)`.
 *
 * Then list the command in `jobs/commands.ts` and run `npm run docs:cli` for its reference page.
 */
export interface Command<S extends SettingsSpec> {
  /** Name, summary, description, examples: `--help`, the command list and docs/cli/ read them. */
  help: CommandHelp;
  settings: S;
  maxPositionals?: number;
  /** Cross-setting checks; every problem is reported together with the per-setting ones. */
  validate?: (settings: SettingsOf<S>) => ConfigProblem[];
  run: (settings: SettingsOf<S>, ctx: CommandContext, positionals: string[]) => Promise<ExitCodeValue>;
}

/**
 * A command whose settings type does not matter to the caller (the CLI's command table, test
 * harnesses): `run` takes its own settings type, so no narrower common type exists.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above; runCommand checks settings against the command's own table
export type AnyCommand = Command<any>;

/** Identity helper: keeps the settings type of a command literal. */
export function defineCommand<S extends SettingsSpec>(cmd: Command<S>): Command<S> {
  return cmd;
}

export function defaultIO(): CommandIO {
  return {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    stderrIsTTY: process.stderr.isTTY === true,
    columns: () => process.stderr.columns,
  };
}

/**
 * Runs a command the same way for the CLI, the CronJob entrypoints, tests and the demo:
 * parse and validate settings (all problems at once, exit 2), set up logging and SIGTERM
 * handling, run, and map any error to the documented exit code. Never throws.
 */
export async function runCommand<S extends SettingsSpec>(
  cmd: Command<S>,
  argv: readonly string[],
  io: CommandIO = defaultIO(),
): Promise<ExitCodeValue> {
  let parsed: ParsedArgs<S>;
  try {
    parsed = parseSettings(cmd.settings, argv, io.env, { maxPositionals: cmd.maxPositionals, validate: cmd.validate });
  } catch (e) {
    if (e instanceof ConfigError) return reportConfigError(cmd, e.message, io);
    throw e;
  }
  if (parsed.help) {
    io.stdout.write(renderHelp(cmd.help, cmd.settings));
    return ExitCode.Success;
  }
  const runId = randomUUID().slice(0, 8);
  const identity = io.env.POD_NAME || io.env.HOSTNAME || hostname();
  const { logLevel = 'info', logFormat = 'auto' } = parsed.settings as Partial<LogSettings>;
  const format = resolveLogFormat(logFormat, io.stderrIsTTY === true, io.env);
  const statusLine = io.stderrIsTTY ? new TerminalStatusLine(io.stderr, io.columns) : undefined;
  const sink = statusLine ? statusLine.around(io.logSink ?? stderrSink()) : io.logSink;
  const log = createLogger({ level: logLevel, format, sink, base: { job: cmd.help.name, run: runId } });
  for (const d of parsed.deprecations) log.warn({ setting: d.new, deprecated: d.old }, `${d.old} is deprecated: use ${d.new}`);
  const shutdown = io.shutdown ?? new Shutdown();
  const removeHandlers = io.handleSignals === false ? () => {} : shutdown.installSignalHandlers(log);
  const ctx: CommandContext = {
    command: cmd.help.name,
    io,
    log,
    clock: io.clock ?? systemClock,
    shutdown,
    identity,
    runId,
    ...(statusLine ? { statusLine } : {}),
  };
  try {
    return await cmd.run(parsed.settings, ctx, parsed.positionals);
  } catch (e) {
    const code = exitCodeFor(e);
    // Found while running (an unreadable key file, a missing namespace, a bucket that does not
    // exist): reported like a bad flag.
    if (code === ExitCode.Config) return reportConfigError(cmd, errorText(e), io);
    if (code === ExitCode.Interrupted) log.warn({ err: e }, 'run interrupted');
    else if (e instanceof StewardError) log.error({ err: e, exitCode: code }, e.message);
    else log.error({ err: e, exitCode: code }, 'unexpected failure');
    return code;
  } finally {
    statusLine?.clear();
    removeHandlers();
  }
}

/**
 * A configuration error (exit 2) is the operator's to fix, not a failure to investigate: its
 * message (for a ConfigError, every problem, each naming its setting) goes to stderr once,
 * with no log line and no stack trace.
 */
function reportConfigError(cmd: AnyCommand, message: string, io: CommandIO): ExitCodeValue {
  io.stderr.write(
    `secret-steward ${cmd.help.name}: ${redactor.sanitize(message)}\nRun 'secret-steward ${cmd.help.name} --help' for the options.\n`,
  );
  return ExitCode.Config;
}

/** True when this module file is the process entrypoint (ESM replacement for require.main). */
export function isEntrypoint(importMetaUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  const here = new URL(importMetaUrl).pathname;
  return here === script || here.replace(/\.[cm]?[jt]s$/, '') === script.replace(/\.[cm]?[jt]s$/, '');
}
