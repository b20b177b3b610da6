import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A page's sandbox walkthrough: two `sh` blocks, after `<!-- MARKER: start -->` and `<!-- MARKER: steps -->`. */
export interface Walkthrough {
  /** The page, relative to the repository root (README.md, docs/dr-site.md). */
  doc: string;
  /** The comment marker naming its blocks (one-off-jobs, dr-site). */
  marker: string;
  /** The sandbox directory the page uses; the run uses a fresh one in its place. */
  docDir: string;
  /** The prefix of that fresh temporary directory. */
  tmpPrefix: string;
}

/** What the walkthrough printed: the sandbox shell's output (`out`) and the steps' (`text`). */
export interface WalkthroughOutput {
  out: string;
  text: string;
  steps: string[];
}

function block(markdown: string, w: Walkthrough, name: string): string[] {
  const m = new RegExp(`<!-- ${w.marker}: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(markdown);
  assert.ok(m, `${w.doc} has no block "${name}"`);
  return m[1].split('\n').filter((l) => l.trim() !== '');
}

/**
 * Runs a page's walkthrough as written: the start block in one shell (the sandbox, until it
 * prints "sandbox ready"), the steps block in another, stopping at the first failing line, then
 * `check` on what they printed while the sandbox still runs. Two differences, both stated here:
 * `npm ci` (the start block's first line) is not run, as this checkout has its node_modules,
 * and the sandbox directory is a fresh temporary one instead of `docDir`.
 */
export async function runWalkthrough(w: Walkthrough, check: (o: WalkthroughOutput) => void): Promise<void> {
  const markdown = readFileSync(join(ROOT, w.doc), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), w.tmpPrefix));
  const start = block(markdown, w, 'start');
  const steps = block(markdown, w, 'steps');
  assert.equal(start[0], 'npm ci');
  const here = (line: string) => line.replaceAll(w.docDir, dir);
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

    for (const l of steps) assert.ok(result.stdout.includes(`+ ${l}`), `step not run: ${l}`);
    check({ out, text: result.stdout, steps });
  } finally {
    if (sandbox.pid !== undefined && sandbox.exitCode === null) process.kill(-sandbox.pid, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
