/**
 * Process exit codes shared by every job and command. They are part of the public contract:
 * CronJob `podFailurePolicy` rules and alerting depend on them.
 */
export const ExitCode = {
  /** Everything the run set out to do succeeded. */
  Success: 0,
  /** The run finished, but some items failed or a verification check failed. */
  Failed: 1,
  /** Configuration or usage error. Never worth a retry: fix the settings. */
  Config: 2,
  /** Another run holds the lock; nothing was done. */
  LockHeld: 3,
  /** Transient infrastructure failure (API server or storage unreachable after retries). */
  Transient: 4,
  /** Stopped by SIGTERM/SIGINT at a safe point before finishing (128 + 15, the shell convention). */
  Interrupted: 143,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code means, in one line each: `secret-steward --help` and docs/cli/ list them. */
export const EXIT_CODE_MEANINGS: readonly (readonly [ExitCodeValue, string])[] = [
  [ExitCode.Success, 'success'],
  [ExitCode.Failed, 'the run finished but some items failed, or a verification check failed'],
  [ExitCode.Config, 'configuration or usage error (never worth a retry)'],
  [ExitCode.LockHeld, 'another run holds the lock; nothing was done'],
  [ExitCode.Transient, 'transient infrastructure failure (API server or storage unreachable after retries)'],
  [ExitCode.Interrupted, 'stopped by SIGTERM/SIGINT at a safe point; a rerun resumes'],
];
