import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { backupCommand } from '../../jobs/backup.js';
import { restoreCommand } from '../../jobs/restore.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { backupKeyArgs, createDrillNamespace, drillArgs, readKeyArgs, seedMany } from '../shared/verify-restore/drill-fixtures.js';
import { commandRuns, requireDependency } from '../support/dependencies.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** `arg` quoted for sh. */
const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** The progress records of phase `name`, in order. */
function progressOf(r: RunResult, name: string): Array<Record<string, unknown>> {
  return r.records.filter((x) => x.progress === name);
}

describe('jobs: progress of backup, restore and verify-restore', function () {
  this.timeout(180_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    seedMany(h, 120, 'bulk');
    seedMany(h, 30, 'other');
  });
  afterEach(async () => h?.stop());

  async function backup(extra: string[] = []): Promise<RunResult> {
    const r = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '--page-size', '50', ...extra]);
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    return r;
  }

  it('backup: the total from the API server count (remainingItemCount), every 10%, then the real count', async () => {
    const r = await backup();

    const lines = progressOf(r, 'backup');
    const started = lines[0];
    assert.equal(started.done, 0);
    assert.equal(started.total, 150, 'counted by one metadata-only list request of one item');
    assert.equal(started.totalEstimated, true);
    assert.deepEqual(
      lines.slice(1, -1).map((x) => x.percent),
      [10, 20, 30, 40, 50, 60, 70, 80, 90],
    );
    const ended = lines.at(-1);
    assert.equal(ended?.ended, true);
    assert.equal(ended?.done, 150);
    assert.equal(ended?.total, 150);
    assert.equal(ended?.percent, 100);
    const counting = h.emulator.requests.entries.filter((e) => e.resource === 'secrets' && e.verb === 'list' && e.query.limit === '1');
    assert.equal(counting.length, 1, 'one counting request');
  });

  it('backup with a label selector: counts without a total or percent (the API server does not count)', async () => {
    const r = await backup(['--selector', 'app!=none']);

    const lines = progressOf(r, 'backup');
    assert.ok(lines.length >= 2);
    for (const x of lines) {
      assert.equal(x.total, undefined);
      assert.equal(x.percent, undefined);
    }
    assert.equal(lines.at(-1)?.done, 150);
  });

  it('restore: the totals from the index, for the verify and the write phases', async () => {
    await backup();
    h.emulator.delete('v1', 'Namespace', undefined, 'bulk');

    const r = await h.run(restoreCommand, [...h.baseArgs(), ...readKeyArgs(h), '--namespace', 'bulk', '--create-namespaces']);

    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    const verify = progressOf(r, 'restore: verify');
    assert.equal(verify[0].total, 150, 'every Secret of the backup is verified');
    assert.deepEqual(
      verify.map((x) => x.percent),
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100],
    );
    const write = progressOf(r, 'restore: write');
    assert.equal(write[0].total, 120, 'the selected Secrets are written');
    assert.equal(write.at(-1)?.done, 120);
    assert.equal(write.at(-1)?.percent, 100);
  });

  it('verify-restore: the total from the index', async () => {
    await backup();
    createDrillNamespace(h);

    const r = await h.run(verifyRestoreCommand, drillArgs(h));

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = progressOf(r, 'verify-restore');
    assert.equal(lines[0].total, 150);
    assert.equal(lines.length, 12, 'started, every 10%, ended');
    assert.equal(lines.at(-1)?.done, 150);
  });

  it('draws a progress line on stderr only when stderr is a terminal, and clears it', async () => {
    const plain = await backup();
    // JSON log lines at the terminal too (`--log-format auto` would write text lines there), to compare them.
    const tty = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '--page-size', '50', '--log-format', 'json'], {
      stderrIsTTY: true,
    });

    assert.equal(tty.code, 0, tty.stderr);
    assert.equal(plain.stderr, '', 'no terminal: nothing but the JSON log lines (in the log sink)');
    assert.match(tty.stderr, /\r\x1b\[Kbackup: 1 of about 150 \(0%\)/);
    assert.ok(tty.stderr.endsWith('\r\x1b[K'), 'the line is cleared when the run ends');
    assert.equal(tty.records.filter((x) => x.progress === 'backup').length, progressOf(plain, 'backup').length, 'the same log lines');
  });

  it('the CLI on a pseudo-terminal (script from util-linux) redraws the line; with stderr piped it writes JSON lines only', async function () {
    requireDependency(this, 'script (util-linux)', commandRuns('script', ['--version']), 'apt-get install util-linux');
    const argv = [process.execPath, '--import', 'tsx', 'jobs/cli.ts', 'backup', ...h.baseArgs(), ...backupKeyArgs(h), '--page-size', '50'];
    const env = { PATH: process.env.PATH ?? '', HOME: h.dir, POD_NAME: 'test-pod', ...h.env };

    // script runs the command on a new pseudo-terminal: stdout and stderr both reach its output.
    const onTty = await run('script', ['-qec', argv.map(quote).join(' '), '/dev/null'], { cwd: ROOT, env, timeout: 120_000 });
    const piped = await run(argv[0], argv.slice(1), { cwd: ROOT, env, timeout: 120_000 });

    assert.match(onTty.stdout, /\r\x1b\[Kbackup: \d+ of about 150 \(\d+%\)/);
    // On a terminal `--log-format auto` writes text lines, above the progress line.
    assert.match(onTty.stdout, /INFO +backup complete/, 'the log lines are still written, as text');
    assert.doesNotMatch(onTty.stdout, /"progress":"backup"/);
    assert.doesNotMatch(piped.stderr, /\x1b\[/);
    const lines = piped.stderr.trim().split('\n');
    assert.ok(
      lines.every((l) => JSON.parse(l)),
      'every stderr line is JSON',
    );
    assert.ok(lines.some((l) => JSON.parse(l).progress === 'backup' && JSON.parse(l).ended === true));
  });
});
