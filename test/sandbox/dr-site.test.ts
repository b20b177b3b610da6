import assert from 'node:assert/strict';
import { runWalkthrough } from './doc-walkthrough.js';

const FLEET = ['prod-eu-west-1', 'prod-us-east-1', 'staging-eu-west-1'];

/**
 * docs/dr-site.md, "Walkthrough in the sandbox", run as written (runWalkthrough, which states
 * the two differences: no `npm ci`, and a fresh temporary sandbox directory).
 */
describe('test/sandbox: docs/dr-site.md, from an empty DR cluster to a passing fleet drill', function () {
  this.timeout(900_000);

  it('installs the DR-site overlay, backs up three clusters, drills them as one Indexed Job, and status shows the fleet', async () => {
    await runWalkthrough(
      { doc: 'docs/dr-site.md', marker: 'dr-site', docDir: '/tmp/secret-steward-dr-site', tmpPrefix: 'ss-dr-site-' },
      ({ out, text }) => {
        assert.match(out, /installed: +manifests\/overlays\/dr-site-verify-only and the key Secrets/);
        assert.match(text, /^Indexed completions=3 parallelism=2$/m);
        assert.deepEqual(text.match(/^secret-steward-drill-\d(?= )/gm), [
          'secret-steward-drill-0',
          'secret-steward-drill-1',
          'secret-steward-drill-2',
        ]);
        // One drill per cluster, each in its own drill namespace, all passed; the Job completed every index.
        FLEET.forEach((cluster, i) => {
          assert.match(text, new RegExp(`DR drill PASSED for backup \\S+ .* of cluster ${cluster} \\(fleet index ${i} of 3\\)`));
          assert.match(text, new RegExp(`Secrets created in namespace secret-steward-drill-${i}, read back byte-identical`));
        });
        assert.match(text, /"msg":"Job complete"/);
        assert.match(text, /"completedIndexes":"0-2","failedIndexes":""/);
        assert.match(text, /^secret-steward-verify-restore-manual-\d{8}-\d{6} completedIndexes=0-2$/m);
        // status: one row per cluster, fresh and drilled, nothing overdue.
        for (const cluster of FLEET)
          assert.match(text, new RegExp(`^${cluster} +\\d{8}T\\d{6}Z-[0-9a-f]{6} \\(.+ ago\\) +ok +\\S+ ago +pass +ok +\\d+\\.\\ds$`, 'm'));
        assert.match(text, /^Nothing overdue\.$/m);
      },
    );
  });
});
