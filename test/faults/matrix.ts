/**
 * The fault-injection matrix (issue 9). For each scenario: record the clean run (its ordered
 * requests to both servers and its end state), then for every request i and every fault kind
 * that can happen to it, run the job again in a fresh world with that single fault at request
 * i, run it once more without faults, and check the invariants. See README.md in this folder.
 */

import { isDeepStrictEqual } from 'node:util';
import { prng } from '../bench/generate.js';
import type { S3ServerKind } from '../support/s3-server.js';
import { collectEvidence, tmpSnapshot } from './evidence.js';
import { canaryForms, canaryScan, converged, exitAccepted, unexpectedFailure } from './invariants.js';
import { arm, type FaultKind, KINDS, type KindId } from './kinds.js';
import { type CaseWorld, type ChildJob, FaultLab, type JobRun, RUN_TIMEOUT_MS } from './lab.js';
import { SCENARIOS, type Scenario } from './scenarios/index.js';
import { describeStep, type Step, stepsOf, Trigger } from './steps.js';

/**
 * - `succeeded`: the faulted run exited 0 (retries absorbed the fault, or it did not matter);
 * - `failed-cleanly`: it failed with an exit code its fault allows and left the world as it
 *   found it (as far as the scenario's end state goes): the rerun did the work from scratch;
 * - `resumed`: it failed partway (or was killed) leaving work half done, and the rerun finished it;
 * - `not-reached`: the faulted run never made that request (the fault never fired).
 * Whatever the outcome, the rerun must converge and every invariant must hold, or the case has violations.
 */
export type Outcome = 'succeeded' | 'failed-cleanly' | 'resumed' | 'not-reached';
export const OUTCOMES: readonly Outcome[] = ['succeeded', 'failed-cleanly', 'resumed', 'not-reached'];

/** Every run of a case acts as this pod (a killed run's Lease is taken back by its rerun, as by a restarted container). */
const IDENTITY = 'fault-matrix-pod';

export interface Baseline {
  scenario: Scenario<any>;
  /** The bucket every case starts from. */
  template: string | undefined;
  /** The clean run's requests, in order. */
  steps: Step[];
  /** The end state after the clean run and a rerun. */
  endState: unknown;
  /** Violations found in the clean run itself. */
  violations: string[];
  durationMs: number;
}

export interface Case {
  id: string;
  scenario: Scenario<any>;
  step: Step;
  kind: FaultKind;
}

export interface CaseResult {
  id: string;
  job: string;
  kind: KindId;
  step: string;
  /** Global index the fault fired at in the faulted run. */
  firedAt?: number;
  outcome: Outcome;
  code: number | null;
  rerunCode: number | null;
  violations: string[];
  durationMs: number;
}

async function runJob(scenario: Scenario<any>, world: CaseWorld, args: string[]): Promise<JobRun> {
  return world.runInProcess(await scenario.command(), args, { identity: IDENTITY, timeoutMs: RUN_TIMEOUT_MS });
}

/** Records a scenario's clean run: its requests and its end state (after a clean rerun too). */
export async function recordBaseline(lab: FaultLab, scenario: Scenario<any>): Promise<Baseline> {
  const started = Date.now();
  const template = await scenario.prepare?.(lab);
  const world = await lab.openCase(template);
  try {
    const seeded = await scenario.seed(world);
    const tmpBefore = tmpSnapshot(world);
    const args = scenario.args(world);
    const run = await runJob(scenario, world, args);
    if (run.code !== 0) {
      throw new Error(
        `the clean ${scenario.job} run failed (exit ${run.code}): ${run.stdout.slice(0, 2000)}\n${run.logLines
          .filter((l) => /"level":"(warn|error)"/.test(l))
          .join('\n')
          .slice(0, 4000)}`,
      );
    }
    const steps = stepsOf(world.emulator.requests.entries, world.proxy.requests);
    const violations = await scenario.check(world, seeded, 'after-fault', run);
    const rerun = await runJob(scenario, world, args);
    if (rerun.code !== 0) violations.push(`a second clean run failed (exit ${rerun.code})`);
    violations.push(...(await scenario.check(world, seeded, 'after-rerun', rerun)));
    const evidence = await collectEvidence(
      world,
      [
        ['clean run', run],
        ['second clean run', rerun],
      ],
      tmpBefore,
    );
    violations.push(...evidence.problems, ...canaryScan(evidence.sources, canaryForms(scenario.secretValues(world, seeded))));
    return { scenario, template, steps, endState: await scenario.endState(world, seeded), violations, durationMs: Date.now() - started };
  } finally {
    await world.close();
  }
}

/** Every (request, applicable kind) pair of a baseline, in request order. */
export function enumerateCases(baseline: Baseline, kinds: readonly FaultKind[] = KINDS): Case[] {
  return baseline.steps.flatMap((step) =>
    kinds
      .filter((k) => k.appliesTo(step))
      .map((kind) => ({ id: `${baseline.scenario.job}/${kind.id}@${step.seq}`, scenario: baseline.scenario, step, kind })),
  );
}

/** Runs one case: the faulted run, the checks, the clean rerun, the checks again. */
export async function runCase(lab: FaultLab, baseline: Baseline, c: Case): Promise<CaseResult> {
  const started = Date.now();
  const { scenario, step, kind } = c;
  const world = await lab.openCase(baseline.template);
  try {
    const seeded = await scenario.seed(world);
    const initial = await scenario.endState(world, seeded);
    const tmpBefore = tmpSnapshot(world);
    const args = scenario.args(world);
    const trigger = new Trigger(step);
    let run: JobRun;
    if (kind.layer === 'process') {
      let job: ChildJob | undefined;
      arm(kind, step, world, trigger, () => job!);
      job = world.spawnJob(scenario.script, args, { identity: IDENTITY, timeoutMs: RUN_TIMEOUT_MS + 30_000 });
      run = await job.done;
    } else {
      arm(kind, step, world, trigger);
      run = await runJob(scenario, world, args);
    }
    world.emulator.faults.clear();
    world.proxy.reset();
    const result = { id: c.id, job: scenario.job, kind: kind.id, step: describeStep(step), firedAt: trigger.firedAt, code: run.code };
    if (trigger.firedAt === undefined) {
      return { ...result, outcome: 'not-reached', rerunCode: null, violations: exitAccepted(run, [0]), durationMs: Date.now() - started };
    }

    const violations = [...exitAccepted(run, kind.acceptedCodes), ...(await scenario.check(world, seeded, 'after-fault', run))];
    const afterFault = await scenario.endState(world, seeded);
    const outcome: Outcome =
      run.code === 0 ? 'succeeded' : run.code !== null && isDeepStrictEqual(afterFault, initial) ? 'failed-cleanly' : 'resumed';

    const rerun = await runJob(scenario, world, args);
    if (rerun.code !== 0)
      violations.push(
        `the clean rerun ended with ${rerun.code === null ? 'no exit (abandoned)' : `exit ${rerun.code}`}${rerunReason(rerun)}`,
      );
    violations.push(...unexpectedFailure(rerun.logLines));
    violations.push(...(await scenario.check(world, seeded, 'after-rerun', rerun)));
    violations.push(...converged(baseline.endState, await scenario.endState(world, seeded)));
    const evidence = await collectEvidence(
      world,
      [
        ['faulted run', run],
        ['rerun', rerun],
      ],
      tmpBefore,
    );
    violations.push(...evidence.problems, ...canaryScan(evidence.sources, canaryForms(scenario.secretValues(world, seeded))));
    return { ...result, outcome, rerunCode: rerun.code, violations, durationMs: Date.now() - started };
  } finally {
    await world.close();
  }
}

function rerunReason(run: JobRun): string {
  const last = run.logLines.filter((l) => l.includes('"level":"error"')).at(-1);
  if (last === undefined) return '';
  try {
    return `: ${String((JSON.parse(last) as { msg?: string }).msg).slice(0, 300)}`;
  } catch {
    return '';
  }
}

/** Up to `perJobKind` cases of every (job, kind) pair, picked with a seeded PRNG; request order kept. */
export function sampleCases(cases: readonly Case[], perJobKind: number, seed: number): Case[] {
  const random = prng(seed);
  const groups = new Map<string, Case[]>();
  for (const c of cases) {
    const k = `${c.scenario.job} ${c.kind.id}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const picked = new Set<Case>();
  for (const group of groups.values()) {
    const pool = [...group];
    for (let n = 0; n < perJobKind && pool.length > 0; n++) picked.add(pool.splice(Math.floor(random() * pool.length), 1)[0]);
  }
  return cases.filter((c) => picked.has(c));
}

export interface MatrixOptions {
  /** The S3 server of every case. @default 's3rver' */
  server?: S3ServerKind;
  /** Only these jobs (scenario names). With a server other than s3rver: by default only the jobs that use the store. */
  jobs?: readonly string[];
  /** Only these fault kinds. */
  kinds?: readonly string[];
  /** Cases per (job, kind) pair; all when omitted. */
  sample?: number;
  /** Seed of the sample. @default 1 */
  seed?: number;
  /** Only the case with this id (`job/kind@seq`). */
  caseId?: string;
  /** Called after each case (progress). */
  onResult?: (r: CaseResult, done: number, total: number) => void;
  /** Called after each baseline. */
  onBaseline?: (b: Baseline, cases: number) => void;
}

export interface MatrixReport {
  server: S3ServerKind;
  baselines: Array<
    Pick<Baseline, 'durationMs' | 'violations'> & {
      job: string;
      requests: number;
      k8s: number;
      s3: number /** Kinds that can happen to at least one of its requests. */;
      kinds: KindId[];
    }
  >;
  results: CaseResult[];
  wallMs: number;
}

/** Runs the matrix: every selected scenario's baseline, then its (sampled) cases. */
export async function runMatrix(o: MatrixOptions = {}): Promise<MatrixReport> {
  const started = Date.now();
  const server = o.server ?? 's3rver';
  // Rotation never touches the store: against another S3 server only the store's jobs say anything new.
  const scenarios = SCENARIOS.filter((s) => (o.jobs === undefined ? server === 's3rver' || s.usesStore : o.jobs.includes(s.job)));
  const unknownJobs = (o.jobs ?? []).filter((j) => !SCENARIOS.some((s) => s.job === j));
  if (unknownJobs.length > 0)
    throw new Error(`unknown job(s) ${unknownJobs.join(', ')} (known: ${SCENARIOS.map((s) => s.job).join(', ')})`);
  const kinds = KINDS.filter((k) => o.kinds === undefined || o.kinds.includes(k.id));
  const unknownKinds = (o.kinds ?? []).filter((k) => !KINDS.some((x) => x.id === k));
  if (unknownKinds.length > 0)
    throw new Error(`unknown fault kind(s) ${unknownKinds.join(', ')} (known: ${KINDS.map((k) => k.id).join(', ')})`);
  const lab = await FaultLab.start({ server });
  const report: MatrixReport = { server, baselines: [], results: [], wallMs: 0 };
  try {
    const plan: Array<[Baseline, Case[]]> = [];
    for (const scenario of scenarios) {
      const baseline = await recordBaseline(lab, scenario);
      let cases = enumerateCases(baseline, kinds);
      if (o.caseId !== undefined) cases = cases.filter((c) => c.id === o.caseId);
      if (o.sample !== undefined) cases = sampleCases(cases, o.sample, o.seed ?? 1);
      report.baselines.push({
        job: scenario.job,
        requests: baseline.steps.length,
        k8s: baseline.steps.filter((s) => s.server === 'k8s').length,
        s3: baseline.steps.filter((s) => s.server === 's3').length,
        durationMs: baseline.durationMs,
        violations: baseline.violations,
        kinds: kinds.filter((k) => baseline.steps.some((step) => k.appliesTo(step))).map((k) => k.id),
      });
      o.onBaseline?.(baseline, cases.length);
      plan.push([baseline, cases]);
    }
    const total = plan.reduce((n, [, cases]) => n + cases.length, 0);
    for (const [baseline, cases] of plan) {
      for (const c of cases) {
        const r = await runCase(lab, baseline, c);
        report.results.push(r);
        o.onResult?.(r, report.results.length, total);
      }
    }
  } finally {
    for (const s of scenarios) await s.teardown?.();
    await lab.stop();
  }
  report.wallMs = Date.now() - started;
  return report;
}

/** Violations of a report: the baselines' and the cases'. */
export function violationsOf(report: MatrixReport): Array<{ id: string; violation: string }> {
  return [
    ...report.baselines.flatMap((b) => b.violations.map((v) => ({ id: `${b.job}/clean-run`, violation: v }))),
    ...report.results.flatMap((r) => r.violations.map((v) => ({ id: `${r.id} (${r.step})`, violation: v }))),
  ];
}

/** The summary table: one row per job and fault kind, then totals. */
export function renderTable(report: MatrixReport): string {
  const rows: string[][] = [];
  const header = ['JOB', 'FAULT KIND', 'CASES', ...OUTCOMES.map((o) => o.toUpperCase()), 'VIOLATIONS'];
  const add = (job: string, kind: string, rs: readonly CaseResult[]) =>
    rows.push([
      job,
      kind,
      String(rs.length),
      ...OUTCOMES.map((o) => String(rs.filter((r) => r.outcome === o).length)),
      String(rs.reduce((n, r) => n + r.violations.length, 0)),
    ]);
  const jobs = [...new Set(report.results.map((r) => r.job))];
  for (const job of jobs) {
    for (const kind of KINDS) {
      const rs = report.results.filter((r) => r.job === job && r.kind === kind.id);
      if (rs.length > 0) add(job, kind.id, rs);
    }
  }
  add('TOTAL', `${new Set(report.results.map((r) => r.kind)).size} kinds, ${jobs.length} jobs`, report.results);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.slice(0, -1).map(line), line(widths.map((w) => '-'.repeat(w))), line(rows.at(-1)!)].join('\n')}\n`;
}
