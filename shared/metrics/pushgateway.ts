import { stringSetting } from '../config/options.js';
import { errorText } from '../errors/index.js';
import type { Logger } from '../log/index.js';

import { type MetricSample, type PushingCommand, pushJobName } from './catalogue.js';

export const metricsSettings = {
  pushgateway: stringSetting({
    description:
      'Prometheus Pushgateway base URL (e.g. http://pushgateway.monitoring:9091). When set, each run pushes its result metrics there, grouped by --cluster-name (docs/monitoring.md).',
    valueName: 'URL',
    pattern: /^https?:\/\/[^\s/]+/,
    expected: 'an http:// or https:// URL',
    group: 'Metrics',
  }),
} as const;

/**
 * Pushes gauges to a Prometheus Pushgateway under the command's job (`secret-steward-<command>`)
 * and the `cluster` grouping label, so clusters sharing a Pushgateway never overwrite each other.
 * Uses POST (pushAdd): metrics not included in this push keep their previous values, so a
 * failed run that omits `..._last_success_timestamp_seconds` leaves the last success visible.
 * Never fails the run: a push that fails is logged as a warning.
 */
export async function pushMetrics(
  url: string,
  command: PushingCommand,
  cluster: string,
  samples: readonly MetricSample[],
  log: Logger,
): Promise<boolean> {
  const where = withoutCredentials(url);
  const job = pushJobName(command);
  // Loaded only when metrics are pushed: prom-client costs ~20 MiB of memory in every job otherwise.
  const { Gauge, Pushgateway, Registry } = await import('prom-client');
  const registry = new Registry();
  const gauges = new Map<string, InstanceType<typeof Gauge>>();
  for (const s of samples) {
    let g = gauges.get(s.metric.name);
    if (g === undefined) {
      g = new Gauge({ name: s.metric.name, help: s.metric.help, labelNames: Object.keys(s.metric.labels), registers: [registry] });
      gauges.set(s.metric.name, g);
    }
    g.set(s.labels ?? {}, s.value);
  }
  try {
    const gateway = new Pushgateway(url, { timeout: 10_000 }, registry);
    await gateway.pushAdd({ jobName: job, groupings: { cluster } });
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
