import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { StewardError } from './steward-error.js';

/**
 * The one place that maps an error that aborted a run to the process exit code.
 * Our own errors carry their code; anything else is an unexpected failure (1).
 */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof StewardError) return error.exitCode;
  return ExitCode.Failed;
}
