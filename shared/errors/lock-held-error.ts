import { ExitCode } from './exit-codes.js';
import { StewardError } from './steward-error.js';

/** Another run holds the job's Lease. Nothing was done. Exit code 3. */
export class LockHeldError extends StewardError {
  readonly holder: string;

  constructor(lease: string, holder: string, renewTime: string | undefined) {
    super(`another run holds lock ${lease} (holder ${holder}${renewTime ? `, renewed ${renewTime}` : ''}); nothing was done`, {
      exitCode: ExitCode.LockHeld,
    });
    this.holder = holder;
  }
}
