/** What the monitoring tests share: the rendered component, and the metric names a query uses. */
import { ALL_METRICS, type MetricDefinition } from '../../shared/metrics/catalogue.js';
import { type ManifestObject, renderManifests } from '../manifests/render.js';

export const MONITORING_COMPONENT = 'manifests/components/monitoring';
export const MONITORING_OVERLAY = 'manifests/overlays/monitoring';

export interface RuleGroup {
  name: string;
  rules: Array<{ alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> }>;
}

/** The PrometheusRule and the dashboard ConfigMap, as `kubectl kustomize` renders the overlay. */
export async function monitoringObjects(): Promise<{
  rule: ManifestObject & { spec: { groups: RuleGroup[] } };
  dashboard: ManifestObject;
}> {
  const objects = await renderManifests(MONITORING_OVERLAY);
  const rule = objects.find((o) => o.kind === 'PrometheusRule');
  const dashboard = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'secret-steward-dashboard');
  if (rule === undefined || dashboard === undefined)
    throw new Error(`${MONITORING_OVERLAY} renders no PrometheusRule or no dashboard ConfigMap`);
  return { rule: rule as ManifestObject & { spec: { groups: RuleGroup[] } }, dashboard };
}

/** The `secret_steward_` metric names a PromQL expression mentions. */
export function metricNamesIn(expr: string): string[] {
  return [...new Set(expr.match(/\bsecret_steward_[a-z_]+/g) ?? [])];
}

/** The names of {@link metricNamesIn} that no job pushes. */
export function unknownMetrics(expr: string): string[] {
  const known = new Set(ALL_METRICS.map((m) => m.name));
  return metricNamesIn(expr).filter((n) => !known.has(n));
}

const labelsOf = (m: MetricDefinition) =>
  Object.entries(m.labels)
    .map(([k, v]) => (v === 'fingerprint' ? `\`${k}\` (OpenPGP fingerprint)` : `\`${k}\`: ${v.join(', ')}`))
    .join('; ') || '-';

/** The metrics table of docs/monitoring.md, generated from the catalogue. */
export function metricsTable(): string {
  const rows = ALL_METRICS.map((m) => `| \`${m.name}\` | ${labelsOf(m)} | ${m.pushedBy.join(', ')} | ${m.help} |`);
  return ['| Metric | Labels | Pushed by | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
