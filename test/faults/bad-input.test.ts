/**
 * The hostile-input table (bad-input.ts) in CI: every row's behaviour (exit code, message,
 * nothing changed or stored but what it expects, no drill object left, no canary anywhere).
 *
 * No precise time or memory figure is asserted here: a busy machine exceeds any of them. A
 * blow-up still fails a row: a child whose heap outgrows its cap crashes (a wrong exit code),
 * one that hangs is killed after HANG_SECONDS (the same), and a memory figure past
 * {@link CEILING_MIB} fails it. The rows' own limits (`bounds`) are checked on a quiet machine
 * by `npm run faults -- --bounds`.
 */
import assert from 'node:assert/strict';
import { assertBehaviour, type BadInputLab, HANG_SECONDS, openBadInputLab, ROWS, rowTitle, runRow } from './bad-input.js';

/**
 * What a row with a memory limit may reach in CI (the child's peak RSS, or this process's RSS
 * growth): twice the largest pod memory limit of these commands, far above anything load adds,
 * far below a bomb held in Buffers, which the heap cap does not count.
 */
const CEILING_MIB = 1024;

describe('faults/bad-input', function () {
  this.timeout(60_000);
  let lab: BadInputLab;

  before(async () => {
    lab = await openBadInputLab();
  });
  after(async () => lab?.stop());

  for (const row of ROWS) {
    it(rowTitle(row), async function () {
      if (row.bounds) this.timeout((HANG_SECONDS + 60) * 1000);

      const run = await runRow(lab, row);

      await assertBehaviour(lab, row, run);
      if (row.bounds?.maxRssMiB !== undefined)
        assert.ok(
          run.r.peakRssMiB < CEILING_MIB,
          `${row.child ? 'peak RSS' : 'RSS grew by'} ${run.r.peakRssMiB.toFixed(0)} MiB, past the ${CEILING_MIB} MiB ceiling`,
        );
    });
  }
});
