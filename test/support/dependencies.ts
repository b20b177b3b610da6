import { spawnSync } from 'node:child_process';

/**
 * What a test does when a program it drives is missing. On a developer's machine it skips,
 * saying what to install. Under `CI=true` it fails: CI installs every dependency (`.ci/run`),
 * so a missing one is a broken CI, and a test that silently did nothing must not count as run.
 */
export function requireDependency(ctx: Mocha.Context, what: string, available: boolean, install: string): void {
  if (available) return;
  const message = `${what} is missing (${install})`;
  if (process.env.CI === 'true') throw new Error(`${message}: under CI=true a missing test dependency is a failure`);
  ctx.skip();
}

/** True when `command args` runs and exits 0. */
export function commandRuns(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** True when this process may read and write as an unprivileged user through `setpriv` (needs root). */
export function canDropPrivileges(): boolean {
  return process.getuid?.() === 0 && commandRuns('setpriv', ['--version']);
}
