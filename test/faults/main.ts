/**
 * `npm run faults [-- --server rgw --job backup --kind k8s-500 --sample N --seed S --case ID]`:
 * runs the fault-injection matrix and prints one row per job and fault kind (cases run,
 * outcomes, invariant violations), then every violation. Exits 1 when there is any. See README.md.
 *
 * `npm run faults -- --bounds`: instead, holds the hostile-input rows to their time and memory
 * limits (bad-input-bounds.ts) and prints each figure against its limit. Exits 1 when a row
 * missed one or misbehaved.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { S3_SERVERS, type S3ServerKind } from '../support/s3-server.js';
import { boundsMet, checkBounds, describeMemory, describeResult, describeTime, renderBounds } from './bad-input-bounds.js';
import { renderTable, renderViolations, runMatrix, violationsOf } from './matrix.js';

const USAGE = `usage: npm run faults -- [--server SERVER] [--job JOB]... [--kind KIND]... [--sample N] [--seed S] [--case JOB/KIND@SEQ] [--quiet]
       npm run faults -- --bounds [--quiet]
  --server  the S3 server behind the fault proxy: s3rver (default) or rgw (a private Ceph RGW; by default only the jobs that use the store)
  --job     only this job (repeatable or comma-separated): backup, verify-restore, restore, rotate-in-place, rotate-versioned, rotate-postgresql, rotate-mysql, rotate-follow, rotate-group, rekey
  --kind    only this fault kind (repeatable or comma-separated), e.g. k8s-500, s3-truncated-read, sigkill
  --sample  N cases per job and fault kind, chosen with --seed (default: every case)
  --case    only one case, by the id the table's violation list prints
  --bounds  not the matrix: the time and memory limits of the hostile-input rows (bombs, billion
            laughs, an unreachable API server), each figure against its limit; run it on a quiet machine
  --quiet   no progress lines on stderr`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string', default: 's3rver' },
        job: { type: 'string', multiple: true },
        kind: { type: 'string', multiple: true },
        sample: { type: 'string' },
        seed: { type: 'string' },
        case: { type: 'string' },
        bounds: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const list = (v: string[] | undefined) =>
    v
      ?.flatMap((x) => x.split(','))
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} takes a whole number`);
    return Number(v);
  };
  const caseId = values.case;
  const jobs = list(values.job) ?? (caseId ? [caseId.split('/')[0]] : undefined);
  const kinds = list(values.kind) ?? (caseId ? [caseId.split('/')[1]?.split('@')[0] ?? ''] : undefined);
  const progress = (text: string) => !values.quiet && process.stderr.write(text);
  if (values.bounds) {
    const matrixOnly = (['job', 'kind', 'sample', 'seed', 'case'] as const).filter((o) => values[o] !== undefined);
    if (matrixOnly.length > 0) {
      process.stderr.write(`--bounds runs no matrix: drop ${matrixOnly.map((o) => `--${o}`).join(', ')}\n${USAGE}\n`);
      return 2;
    }
    return bounds(progress);
  }
  if (!(S3_SERVERS as readonly string[]).includes(values.server)) {
    process.stderr.write(`--server takes one of ${S3_SERVERS.join(', ')}\n${USAGE}\n`);
    return 2;
  }

  const report = await runMatrix({
    server: values.server as S3ServerKind,
    jobs,
    kinds,
    caseId,
    sample: int('sample', values.sample),
    seed: int('seed', values.seed),
    onBaseline: (b, cases) =>
      progress(
        `${b.scenario.job}: clean run ${b.steps.length} requests (${b.steps.filter((s) => s.server === 'k8s').length} Kubernetes, ${b.steps.filter((s) => s.server === 's3').length} S3) in ${(b.durationMs / 1000).toFixed(1)}s; ${cases} cases\n`,
      ),
    onResult: (r, done, total) =>
      progress(
        `[${done}/${total}] ${r.id} ${r.step}: ${r.outcome} (exit ${r.code ?? 'killed'}, rerun ${r.rerunCode ?? '-'}) ${(r.durationMs / 1000).toFixed(1)}s${r.violations.length ? `  VIOLATIONS: ${r.violations.join(' | ')}` : ''}\n`,
      ),
  });

  process.stdout.write(`\n${renderTable(report)}`);
  const violations = violationsOf(report);
  const kindsRun = new Set(report.results.map((r) => r.kind)).size;
  process.stdout.write(
    `\n${report.results.length} cases, ${kindsRun} fault kinds, ${report.baselines.length} jobs, against ${report.server}, ${violations.length} invariant violations, wall time ${(report.wallMs / 60_000).toFixed(1)} min\n`,
  );
  if (violations.length > 0) {
    process.stdout.write(`\nViolations (each case's runs kept below ${report.keepDir}):\n${renderViolations(report)}`);
  }
  return violations.length > 0 ? 1 : 0;
}

/** Load average (1 min) per core: the figures of a machine busier than half its cores are inflated. */
const loadPerCore = () => loadavg()[0] / availableParallelism();
const describeLoad = (perCore: number) =>
  `load average ${(perCore * availableParallelism()).toFixed(1)} on ${availableParallelism()} cores`;

async function bounds(progress: (text: string) => void): Promise<number> {
  const loadBefore = loadPerCore();
  if (loadBefore > 0.5)
    process.stderr.write(
      `warning: ${describeLoad(loadBefore)}: a busy machine inflates time and memory; read a miss as a regression only on a quiet one\n`,
    );
  const started = Date.now();
  const results = await checkBounds((r, done, total) =>
    progress(
      `[${done}/${total}] ${r.row.input.name} -> ${r.row.command}: ${describeTime(r)}, ${describeMemory(r)}: ${describeResult(r)}\n`,
    ),
  );
  process.stdout.write(`\n${renderBounds(results)}`);
  const failed = results.filter((r) => !boundsMet(r));
  process.stdout.write(
    `\n${results.length} rows with limits, ${results.length - failed.length} met, ${failed.length} missed or misbehaved; ` +
      `${describeLoad(loadBefore)} before, ${describeLoad(loadPerCore())} after; wall time ${((Date.now() - started) / 60_000).toFixed(1)} min\n`,
  );
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
