import { ExitCode } from './exit-codes.js';
import { StewardError } from './steward-error.js';

/**
 * Raised at a safe point after SIGTERM/SIGINT (or after the run's Lease was lost): work stops
 * there, nothing is left half-written, and the run exits 143.
 */
export class InterruptedError extends StewardError {
  constructor(reason: string) {
    super(`stopped before finishing: ${reason}`, { exitCode: ExitCode.Interrupted });
  }
}
