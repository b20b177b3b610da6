import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandRuns } from './dependencies.js';

/** True when Prometheus's promtool (Debian's prometheus package) is installed. */
export function hasPromtool(): boolean {
  return commandRuns('promtool', ['--version']);
}

export const PROMTOOL_INSTALL = 'apt-get install prometheus (it ships promtool)';

/** Runs `promtool args` in `cwd`; its exit status and everything it printed. */
export function promtool(args: readonly string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A fresh temporary directory, and its removal. */
export function scratchDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'steward-promtool-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
