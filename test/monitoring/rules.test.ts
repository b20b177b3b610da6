import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { requireDependency } from '../support/dependencies.js';
import { hasPromtool, PROMTOOL_INSTALL, promtool, scratchDir } from '../support/promtool.js';
import { metricNamesIn, monitoringObjects, type RuleGroup, unknownMetrics } from './monitoring.js';

const RULES_TEST = fileURLToPath(new URL('rules-test.yaml', import.meta.url));

interface RulesTestFile {
  tests: Array<{
    name: string;
    input_series: Array<{ series: string }>;
    alert_rule_test: Array<{ alertname: string; exp_alerts: Array<{ exp_labels: Record<string, string> }> }>;
  }>;
}

describe('monitoring: the PrometheusRule', function () {
  // promtool test rules evaluates days of series minute by minute: tens of seconds.
  this.timeout(300_000);
  let groups: RuleGroup[];
  let work: ReturnType<typeof scratchDir>;
  before(async () => {
    const { rule } = await monitoringObjects();
    groups = rule.spec.groups;
    work = scratchDir();
    // promtool reads plain rule files: the manifest's spec.groups, unchanged.
    writeFileSync(join(work.dir, 'rules.yaml'), stringify({ groups }));
    copyFileSync(RULES_TEST, join(work.dir, 'rules-test.yaml'));
  });
  after(() => work?.remove());

  const alerts = () => groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

  it('is a PrometheusRule with only spec.groups (promtool checks what is in them)', async () => {
    const { rule } = await monitoringObjects();

    assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
    assert.deepEqual(Object.keys(rule.spec), ['groups']);
    assert.ok(alerts().length > 0);
  });

  it('queries only metrics the jobs push (shared/metrics/catalogue.ts)', () => {
    for (const a of alerts()) {
      assert.ok(metricNamesIn(a.expr).length > 0, `${a.alert} queries no secret-steward metric`);
      assert.deepEqual(unknownMetrics(a.expr), [], a.alert);
    }
  });

  it('passes promtool check rules', function () {
    requireDependency(this, 'promtool', hasPromtool(), PROMTOOL_INSTALL);

    const r = promtool(['check', 'rules', 'rules.yaml'], work.dir);

    assert.equal(r.status, 0, r.output);
  });

  it('passes promtool test rules (test/monitoring/rules-test.yaml)', function () {
    requireDependency(this, 'promtool', hasPromtool(), PROMTOOL_INSTALL);

    const r = promtool(['test', 'rules', 'rules-test.yaml'], work.dir);

    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  it('tests every alert firing, not firing at another time, and not firing for a healthy cluster', () => {
    const file = parse(readFileSync(RULES_TEST, 'utf8')) as RulesTestFile;
    const missing: string[] = [];

    for (const a of alerts()) {
      const cases = file.tests.flatMap((t) => t.alert_rule_test.filter((c) => c.alertname === a.alert).map((c) => ({ t, c })));
      const firing = cases.filter(({ c }) => c.exp_alerts.length > 0);
      if (firing.length === 0) missing.push(`${a.alert}: no case where it fires`);
      if (!cases.some(({ c }) => c.exp_alerts.length === 0)) missing.push(`${a.alert}: no case where it must not fire`);
      // A cluster with series that the firing case does not expect to alert: the must-not-fire series.
      const healthy = firing.some(({ t, c }) => {
        const alerting = new Set(c.exp_alerts.map((e) => e.exp_labels.cluster));
        return t.input_series.some((s) => !alerting.has(/cluster="([^"]+)"/.exec(s.series)?.[1] ?? ''));
      });
      if (!healthy) missing.push(`${a.alert}: no series beside the firing ones that must stay quiet`);
    }

    assert.deepEqual(missing, []);
  });
});
