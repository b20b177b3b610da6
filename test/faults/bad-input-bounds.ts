/**
 * `npm run faults -- --bounds`: the hostile-input table's time and memory limits (the `bounds`
 * of its rows, bad-input.ts), checked where a figure means something: on a quiet machine, by a
 * person. Each row with limits runs as in CI and must behave as in CI (a figure of a wrong run
 * means nothing); then its wall time and its memory figure (a child's peak RSS, or this
 * process's RSS growth over an in-process run) are held to the row's limits. CI
 * (bad-input.test.ts) asserts the behaviour and generous ceilings only.
 */
import { renderTable } from '../../shared/runtime/format.js';
import { assertBehaviour, openBadInputLab, ROWS, type Row, rowTitle, runRow } from './bad-input.js';

export interface BoundsResult {
  row: Row;
  seconds: number;
  /** Peak RSS of the child, or growth of this process's RSS, in MiB. */
  rssMiB: number;
  /** What was wrong with the row's behaviour, when something was. */
  wrong?: string;
  /** The limits the row missed. */
  missed: Array<'time' | 'memory'>;
}

export const boundsMet = (r: BoundsResult) => r.wrong === undefined && r.missed.length === 0;

/** Runs every row that has `bounds`, in table order, and checks its behaviour and its limits. */
export async function checkBounds(onResult?: (r: BoundsResult, done: number, total: number) => void): Promise<BoundsResult[]> {
  const rows = ROWS.filter((row) => row.bounds !== undefined);
  const results: BoundsResult[] = [];
  const lab = await openBadInputLab();
  try {
    for (const row of rows) {
      const run = await runRow(lab, row);
      const wrong = await assertBehaviour(lab, row, run).then(
        () => undefined,
        (e: Error) => `exit ${run.r.code}: ${e.message.split('\n')[0].slice(0, 160)}`,
      );
      const { maxSeconds, maxRssMiB } = row.bounds!;
      const missed: BoundsResult['missed'] = [];
      if (!(run.r.seconds < maxSeconds)) missed.push('time');
      if (maxRssMiB !== undefined && !(run.r.peakRssMiB < maxRssMiB)) missed.push('memory');
      const result = { row, seconds: run.r.seconds, rssMiB: run.r.peakRssMiB, wrong, missed };
      results.push(result);
      onResult?.(result, results.length, rows.length);
    }
  } finally {
    await lab.stop();
  }
  return results;
}

/** One line per row: the figures against their limits, and whether the row met them. */
export function renderBounds(results: readonly BoundsResult[]): string {
  return renderTable(
    ['ROW', 'TIME', 'MEMORY', 'RESULT'],
    results.map((r) => [rowTitle(r.row), describeTime(r), describeMemory(r), describeResult(r)]),
  );
}

export const describeTime = (r: BoundsResult) => `${r.seconds.toFixed(1)} s (limit ${r.row.bounds!.maxSeconds} s)`;

export function describeMemory(r: BoundsResult): string {
  const limit = r.row.bounds!.maxRssMiB;
  if (limit === undefined) return '-';
  const figure = Number.isFinite(r.rssMiB) ? r.rssMiB.toFixed(0) : '?';
  return r.row.child ? `peak RSS ${figure} MiB (limit ${limit})` : `RSS +${figure} MiB (limit ${limit})`;
}

export function describeResult(r: BoundsResult): string {
  if (r.wrong !== undefined) return `WRONG BEHAVIOUR ${r.wrong}`;
  return r.missed.length === 0 ? 'met' : `MISSED ${r.missed.join(', ')}`;
}
