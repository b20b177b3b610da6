import assert from 'node:assert/strict';
import { mapLimit } from '../../../../shared/runtime/map-limit.js';
import type { Fault, RequestLogEntry } from '../../../emulator/index.js';
import type { RotateCluster } from './cluster.js';

/**
 * Crash injection for rotation tests: the real job runs as a child process against the
 * emulator in this process and is stopped (SIGKILL or SIGTERM) right after a chosen request
 * was answered. When the marker request arrives, every later request is stalled; as soon as
 * the step's write has been answered the child gets the signal (stalled requests are then
 * dropped, never applied, for SIGKILL; served for SIGTERM, and the job stops at its next
 * checkpoint).
 */

export type Matcher = (e: RequestLogEntry) => boolean;

/** The nth request matching `m` (1-based). */
export function nth(n: number, m: Matcher): Matcher {
  let seen = 0;
  return (e) => m(e) && ++seen === n;
}

export const is =
  (verb: string, resource: string, name?: string, namespace = 'shop'): Matcher =>
  (e) =>
    e.verb === verb && e.resource === resource && e.namespace === namespace && (name === undefined || e.name === name);

/** A protocol step to crash after: its name and the request that completes it. */
export interface Step {
  name: string;
  marker: () => Matcher;
}

/** Runs `scenario` once per step, three at a time, and fails listing every step whose scenario failed. */
export async function forEachStep(steps: readonly Step[], scenario: (step: Step) => Promise<void>): Promise<void> {
  const failures: string[] = [];
  await mapLimit(steps, 3, async (step) => {
    try {
      await scenario(step);
    } catch (e) {
      failures.push(`after ${step.name}: ${(e as Error).message}`);
    }
  });
  assert.deepEqual(failures, []);
}

export interface CrashOutcome {
  /** Exit code (SIGTERM) or null (SIGKILL). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The step's request was seen (and answered) before the signal. */
  hit: boolean;
  stderr: string;
}

/** Runs the job as a child and stops it right after the request `marker` was answered. */
export async function runAndCrash(
  c: RotateCluster,
  marker: Matcher,
  signal: 'SIGKILL' | 'SIGTERM',
  identity: string,
  args: string[] = ['--rollout-poll-interval', '100ms'],
): Promise<CrashOutcome> {
  let markerEntry: RequestLogEntry | undefined;
  let stall: Fault | undefined;
  const log = c.emulator.requests;
  const add = log.add.bind(log);
  log.add = (e: RequestLogEntry) => {
    add(e);
    if (markerEntry === undefined && marker(e)) {
      markerEntry = e;
      // Everything after the step waits (SIGTERM) or is dropped unanswered (SIGKILL); `after: 1` spares the step itself.
      stall = c.emulator.faults.inject({
        path: /.*/,
        delayMs: signal === 'SIGKILL' ? 1500 : 150,
        drop: signal === 'SIGKILL',
        times: Infinity,
        after: 1,
      });
    }
  };
  const { child, done } = c.spawnJob(args, { POD_NAME: identity });
  let exited = false;
  void done.then(() => (exited = true));
  while (!exited && (markerEntry === undefined || markerEntry.status === 0)) await new Promise((r) => setTimeout(r, 2));
  const hit = markerEntry !== undefined && markerEntry.status !== 0;
  if (!exited) child.kill(signal);
  const result = await done;
  log.add = add;
  stall?.remove();
  return { code: result.code, signal: result.signal, hit, stderr: result.stderr };
}
