import { ExitCode } from './exit-codes.js';
import { StewardError } from './steward-error.js';

/** One problem with one setting: which setting (flag and env var) and what was expected. */
export interface ConfigProblem {
  /** The setting as the user knows it, e.g. `--store / SECRET_STEWARD_STORE`. */
  setting: string;
  /** What is wrong and the expected form, e.g. `expected s3://bucket/prefix or file:///path`. */
  message: string;
}

/**
 * Invalid configuration or usage. Carries every problem found, so that one run reports all
 * of them at once. Exit code 2: retrying cannot help.
 */
export class ConfigError extends StewardError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], heading = 'invalid configuration') {
    const lines = problems.map((p) => `  - ${p.setting}: ${p.message}`);
    super(`${heading} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, {
      exitCode: ExitCode.Config,
    });
    this.problems = problems;
  }

  /** Convenience for a single problem. */
  static single(setting: string, message: string): ConfigError {
    return new ConfigError([{ setting, message }]);
  }
}
