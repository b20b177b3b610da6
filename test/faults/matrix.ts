/**
 * The fault-injection matrix (issue 9). For each scenario: record the clean run (its ordered
 * requests to both servers and its end state), then for every request i and every fault kind
 * that can happen to it, run the job again in a fresh world with that single fault at request
 * i, run it once more without faults, and check the invariants. See README.md in this folder.
 */

import { cp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { prng } from '../bench/generate.js';
import type { S3ServerKind } from '../support/s3-server.js';
import { collectEvidence, tmpSnapshot } from './evidence.js';
import { canaryForms, canaryScan, converged, exitAccepted, unexpectedFailure } from './invariants.js';
import { arm, type FaultKind, KINDS, type KindId } from './kinds.js';
import { type CaseWorld, type ChildJob, FaultLab, type JobRun, RUN_TIMEOUT_MS } from './lab.js';
import { SCENARIOS, type Scenario } from './scenarios/index.js';
import { exitText } from './scenarios/scenario.js';
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
  /**
   * Set when the case has violations: how each of its runs that exited unexpectedly failed
   * (see {@link runStory}), each headed by the run's name and exit.
   */
  story?: string;
  /** Set when the case has violations: the directory its runs' output, logs, requests and store were kept in. */
  keptIn?: string;
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
      throw new Error(`the clean ${scenario.job} run failed (exit ${run.code}): ${run.stdout.slice(0, 2000)}\n${runStory(run)}`);
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

/**
 * Runs one case: the faulted run, the checks, the clean rerun, the checks again. A case with
 * violations gets its story and, when `keepDir` is given, a directory below it with what its runs
 * left (see {@link keepCase}).
 */
export async function runCase(lab: FaultLab, baseline: Baseline, c: Case, keepDir?: string): Promise<CaseResult> {
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
    const finish = async (
      r: Omit<CaseResult, 'durationMs'>,
      runs: ReadonlyArray<readonly [string, JobRun, boolean]>,
    ): Promise<CaseResult> => {
      if (r.violations.length === 0) return { ...r, durationMs: Date.now() - started };
      const story = runs
        .filter(([, , unexpected]) => unexpected)
        .map(([name, jobRun]) => `${name} (${exitText(jobRun)}):\n${runStory(jobRun).replace(/^/gm, '  ')}`)
        .join('\n');
      const keptIn = keepDir === undefined ? undefined : await keepCase(keepDir, world, r, story, runs);
      return { ...r, ...(story === '' ? {} : { story }), ...(keptIn === undefined ? {} : { keptIn }), durationMs: Date.now() - started };
    };
    if (trigger.firedAt === undefined) {
      const violations = exitAccepted(run, [0]);
      return await finish({ ...result, outcome: 'not-reached', rerunCode: null, violations }, [
        ['faulted run', run, violations.length > 0],
      ]);
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
    return await finish({ ...result, outcome, rerunCode: rerun.code, violations }, [
      ['faulted run', run, exitAccepted(run, kind.acceptedCodes).length > 0],
      ['rerun', rerun, rerun.code !== 0 || unexpectedFailure(rerun.logLines).length > 0],
    ]);
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

/** The most of a run's story kept: its last lines, and of those at most this many bytes. */
export const STORY_LINES = 40;
export const STORY_BYTES = 8192;

/** Log fields every line has, left out of a story line. */
const ROUTINE_FIELDS = new Set(['level', 'time', 'msg', 'job', 'run', 'pid', 'hostname', 'err']);

/**
 * How a run failed, as far as it said: each log line at level error or fatal (its message and
 * fields, then its error's chain: each error's message and the first frame of its stack, down to
 * the innermost `caused by:`, and the error's own fields such as an S3 error's code), then the
 * last lines of stderr that are no log line (a config error, a crash of the process). The last
 * {@link STORY_LINES} lines, at most {@link STORY_BYTES} bytes; a line says what was left out.
 */
export function runStory(run: Pick<JobRun, 'logLines' | 'stderr'>): string {
  const lines: string[] = [];
  for (const raw of run.logLines) {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (rec.level !== 'error' && rec.level !== 'fatal') continue;
    const fields = Object.fromEntries(Object.entries(rec).filter(([k]) => !ROUTINE_FIELDS.has(k)));
    lines.push(`${rec.level} ${String(rec.msg ?? '')}${Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}`);
    const err = rec.err as Record<string, unknown> | undefined;
    if (err === undefined || typeof err !== 'object') continue;
    lines.push(...errorChain(err).map((l) => `  ${l}`));
  }
  const stderrTail = run.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('{'))
    .slice(-STORY_LINES);
  if (stderrTail.length > 0) lines.push('stderr:', ...stderrTail.map((l) => `  ${l}`));
  if (lines.length === 0) return '(no error log line, nothing else on stderr)';

  let kept = lines.slice(-STORY_LINES);
  while (kept.length > 1 && Buffer.byteLength(kept.join('\n')) > STORY_BYTES) kept = kept.slice(1);
  let text = kept.join('\n');
  if (Buffer.byteLength(text) > STORY_BYTES) text = Buffer.from(text).subarray(-STORY_BYTES).toString('utf8');
  const left = lines.length - kept.length;
  return left > 0 ? `(${left} earlier line(s) left out)\n${text}` : text;
}

/**
 * An error as the logger serialised it: its stack's message lines with the first frame under
 * each (`caused by:` starts the next error of the chain), then its other fields.
 */
function errorChain(err: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof err.stack === 'string') {
    let frameKept = false;
    for (const line of err.stack.split('\n')) {
      const frame = /^\s+at /.test(line);
      if (!frame) {
        frameKept = false;
        out.push(line);
      } else if (!frameKept) {
        frameKept = true;
        out.push(line.replace(/^\s+/, '    '));
      }
    }
  } else out.push(`${String(err.type ?? 'Error')}: ${String(err.message ?? '')}`);
  const own = Object.fromEntries(Object.entries(err).filter(([k]) => !['type', 'message', 'stack', 'name'].includes(k)));
  if (Object.keys(own).length > 0) out.push(`error fields: ${JSON.stringify(own).slice(0, 400)}`);
  return out;
}

/**
 * Keeps what a violating case's runs left, before its world is closed, in
 * `<keepDir>/<job>_<kind>@<seq>/`: `violations.txt` (the violations and the story),
 * `<run>.stdout`, `<run>.stderr`, `<run>.log` (its JSON log lines) of every run, `requests.txt`
 * (every request of the case's runs, in order, with its global index), `home/` (the runs' HOME
 * and kubeconfig) and, with s3rver, `store/` (the bucket's files as the runs left them).
 * Returns the case's directory.
 */
async function keepCase(
  keepDir: string,
  world: CaseWorld,
  r: Omit<CaseResult, 'durationMs'>,
  story: string,
  runs: ReadonlyArray<readonly [string, JobRun, boolean]>,
): Promise<string> {
  const dir = join(keepDir, r.id.replaceAll('/', '_'));
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'violations.txt'),
    `${r.id} (${r.step}): ${r.outcome}\n${r.violations.map((v) => `- ${v}\n`).join('')}${story === '' ? '' : `\n${story}\n`}`,
  );
  for (const [name, run] of runs) {
    const file = name.replaceAll(' ', '-');
    await writeFile(join(dir, `${file}.stdout`), run.stdout);
    await writeFile(join(dir, `${file}.stderr`), run.stderr);
    await writeFile(join(dir, `${file}.log`), run.logLines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join(''));
  }
  const requests = stepsOf(world.emulator.requests.entries, world.proxy.requests);
  await writeFile(join(dir, 'requests.txt'), requests.map((s) => `${describeStep(s)}\n`).join(''));
  await cp(world.dir, join(dir, 'home'), { recursive: true });
  const bucketDir = world.lab.bucketDir;
  if (bucketDir !== undefined) await cp(bucketDir, join(dir, 'store'), { recursive: true });
  return dir;
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
  /**
   * Where each violating case's runs are kept (see {@link keepCase}).
   * @default `$TMPDIR/secret-steward-faults-kept/<start time>`, made at the first violation
   */
  keepDir?: string;
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
  /** Where violating cases were kept (the directory exists only when there was one). */
  keepDir: string;
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
  // Before the lab points TMPDIR at its own scratch directory, which it removes at the end.
  const keepDir = o.keepDir ?? join(tmpdir(), 'secret-steward-faults-kept', new Date(started).toISOString().replace(/[:.]/g, '-'));
  const lab = await FaultLab.start({ server });
  const report: MatrixReport = { server, baselines: [], results: [], keepDir, wallMs: 0 };
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
        const r = await runCase(lab, baseline, c, keepDir);
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

/**
 * The violations as printed: each case's violations, then its story (how its runs that exited
 * unexpectedly failed) and where its files were kept.
 */
export function renderViolations(report: MatrixReport): string {
  const out = report.baselines.flatMap((b) => b.violations.map((v) => `  ${b.job}/clean-run: ${v}\n`));
  for (const r of report.results) {
    if (r.violations.length === 0) continue;
    out.push(...r.violations.map((v) => `  ${r.id} (${r.step}): ${v}\n`));
    if (r.story !== undefined) out.push(`${r.story.replace(/^/gm, '      ')}\n`);
    if (r.keptIn !== undefined) out.push(`      kept in ${r.keptIn}\n`);
  }
  return out.join('');
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
