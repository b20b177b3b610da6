import assert from 'node:assert/strict';
import { createLogger, MemorySink, type StatusLine, TerminalStatusLine } from '../../../shared/log/index.js';
import { fixedClock } from '../../../shared/runtime/clock.js';
import { Progress } from '../../../shared/runtime/progress.js';

/** A Progress logging into memory on a clock the test moves, and the status line's draws. */
function setup(opts: { line?: boolean; intervalMs?: number } = {}) {
  const sink = new MemorySink();
  const clock = fixedClock(new Date('2026-03-01T00:00:00Z'));
  const draws: string[] = [];
  const line: StatusLine = { show: (t) => draws.push(t), clear: () => draws.push('<clear>') };
  const progress = new Progress({
    log: createLogger({ sink }),
    clock,
    intervalMs: opts.intervalMs ?? 10_000,
    ...(opts.line ? { line } : {}),
  });
  const records = () => sink.records();
  return { progress, clock, draws, records };
}

describe('shared/runtime/progress', () => {
  it('logs every 10% of a known total with done, total, percent, rate and ETA, not every item', () => {
    const { progress, clock, records } = setup();
    const phase = progress.phase('restore: write', 1000);

    for (let i = 0; i < 1000; i++) {
      clock.advance(10);
      phase.add();
    }
    phase.end();

    const lines = records();
    assert.equal(lines.length, 12, 'started, 10 steps of 10%, ended');
    assert.deepEqual(
      lines.map((r) => r.percent),
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100],
    );
    const fifth = lines[5];
    assert.equal(fifth.progress, 'restore: write');
    assert.equal(fifth.done, 500);
    assert.equal(fifth.total, 1000);
    assert.equal(fifth.perSecond, 100);
    assert.equal(fifth.etaSeconds, 5);
    assert.match(String(fifth.msg), /^restore: write: 500 of 1000 \(50%\), 100\/s, about 5s left$/);
    assert.equal(lines[11].ended, true);
    assert.equal(lines[11].done, 1000);
    assert.equal(lines[11].etaSeconds, undefined);
  });

  it('without a total logs counts only, at the interval', () => {
    const { progress, clock, records } = setup({ intervalMs: 1000 });
    const phase = progress.phase('backup');

    for (let i = 0; i < 50; i++) {
      clock.advance(100);
      phase.add();
    }
    phase.end();

    const lines = records();
    assert.deepEqual(
      lines.map((r) => r.done),
      [0, 10, 20, 30, 40, 50, 50],
    );
    for (const r of lines) {
      assert.equal(r.total, undefined);
      assert.equal(r.percent, undefined);
      assert.equal(r.etaSeconds, undefined);
    }
  });

  it('keeps an estimated total below 100% until the end, then reports the real count', () => {
    const { progress, records } = setup();
    const phase = progress.phase('backup', { total: 10, estimated: true });

    for (let i = 0; i < 10; i++) phase.add();
    const beforeEnd = records();
    phase.end();

    assert.deepEqual(
      beforeEnd.map((r) => r.percent),
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90],
      'all 10 done of an upper bound of 10 is still 99%, in the 90% step',
    );
    assert.ok(beforeEnd.every((r) => r.totalEstimated === true));
    assert.match(String(beforeEnd.at(-1)?.msg), / of about 10 \(90%\)/);
    const last = records().at(-1);
    assert.equal(last?.total, 10);
    assert.equal(last?.percent, 100);
    assert.equal(last?.totalEstimated, undefined);
  });

  it('starts over after restart(): the steps already logged are logged again', () => {
    const { progress, records } = setup();
    const phase = progress.phase('backup', 4);

    phase.add(2);
    phase.restart();
    phase.add(2);

    assert.deepEqual(
      records().map((r) => [r.done, r.percent]),
      [
        [0, 0],
        [2, 50],
        [2, 50],
      ],
    );
  });

  it('redraws the status line at most every 200 ms and clears it at the end', () => {
    const { progress, clock, draws } = setup({ line: true });
    const phase = progress.phase('verify-restore', 100);

    for (let i = 0; i < 100; i++) {
      clock.advance(50);
      phase.add();
    }
    phase.end();

    assert.equal(draws.length, 26, '5 s of work redrawn every 200 ms, then cleared');
    assert.equal(draws[0], 'verify-restore: 1 of 100 (1%), 20/s, about 5s left');
    assert.equal(draws.at(-1), '<clear>');
  });
});

describe('shared/log/status-line', () => {
  it('writes each log line on a clean terminal line and draws the status line again below it', () => {
    const out: string[] = [];
    const logged: string[] = [];
    const line = new TerminalStatusLine({ write: (t) => out.push(t) }, () => 30);
    const sink = line.around({ write: (l) => logged.push(l) });

    sink.write('{"msg":"before"}\n');
    line.show('backup: 10 of 20 (50%), 5/s, about 2s left');
    sink.write('{"msg":"during"}\n');
    line.clear();
    line.clear();

    assert.deepEqual(logged, ['{"msg":"before"}\n', '{"msg":"during"}\n']);
    assert.deepEqual(out, ['\r\x1b[Kbackup: 10 of 20 (50%), 5/s,…', '\r\x1b[K', 'backup: 10 of 20 (50%), 5/s,…', '\r\x1b[K']);
  });

  it('takes a terminal that reports no width (0 columns) as 80 wide', () => {
    const out: string[] = [];
    const line = new TerminalStatusLine({ write: (t) => out.push(t) }, () => 0);

    line.show('backup: 1 of about 150 (0%), 20/s, about 7s left');

    assert.deepEqual(out, ['\r\x1b[Kbackup: 1 of about 150 (0%), 20/s, about 7s left']);
  });
});
