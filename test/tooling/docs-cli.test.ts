import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { COMMANDS } from '../../jobs/commands.js';
import { REFERENCE_DIR, referenceFiles } from '../../shared/config/reference.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The first line where two texts differ, for a message that says what changed. */
function firstDifference(committed: string, generated: string): string {
  const a = committed.split('\n');
  const b = generated.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  return `line ${at + 1}:\n  committed: ${a[at] ?? '(end of file)'}\n  generated: ${b[at] ?? '(end of file)'}`;
}

describe('tooling/docs-cli (the committed docs/cli/ is what the code generates)', () => {
  for (const f of referenceFiles(COMMANDS)) {
    const source =
      f.command === undefined ? 'the command list (jobs/commands.ts)' : `the ${f.command} command (jobs/${f.command}.ts and its settings)`;
    it(`${f.path}`, async () => {
      const committed = await readFile(join(ROOT, f.path), 'utf8').catch(() => undefined);

      assert.ok(committed !== undefined, `${f.path} is missing: run npm run docs:cli and commit it`);
      assert.ok(
        committed === f.text,
        `${f.path} is out of date with ${source}: run npm run docs:cli and commit the result\n${firstDifference(committed, f.text)}`,
      );
    });
  }

  it(`${REFERENCE_DIR}/ holds no page of a command that no longer exists`, async () => {
    const wanted = new Set(referenceFiles(COMMANDS).map((f) => f.path));

    const stale = (await readdir(join(ROOT, REFERENCE_DIR))).map((name) => `${REFERENCE_DIR}/${name}`).filter((path) => !wanted.has(path));

    assert.deepEqual(stale, [], 'run npm run docs:cli, which removes them');
  });
});
