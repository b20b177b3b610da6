import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
/** Run with this Node (the project's), not whatever `node` the PATH finds first. */
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

/** Runs the project's layer rule over a small tree of files; returns the rules it names. */
async function violations(files: Record<string, string>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ss-layers-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    await mkdir(join(dir, 'jobs'), { recursive: true });
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
    // The JSON reporter exits 0 and lists the violations; the `err` one (npm run layers) exits non-zero.
    const { stdout } = await run(
      process.execPath,
      [DEPCRUISE, '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json', 'shared', 'jobs'],
      {
        cwd: dir,
      },
    );
    const out = JSON.parse(stdout) as { summary: { violations: { rule: { name: string } }[] } };
    return [...new Set(out.summary.violations.map((v) => v.rule.name))].sort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('tooling/layers (.dependency-cruiser.cjs)', function () {
  this.timeout(60_000);

  it('accepts imports from lower floors only', async () => {
    const found = await violations({
      'shared/errors/e.ts': 'export const e = 1;\n',
      'shared/kube/k.ts': "import { e } from '../errors/e.js';\nexport const k = e;\n",
      'shared/status/s.ts': "import { k } from '../kube/k.js';\nexport const s = k;\n",
      'jobs/j.ts': "import { s } from '../shared/status/s.js';\nexport const j = s;\n",
    });

    assert.deepEqual(found, []);
  });

  const cases: { title: string; files: Record<string, string>; rules: string[] }[] = [
    {
      title: 'an upward import (errors -> status), also when it is a type only',
      files: {
        'shared/status/s.ts': 'export type S = number;\n',
        'shared/errors/e.ts': "import type { S } from '../status/s.js';\nexport type E = S;\n",
      },
      rules: ['layer-errors'],
    },
    {
      title: 'an import between peers on one floor (kube -> storage)',
      files: {
        'shared/storage/o.ts': 'export const o = 1;\n',
        'shared/kube/k.ts': "import { o } from '../storage/o.js';\nexport const k = o;\n",
      },
      rules: ['layer-kube'],
    },
    {
      title: 'a folder-level cycle no single file closes (verify-restore <-> rotate)',
      files: {
        'shared/rotate/a.ts': "import { b } from '../verify-restore/b.js';\nexport const a = 1 + b;\n",
        'shared/verify-restore/b.ts': 'export const b = 1;\n',
        'shared/verify-restore/c.ts': "import { a } from '../rotate/a.js';\nexport const c = a;\n",
      },
      rules: ['layer-rotate', 'layer-verify-restore'],
    },
    {
      title: 'a folder that has no floor',
      files: {
        'shared/misc/m.ts': "import { e } from '../errors/e.js';\nexport const m = e;\n",
        'shared/errors/e.ts': 'export const e = 1;\n',
      },
      rules: ['shared-folders-known'],
    },
    {
      title: 'shared/ importing an entrypoint in jobs/',
      files: { 'jobs/j.ts': 'export const j = 1;\n', 'shared/status/s.ts': "import { j } from '../../jobs/j.js';\nexport const s = j;\n" },
      rules: ['jobs-are-entrypoints', 'layer-status'],
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.title}`, async () => {
      assert.deepEqual(await violations(c.files), c.rules);
    });
  }
});
