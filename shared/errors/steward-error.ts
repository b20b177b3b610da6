import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/**
 * Base class of every error secret-steward raises on purpose. Messages name the operation
 * and the object ("failed to replace Secret payments/db-creds: ...") and never contain a
 * secret value. The exit code a run ends with when this error aborts it is carried here so
 * that one function (`exitCodeFor`) can map any error to an exit code.
 */
export class StewardError extends Error {
  readonly exitCode: ExitCodeValue;

  constructor(message: string, options: { cause?: unknown; exitCode?: ExitCodeValue } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.Failed;
  }
}
