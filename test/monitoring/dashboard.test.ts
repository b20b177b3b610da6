import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ALL_METRICS } from '../../shared/metrics/catalogue.js';
import { REPO_ROOT } from '../manifests/render.js';
import { requireDependency } from '../support/dependencies.js';
import { hasPromtool, PROMTOOL_INSTALL, promtool, scratchDir } from '../support/promtool.js';
import { MONITORING_COMPONENT, metricNamesIn, monitoringObjects, unknownMetrics } from './monitoring.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string }>;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: string }> };
}

const FILE = join(REPO_ROOT, MONITORING_COMPONENT, 'grafana-dashboard.json');
const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;

/** A panel's query as Prometheus sees it once Grafana has put in the template variables. */
const expand = (expr: string) => expr.replaceAll('$cluster', '.*');

describe('monitoring: the Grafana dashboard', function () {
  this.timeout(60_000);

  it('ships in the component ConfigMap unchanged, labelled for the Grafana sidecar', async () => {
    const { dashboard: cm } = await monitoringObjects();

    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.deepEqual(JSON.parse((cm.data as Record<string, string>)['secret-steward.json']), dashboard);
  });

  it('has the schema basics: uid, title, unique panel ids, a grid position and queries on every panel', () => {
    assert.ok(dashboard.uid && dashboard.title && dashboard.schemaVersion > 0);
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'duplicate panel ids');
    for (const p of dashboard.panels) {
      assert.ok(Number.isInteger(p.id) && p.title && p.type, JSON.stringify(p));
      assert.ok(
        ['h', 'w', 'x', 'y'].every((k) => Number.isInteger(p.gridPos?.[k as 'h'])),
        `${p.title}: gridPos`,
      );
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: wider than the 24-column grid`);
      assert.equal(p.datasource?.type, 'prometheus', `${p.title}: datasource`);
      assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: duplicate refId`);
    }
  });

  it('queries only metrics the jobs push (shared/metrics/catalogue.ts), each panel at least one', () => {
    for (const p of dashboard.panels)
      for (const t of p.targets ?? []) {
        assert.ok(metricNamesIn(t.expr).length > 0, `${p.title}: ${t.expr}`);
        assert.deepEqual(unknownMetrics(t.expr), [], p.title);
      }
  });

  it('offers the clusters that pushed anything as the $cluster variable', () => {
    const cluster = dashboard.templating.list.find((v) => v.name === 'cluster');
    const selector = /^label_values\(\{__name__=~"([^"]+)"\}, cluster\)$/.exec(cluster?.query ?? '');

    assert.ok(selector, cluster?.query);
    const matching = ALL_METRICS.filter((m) => new RegExp(`^(?:${selector[1]})$`).test(m.name)).flatMap((m) => m.pushedBy);
    assert.deepEqual([...new Set(matching)].sort(), ['backup', 'prune', 'restore', 'rotate', 'verify-restore']);
  });

  it('has every query parse as PromQL (promtool check rules on them as recording rules)', function () {
    requireDependency(this, 'promtool', hasPromtool(), PROMTOOL_INSTALL);
    const work = scratchDir();
    try {
      const rules = dashboard.panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({ record: `dashboard:panel_${p.id}:${t.refId.toLowerCase()}`, expr: expand(t.expr) })),
      );
      writeFileSync(join(work.dir, 'panels.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));

      const r = promtool(['check', 'rules', 'panels.yaml'], work.dir);

      assert.equal(r.status, 0, r.output);
      assert.match(r.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      work.remove();
    }
  });
});
