import { stringSetting } from '../config/options.js';
import { errorText } from '../errors/index.js';
import type { Logger } from '../log/index.js';

/** One gauge value to push. */
export interface MetricSample {
  /** Full metric name, e.g. `secret_steward_backup_items`. */
  name: string;
  help: string;
  value: number;
}

export const metricsSettings = {
  pushgateway: stringSetting({
    description:
      'Prometheus Pushgateway base URL (e.g. http://pushgateway.monitoring:9091). When set, each run pushes its result metrics there.',
    valueName: 'URL',
    pattern: /^https?:\/\/[^\s/]+/,
    expected: 'an http:// or https:// URL',
    group: 'Metrics',
  }),
} as const;

/**
 * Pushes gauges to a Prometheus Pushgateway under `job` and a grouping (e.g. the cluster).
 * Uses POST (pushAdd): metrics not included in this push keep their previous values, so a
 * failed run that omits `..._last_success_timestamp_seconds` leaves the last success visible.
 * Never fails the run: a push that fails is logged as a warning.
 */
export async function pushMetrics(
  url: string,
  job: string,
  grouping: Record<string, string>,
  samples: readonly MetricSample[],
  log: Logger,
): Promise<boolean> {
  const where = withoutCredentials(url);
  // Loaded only when metrics are pushed: prom-client costs ~20 MiB of memory in every job otherwise.
  const { Gauge, Pushgateway, Registry } = await import('prom-client');
  const registry = new Registry();
  for (const s of samples) {
    const g = new Gauge({ name: s.name, help: s.help, registers: [registry] });
    g.set(s.value);
  }
  try {
    const gateway = new Pushgateway(url, { timeout: 10_000 }, registry);
    await gateway.pushAdd({ jobName: job, groupings: grouping });
    log.debug({ pushgateway: where, job, metrics: samples.length }, 'metrics pushed');
    return true;
  } catch (err) {
    log.warn({ pushgateway: where, job, reason: errorText(err) }, 'could not push metrics to the Pushgateway');
    return false;
  }
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
