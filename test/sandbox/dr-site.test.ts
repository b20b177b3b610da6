import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = join(ROOT, 'docs/dr-site.md');
/** The sandbox directory the page uses; the test uses a fresh one in its place. */
const DOC_DIR = '/tmp/secret-steward-dr-site';
const FLEET = ['prod-eu-west-1', 'prod-us-east-1', 'staging-eu-west-1'];

/** The lines of the `sh` block after `<!-- dr-site: NAME -->`. */
function block(markdown: string, name: string): string[] {
  const m = new RegExp(`<!-- dr-site: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(markdown);
  assert.ok(m, `docs/dr-site.md has no block "${name}"`);
  return m[1].split('\n').filter((l) => l.trim() !== '');
}

/**
 * docs/dr-site.md, "Walkthrough in the sandbox", run as written, the way
 * test/sandbox/one-off-jobs.test.ts runs the README's: the first block in one shell (until
 * "sandbox ready"), the second in another, stopping at the first failing line. The same two
 * differences: no `npm ci`, and a fresh temporary directory instead of DOC_DIR.
 */
describe('test/sandbox: docs/dr-site.md, from an empty DR cluster to a passing fleet drill', function () {
  this.timeout(900_000);

  it('installs the DR-site overlay, backs up three clusters, drills them as one Indexed Job, and status shows the fleet', async () => {
    const markdown = readFileSync(DOC, 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'ss-dr-site-'));
    const start = block(markdown, 'start');
    const steps = block(markdown, 'steps');
    assert.equal(start[0], 'npm ci');
    const here = (line: string) => line.replaceAll(DOC_DIR, dir);
    const sandbox = spawn('bash', ['-c', start.slice(1).map(here).join('\n')], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sandbox.stdout.on('data', (d) => (out += String(d)));
    sandbox.stderr.on('data', (d) => (out += String(d)));
    const exited = new Promise<void>((r) => sandbox.once('exit', () => r()));
    try {
      const deadline = Date.now() + 120_000;
      while (!out.includes('sandbox ready')) {
        if (Date.now() > deadline || sandbox.exitCode !== null) assert.fail(`no "sandbox ready" in: ${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }

      const script = ['set -euo pipefail', 'exec 2>&1', ...steps.map((l) => `echo "+ ${l.replaceAll('"', '\\"')}"; ${here(l)}`)].join('\n');
      const result = await promisify(execFile)('bash', ['-c', script], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        maxBuffer: 64 * 1024 * 1024,
      }).catch((e: { stdout?: string; code?: number }) => assert.fail(`a step failed (exit ${e.code}):\n${e.stdout ?? ''}`));
      const text = result.stdout;

      assert.match(out, /installed: +manifests\/overlays\/dr-site-verify-only and the key Secrets/);
      for (const l of steps) assert.ok(text.includes(`+ ${l}`), `step not run: ${l}`);
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
    } finally {
      if (sandbox.pid !== undefined && sandbox.exitCode === null) process.kill(-sandbox.pid, 'SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
