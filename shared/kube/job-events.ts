import type { Logger } from '../log/index.js';
import type { EventRecorder, EventSubject } from './events.js';

/**
 * The object job-level Events are about. Scheduled jobs: their CronJob in the tool's namespace
 * (`kubectl describe cronjob secret-steward-backup` shows them). One-off jobs (restore): the Job
 * named by JOB_NAME (set from the pod's `batch.kubernetes.io/job-name` label by the manifests),
 * else the job's Lease, which always exists while it runs.
 */
export function jobEventSubject(job: string, namespace: string, env: NodeJS.ProcessEnv = {}, oneOff = false): EventSubject {
  if (!oneOff) return { apiVersion: 'batch/v1', kind: 'CronJob', namespace, name: `secret-steward-${job}` };
  if (env.JOB_NAME) return { apiVersion: 'batch/v1', kind: 'Job', namespace, name: env.JOB_NAME };
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name: `secret-steward-${job}` };
}

/** A key that expires soon, as the key loaders report it (crypto's KeyWarning). */
export interface ExpiringKey {
  fingerprint: string;
  expiresAt: Date;
  file: string;
  /** One line for logs, Events and reports; names the key, never its material. */
  message: string;
}

/** Logs and records (Event) warnings about keys that expire soon. */
export async function reportKeyWarnings(
  warnings: readonly ExpiringKey[],
  ctx: { log: Logger },
  events: EventRecorder | undefined,
  subject: EventSubject,
): Promise<void> {
  for (const w of warnings) {
    ctx.log.warn({ fingerprint: w.fingerprint, expiresAt: w.expiresAt.toISOString(), file: w.file }, w.message);
    await events?.record({ subject, type: 'Warning', reason: 'KeyExpiringSoon', message: w.message, action: 'CheckKeys' });
  }
}
