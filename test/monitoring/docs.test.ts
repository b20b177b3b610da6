import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_METRICS } from '../../shared/metrics/catalogue.js';
import { REPO_ROOT } from '../manifests/render.js';
import { metricsTable, monitoringObjects } from './monitoring.js';

const DOC = join(REPO_ROOT, 'docs', 'monitoring.md');

function between(text: string, name: string): string {
  const m = new RegExp(`<!-- ${name}:begin -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(text);
  assert.ok(m, `docs/monitoring.md has no ${name} section`);
  return m[1];
}

describe('monitoring: docs/monitoring.md', () => {
  const doc = readFileSync(DOC, 'utf8');

  it('lists every metric as the catalogue defines it (regenerate it with metricsTable() of test/monitoring/monitoring.ts)', () => {
    assert.equal(between(doc, 'metrics'), metricsTable());
  });

  it('describes every alert of the PrometheusRule', async () => {
    const { rule } = await monitoringObjects();
    const documented = between(doc, 'alerts');

    for (const a of rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined))
      assert.match(documented, new RegExp(`^\\| \`${a.alert}\` \\|`, 'm'), `${a.alert} is not in the alerts table`);
  });

  it('maps every old metric name to one the catalogue has', () => {
    const rows = between(doc, 'migration')
      .split('\n')
      .slice(2)
      .map((l) => l.split('|').map((c) => c.trim()));
    const known = new Set(ALL_METRICS.map((m) => m.name));

    assert.ok(rows.length > 0);
    for (const [, , now] of rows) {
      const name = /`(secret_steward_[a-z_]+)/.exec(now)?.[1];
      assert.ok(name !== undefined && known.has(name), `migration row points to ${now}`);
    }
  });
});
