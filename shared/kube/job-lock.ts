import type { CommandContext } from '../runtime/command.js';
import { inClusterNamespace, type KubeClients } from './client.js';
import type { LockSettings } from './kube-settings.js';
import { LeaseLock } from './lease-lock.js';

/** The namespace holding Leases (and job-level Events): setting, pod namespace, or `secret-steward`. */
export function toolNamespace(settings: Pick<LockSettings, 'lockNamespace'>): string {
  return settings.lockNamespace ?? inClusterNamespace() ?? 'secret-steward';
}

/**
 * Runs `work` while holding the job's Lease (`secret-steward-<job>`). A lost lease stops the
 * run at its next checkpoint; the lease is released however `work` ends. `work` gets the lock
 * to record unfinished work on it (`record`) and see what a killed earlier run left (`inherited`).
 * Throws LockHeldError (exit 3) when another run holds it.
 */
export async function withJobLock<T>(
  job: string,
  settings: LockSettings,
  kube: KubeClients,
  ctx: CommandContext,
  work: (lock: LeaseLock) => Promise<T>,
): Promise<T> {
  const lock = new LeaseLock(kube.coordination, kube.caller, ctx.clock, ctx.log, {
    namespace: toolNamespace(settings),
    name: `secret-steward-${job}`,
    identity: ctx.identity,
    leaseDurationSeconds: Math.max(15, Math.round(settings.lockDuration / 1000)),
  });
  await lock.acquire();
  ctx.shutdown.link(lock.lost, 'the lock was lost to another run');
  try {
    return await work(lock);
  } finally {
    await lock.release();
  }
}
