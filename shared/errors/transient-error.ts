import { ExitCode } from './exit-codes.js';
import { StewardError } from './steward-error.js';

/**
 * Infrastructure that stayed unreachable or overloaded after the retry budget was spent
 * (API server, object store). Exit code 4: a later run may well succeed.
 */
export class TransientError extends StewardError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCode.Transient });
  }
}
