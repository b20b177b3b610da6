import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = join(ROOT, 'README.md');
/** The sandbox directory the page uses; the test uses a fresh one in its place. */
const DOC_DIR = '/tmp/secret-steward-sandbox';

/** The lines of the `sh` block after `<!-- one-off-jobs: NAME -->`. */
function block(markdown: string, name: string): string[] {
  const m = new RegExp(`<!-- one-off-jobs: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(markdown);
  assert.ok(m, `README.md has no block "${name}"`);
  return m[1].split('\n').filter((l) => l.trim() !== '');
}

/**
 * README.md, "One-off Jobs in the sandbox", run as written: the first block in one shell
 * (the sandbox, until it prints "sandbox ready"), the second in another, stopping at the first
 * failing line. Two differences, both stated here: `npm ci` is not run (this checkout has its
 * node_modules), and the sandbox directory is a fresh temporary one instead of DOC_DIR.
 */
describe('test/sandbox: README.md one-off Jobs, as a new user runs it', function () {
  this.timeout(900_000);

  it('installs into the sandbox, then backs up, drills and restores with arguments as one-off Jobs, showing their progress', async () => {
    const markdown = readFileSync(DOC, 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'ss-one-off-'));
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

      assert.match(out, /installed: +manifests\/base and the key Secrets/);
      // Every step ran; each run followed its Job to Complete.
      for (const l of steps) assert.ok(text.includes(`+ ${l}`), `step not run: ${l}`);
      const completed = [...text.matchAll(/"jobName":"(secret-steward-[a-z-]+-manual-[\d-]+)","condition":"Complete"/g)].map((m) => m[1]);
      assert.deepEqual(
        completed.map((n) => n.replace(/-manual-.*/, '')),
        ['secret-steward-backup', 'secret-steward-verify-restore', 'secret-steward-restore', 'secret-steward-restore'],
        text,
      );
      // Progress: the Jobs' own output, streamed while they ran, with totals.
      assert.match(text, /"progress":"backup","done":\d+,"total":\d+/);
      assert.match(text, /"progress":"verify-restore","done":\d+,"total":\d+/);
      assert.match(text, /"progress":"restore: write","done":1,"total":1,"percent":100/);
      assert.match(text, /Backup \S+ complete: \d+ Secrets/);
      assert.match(text, /"msg":"backup complete"/);
      assert.match(text, /RESTORED/);
      assert.match(text, /create +default\/demo +default\/demo +done/);
      // The restored Secret is there, and the Jobs are labelled as manual runs.
      assert.match(text, /\ndemo +Opaque +1 /);
      assert.equal(new Set(text.match(/^secret-steward-[a-z-]+-manual-\d{8}-\d{6}(?= )/gm)).size, 4, text);
    } finally {
      if (sandbox.pid !== undefined && sandbox.exitCode === null) process.kill(-sandbox.pid, 'SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
