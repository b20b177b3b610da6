import { errorText, InterruptedError } from '../errors/index.js';
import { type Started, startRotations } from './candidates.js';
import { followSecrets } from './follow.js';
import { promoteInPlace, restoreInPlace } from './in-place.js';
import { type Candidate, type Cleanup, type Inventory, scanSecrets, type UnrotatedItem } from './inventory.js';
import { Annotations } from './metadata.js';
import { newRotationId } from './names.js';
import { endRollback, fail, failForward, isTransient, secretSubject, succeed } from './outcome.js';
import { describeProblems } from './policy.js';
import { createPending, recordPendingStep, revertBackend, setBackend, testBackend } from './protocol.js';
import { exitCodeOf, type RotationReport, type SecretReport } from './report.js';
import { isFailure, resolveConsumers, restoreConsumers, rollOut, shortWorkload, WorkloadIndex, type WorkloadOutcome } from './rollout.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { prepareGroup } from './rotation-group.js';
import { nextWork, type Work } from './rotation-steps.js';
import { collectVersions } from './versioned.js';

/** How one run is bounded and scoped (from the command's settings). */
export interface RunOptions {
  /** Namespaces in scope; empty: all. */
  namespaces: readonly string[];
  selector?: string;
  /** Plan only: no write of any kind, not even Events. */
  dryRun: boolean;
  /** New rotations per run; 0: no limit. In-flight rotations always continue. */
  maxRotations: number;
  /** Workloads restarting and being verified at once. */
  maxConcurrentRollouts: number;
  /** The job's namespace: where follow mode keeps its digest key (follow.ts). */
  keyNamespace: string;
}

/** Secrets read and prepared (steps 1-4) at once; each is a handful of sequential API calls. */
const PREPARE_CONCURRENCY = 4;

/**
 * One rotation run, in the order of the protocol (shared/rotate/README.md): scan (metadata
 * only); housekeeping left by earlier runs; start: each Secret due (or left in flight by an
 * earlier run) is read in full right before steps 1-4 (create, set, test, finish) run on it;
 * roll out and verify the consumers (steps 5-6) once for all rotations; settle each rotation
 * going forward (succeeded, or failed forward, or to roll back); roll back; report. Per-Secret
 * failures are reported and the run goes on; a stop request (SIGTERM, lost lock) ends the run
 * at the next step boundary with InterruptedError, leaving state that the next run resumes.
 */
export async function runRotation(deps: RotationDeps, o: RunOptions): Promise<RotationReport> {
  const now = deps.clock.now();
  const report: RotationReport = { dryRun: o.dryRun, now: now.toISOString(), durationMs: 0, secrets: [], workloads: [], cleanups: [] };
  const inv = await scan(deps, o, now, report);
  if (o.dryRun) {
    await planOnly(inv, report, deps, o, now);
    report.durationMs = deps.clock.now().getTime() - now.getTime();
    return report;
  }
  const index = new WorkloadIndex(deps.workloads);
  await runCleanups(inv.cleanups, report, deps, index);
  const { rotations, undone } = await start(inv.candidates, report, deps, o, now);
  deps.shutdown.checkpoint();
  const live = rotations.filter((r) => r.outcome === undefined);
  const restoring = live.filter((r) => nextWork(r.step, r.strategy, r.backendInvolved) === 'restore-consumers');
  const forward = live.filter((r) => !restoring.includes(r) && !undone.includes(r));
  const rollout = await rollOutAndVerify(forward, live, report, deps, index, o);
  deps.shutdown.checkpoint();
  const toRollBack = await settle(forward, rollout, inv, index, deps);
  await rollBack([...undone, ...toRollBack], restoring, rollout, report, deps, index, o);
  deps.shutdown.checkpoint();
  await follow(inv, report, deps, index, o);
  return finishReport(rotations, report, deps, now);
}

/** The scan: policy holders judged from their metadata; the ones not rotated are reported (with Events) at once. */
async function scan(deps: RotationDeps, o: RunOptions, now: Date, report: RotationReport): Promise<Inventory> {
  const inv = await scanSecrets(deps, { namespaces: o.namespaces, selector: o.selector, now, backends: deps.backends });
  for (const note of inv.notes) deps.log.warn({}, note);
  await reportUnrotated(inv.items, report, deps, o.dryRun);
  return inv;
}

/** Dry run: the plan reads what a real run reads (the Secrets it would act on), and writes nothing. */
async function planOnly(inv: Inventory, report: RotationReport, deps: RotationDeps, o: RunOptions, now: Date): Promise<void> {
  const planned = await startRotations(inv.candidates, deps, startOptions(deps, o, now), async () => {});
  await reportStarted(planned, report, deps, o);
  await planDryRun(planned, inv, report, deps);
  await follow(inv, report, deps, new WorkloadIndex(deps.workloads), o);
}

/**
 * Follow mode (follow.ts), after the rotations: consumers of followed Secrets whose data changed
 * restart once and are verified. A workload a rotation restarted in this run waits for the next.
 */
async function follow(inv: Inventory, report: RotationReport, deps: RotationDeps, index: WorkloadIndex, o: RunOptions): Promise<void> {
  if (inv.followed.length === 0) return;
  report.followed = await followSecrets(inv.followed, deps, index, {
    dryRun: o.dryRun,
    maxConcurrent: o.maxConcurrentRollouts,
    keyNamespace: o.keyNamespace,
    restartedThisRun: new Set(report.workloads.filter((w) => w.patched).map((w) => w.key)),
  });
}

function startOptions(deps: RotationDeps, o: RunOptions, now: Date) {
  return { maxRotations: o.maxRotations, concurrency: PREPARE_CONCURRENCY, now, backends: deps.backends };
}

/**
 * Start: each candidate is read, then steps 1-4 run on it from where it stands (versioned
 * rotations finish in the rollout: repointing is their step 4). Returns every rotation read, in
 * the scan's order, groups' members last; those that failed already have their outcome. A rotation group's members
 * are read together, then prepared together (rotation-group.ts); `undone`: members of a group
 * undone before the rollout whose values already reached the Secret, to roll back.
 */
async function start(candidates: readonly Candidate[], report: RotationReport, deps: RotationDeps, o: RunOptions, now: Date) {
  const singles = candidates.filter((c) => c.group === undefined);
  const begun = await startRotations(singles, deps, startOptions(deps, o, now), (rot) => prepare(rot, deps));
  await reportStarted(begun, report, deps, o);
  const rotations = begun.rotations.map((r) => r.rotation);
  const undone: Rotation[] = [];
  const groups = new Map<string, Candidate[]>();
  for (const c of candidates) {
    if (c.group === undefined) continue;
    const k = `${c.group.namespace}/${c.group.name}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  // A group is never split by --max-rotations: its members are read and prepared together.
  for (const members of groups.values()) {
    deps.shutdown.checkpoint();
    const read = await startRotations(members, deps, { ...startOptions(deps, o, now), maxRotations: 0 }, async () => {});
    await reportStarted(read, report, deps, o);
    const rots = read.rotations.map((r) => r.rotation);
    const loaded = new Set(rots.map((r) => r.name));
    const missing = members.map((c) => c.head.metadata.name ?? '').filter((n) => !loaded.has(n));
    undone.push(...(await prepareGroup(members[0].group!, rots, missing, deps)));
    rotations.push(...rots);
  }
  return { rotations, undone };
}

/** Steps 1-4, each the protocol's next one for the rotation (rotation-steps.ts `nextWork`). */
const STEPS_1_TO_4: Partial<Record<Work, (rot: Rotation, deps: RotationDeps) => Promise<void>>> = {
  create: createPending,
  set: setBackend,
  test: testBackend,
  finish: promoteInPlace,
};

/** Runs steps 1-4 on one rotation, with a stop checkpoint between steps; a failure ends the rotation (`fail`). */
async function prepare(rot: Rotation, deps: RotationDeps): Promise<void> {
  const next = () => STEPS_1_TO_4[nextWork(rot.step, rot.strategy, rot.backendInvolved)];
  try {
    if (rot.step === 'new') {
      rot.begin(newRotationId(deps.clock.now()));
      deps.log.info(
        { secret: rot.label, rotation: rot.id, reason: rot.reason, slot: rot.slot, strategy: rot.strategy },
        'rotation started',
      );
    } else {
      deps.log.info({ secret: rot.label, rotation: rot.id, step: rot.step }, 'resuming a rotation left in flight');
    }
    for (let step = next(); step !== undefined; ) {
      const before = rot.step;
      await step(rot, deps);
      if (rot.step === before) throw new Error(`rotation ${rot.label}: a step left it at ${before}`);
      step = next();
      if (step !== undefined) deps.shutdown.checkpoint();
    }
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    await fail(rot, e, deps);
  }
}

/** What the rollout found. */
interface Rollout {
  /** The rotations whose consumers were restarted or repointed. */
  rolledOut: readonly Rotation[];
  outcomes: ReadonlyMap<string, WorkloadOutcome>;
  /** Rotation ids not ended yet (their restart records on workloads are kept). */
  inFlight: ReadonlySet<string>;
}

/** Steps 5-6: restart (or repoint) the consumers of the rotations going forward, once each, and verify them. */
async function rollOutAndVerify(
  forward: readonly Rotation[],
  live: readonly Rotation[],
  report: RotationReport,
  deps: RotationDeps,
  index: WorkloadIndex,
  o: RunOptions,
): Promise<Rollout> {
  const rolledOut = forward.filter((r) => r.strategy === 'versioned' || r.policy.rollout.restart);
  const inFlight = new Set(live.map((r) => r.id));
  const outcomes =
    rolledOut.length > 0
      ? await rollOut(rolledOut, deps, index, { maxConcurrent: o.maxConcurrentRollouts, inFlight })
      : new Map<string, WorkloadOutcome>();
  report.workloads.push(...outcomes.values());
  return { rolledOut, outcomes, inFlight };
}

/**
 * Settle each rotation going forward: every consumer ready, it succeeds; otherwise it is
 * rolled back (returned), or, with `rollbackOnFailure: false`, fails with the new values kept.
 */
async function settle(
  forward: readonly Rotation[],
  rollout: Rollout,
  inv: Inventory,
  index: WorkloadIndex,
  deps: RotationDeps,
): Promise<Rotation[]> {
  const { outcomes } = rollout;
  const toRollBack: Rotation[] = [];
  const failedOf = (rot: Rotation) =>
    rollout.rolledOut.includes(rot) ? rot.consumers.filter((k) => isFailure(outcomes.get(k)?.state ?? 'ready')) : [];
  // A group going forward is all or nothing: one member's consumer not ready rolls every member back.
  const failedGroups = new Map<string, string>();
  for (const rot of forward) {
    if (rot.group?.mode !== 'forward' || failedOf(rot).length === 0) continue;
    failedGroups.set(`${rot.group.namespace}/${rot.group.name}`, rot.name);
  }
  for (const rot of forward) {
    const failed = failedOf(rot);
    const groupFailedBy = rot.group && failedGroups.get(`${rot.group.namespace}/${rot.group.name}`);
    if (failed.length === 0 && groupFailedBy !== undefined) {
      deps.log.warn({ secret: rot.label, rotation: rot.id, group: rot.group!.name }, 'a member of the rotation group failed: rolling back');
      rot.warn(`rotation group ${rot.group!.name}: consumers of member ${groupFailedBy} not ready; every member rolls back`);
      toRollBack.push(rot);
      continue;
    }
    if (failed.length === 0) {
      await succeed(rot, outcomes, inv.lineages, index, deps);
      continue;
    }
    rot.rolloutFailed(failed);
    const why = failed.map((k) => `${shortWorkload(k)}: ${outcomes.get(k)!.message}`).join('; ');
    if (rot.group?.mode === 'commit') {
      await failForward(
        rot,
        `consumers not ready (${why}); rotation group ${rot.group.name} already committed (another member succeeded), so the new values stay`,
        deps,
      );
    } else if (rot.policy.rollout.rollbackOnFailure) {
      deps.log.warn(
        { secret: rot.label, rotation: rot.id, failed: failed.map(shortWorkload) },
        'consumers did not become ready: rolling back',
      );
      rot.warn(`consumers not ready: ${why}`);
      toRollBack.push(rot);
    } else {
      await failForward(rot, `consumers not ready (${why}); rollbackOnFailure is false, so the new values stay`, deps);
    }
  }
  return toRollBack;
}

/**
 * Rollback: data (or references) first, then the consumers, then verify them and record the
 * outcome. `restoring`: rotations an earlier run left rolling back; they join once their data is back.
 */
async function rollBack(
  toRollBack: readonly Rotation[],
  resumed: readonly Rotation[],
  rollout: Rollout,
  report: RotationReport,
  deps: RotationDeps,
  index: WorkloadIndex,
  o: RunOptions,
): Promise<void> {
  const restoring = [...resumed];
  for (const rot of toRollBack) {
    deps.shutdown.checkpoint();
    try {
      await rollBackValues(rot, deps);
      restoring.push(rot);
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      await endRollback(rot, 'rollback-failed', 'rollback-failed', `rollback failed: ${errorText(e)}`, deps, isTransient(e));
    }
  }
  if (restoring.length === 0) return;
  const restored = await restoreConsumers(restoring, deps, index, { maxConcurrent: o.maxConcurrentRollouts, inFlight: rollout.inFlight });
  for (const [k, w] of restored) {
    const i = report.workloads.findIndex((x) => x.key === k);
    if (i === -1) report.workloads.push(w);
    else if (w.patched || isFailure(w.state)) report.workloads[i] = { ...w, message: `after rollback: ${w.message}` };
  }
  for (const rot of restoring) {
    deps.shutdown.checkpoint();
    const stillFailing = rot.consumers.filter((k) => isFailure(restored.get(k)?.state ?? 'ready'));
    const cause =
      rot.warnings.find((w) => w.startsWith('consumers not ready') || w.startsWith('rotation group')) ?? 'consumers were not ready';
    if (stillFailing.length === 0) {
      // Rolled back only because the API server failed us: not held, the next run tries again (exit 4).
      const apiOnly =
        rot.failedWorkloads.length > 0 &&
        rot.failedWorkloads.every((k) => rollout.outcomes.get(k)?.state === 'error' && rollout.outcomes.get(k)?.transient === true);
      await endRollback(
        rot,
        'end-rollback',
        'rolled-back',
        `${cause}; previous ${rot.strategy === 'versioned' ? 'version restored in' : 'values restored and'} consumers restored${apiOnly ? '; the API server caused it, so the Secret is not held: the next run tries again' : ''}`,
        deps,
        apiOnly,
      );
    } else {
      await endRollback(
        rot,
        'end-rollback',
        'rollback-failed',
        `${cause}; after the rollback still not ready: ${stillFailing.map((k) => `${shortWorkload(k)}: ${restored.get(k)!.message}`).join('; ')}`,
        deps,
      );
    }
  }
}

/**
 * `roll-back`, the values' half: the backend is set back, then the previous values are written
 * back into the Secret (in place) or the new version records `rolling-back` (versioned).
 */
export async function rollBackValues(rot: Rotation, deps: RotationDeps): Promise<void> {
  await revertBackend(rot, deps);
  if (rot.strategy === 'in-place') await restoreInPlace(rot, deps);
  else await recordPendingStep(rot, 'roll-back', deps);
}

/** Report: one line per rotation, the run's duration, and the log line that ends the run. */
function finishReport(rotations: readonly Rotation[], report: RotationReport, deps: RotationDeps, now: Date): RotationReport {
  for (const rot of rotations) report.secrets.push(rotationEntry(rot, deps));
  report.durationMs = deps.clock.now().getTime() - now.getTime();
  deps.log.info({ exitCode: exitCodeOf(report), durationMs: report.durationMs, rotations: rotations.length }, 'rotation run finished');
  return report;
}

/** Report lines (and Events) for Secrets this run does not rotate. */
async function reportUnrotated(
  items: readonly UnrotatedItem[],
  report: RotationReport,
  deps: RotationDeps,
  dryRun: boolean,
): Promise<void> {
  for (const item of items) {
    switch (item.action) {
      case 'skip':
        deps.log.info(
          { secret: `${item.namespace}/${item.name}`, reason: item.reason },
          'rotation policy ignored: the Secret belongs to someone else',
        );
        if (!dryRun) {
          await deps.events.record({
            subject: secretSubject(item.secret),
            type: 'Normal',
            reason: 'RotationSkipped',
            message: `not rotated: ${item.reason}`,
            action: 'Rotate',
          });
        }
        report.secrets.push({ namespace: item.namespace, name: item.name, action: 'skipped', detail: item.reason });
        break;
      case 'invalid': {
        const text = describeProblems(item.problems);
        deps.log.error(
          { secret: `${item.namespace}/${item.name}`, problems: item.problems.map((p) => `${p.path}: ${p.message}`) },
          `invalid rotation policy on Secret ${item.namespace}/${item.name}: ${text}`,
        );
        if (!dryRun) {
          await deps.events.record({
            subject: secretSubject(item.secret),
            type: 'Warning',
            reason: 'RotationPolicyInvalid',
            message: `invalid ${Annotations.policy}: ${text}`,
            action: 'Rotate',
          });
        }
        report.secrets.push({ namespace: item.namespace, name: item.name, action: 'invalid', detail: text });
        break;
      }
      case 'not-due':
        deps.log.debug({ secret: `${item.namespace}/${item.name}`, nextDue: item.nextDue?.toISOString() }, item.detail);
        report.secrets.push({
          namespace: item.namespace,
          name: item.name,
          action: 'not-due',
          detail: item.detail,
          nextDue: item.nextDue?.toISOString(),
        });
        break;
    }
  }
}

/**
 * Report lines for the candidates that were read (or not): those the full read showed not to
 * rotate, those that could not be read (failed: nothing was changed; the next run tries again),
 * and the due Secrets deferred by --max-rotations.
 */
async function reportStarted(s: Started, report: RotationReport, deps: RotationDeps, o: RunOptions): Promise<void> {
  await reportUnrotated(s.unrotated, report, deps, o.dryRun);
  for (const { candidate: c, error } of s.unreadable) {
    const namespace = c.head.metadata.namespace ?? '';
    const name = c.head.metadata.name ?? '';
    const what = c.kind === 'new' ? 'rotated' : 'continued';
    const message = `could not read the Secret, so it was not ${what} (nothing was changed): ${errorText(error)}`;
    deps.log.error({ secret: `${namespace}/${name}`, err: error }, message);
    if (!o.dryRun) {
      await deps.events.record({
        subject: secretSubject(c.head),
        type: 'Warning',
        reason: 'RotationFailed',
        message: `rotation failed: ${message}`,
        action: 'Rotate',
      });
    }
    report.secrets.push({
      namespace,
      name,
      action: 'failed',
      detail: message,
      strategy: c.policy.strategy,
      transient: isTransient(error) || undefined,
    });
  }
  for (const c of s.deferred) {
    const detail = `${c.detail}; deferred: --max-rotations ${o.maxRotations} reached`;
    deps.log.warn({ secret: `${c.head.metadata.namespace}/${c.head.metadata.name}` }, detail);
    report.secrets.push({
      namespace: c.head.metadata.namespace ?? '',
      name: c.head.metadata.name ?? '',
      action: 'deferred',
      detail,
      strategy: c.policy.strategy,
    });
  }
}

/** Fills the report with what a real run would do, reading workloads to name the consumers. */
async function planDryRun(planned: Started, inv: Inventory, report: RotationReport, deps: RotationDeps): Promise<void> {
  const index = new WorkloadIndex(deps.workloads);
  for (const item of planned.rotations) {
    const rot = item.rotation;
    const consumers = await resolveConsumers(rot, index);
    const paused = consumers.filter((w) => w.paused).map((w) => `Deployment ${w.name} is paused: would not be restarted`);
    const restarting = rot.strategy === 'versioned' || rot.policy.rollout.restart ? consumers.filter((w) => !w.paused) : [];
    report.secrets.push({
      namespace: rot.namespace,
      name: rot.name,
      action: rot.step === 'new' ? 'would-rotate' : 'would-resume',
      detail: rot.step === 'new' ? `due: ${item.detail}` : item.detail,
      rotation: rot.step === 'new' ? undefined : rot.id,
      strategy: rot.strategy,
      keys: rot.newValues !== undefined ? [...rot.newValues.keys()].sort() : rot.policy.rotatedKeys,
      consumers: restarting.map((w) => `${w.kind.toLowerCase()}/${w.name}`),
      warnings: [...paused, ...(rot.policy.rollout.restart ? [] : ['rollout.restart is false: consumers are not restarted'])],
      version: rot.versioned?.toName,
    });
  }
  report.cleanups.push(...inv.cleanups.filter((c) => c.kind !== 'collect-versions').map(describeCleanup));
}

function describeCleanup(c: Cleanup): string {
  switch (c.kind) {
    case 'delete-pending':
      return `delete pending companion ${c.namespace}/${c.name} (${c.why})`;
    case 'supersede':
      return `mark ${c.secret.metadata?.namespace}/${c.secret.metadata?.name} superseded by ${c.by} (a run stopped after promoting it)`;
    case 'collect-versions':
      return `collect versions of ${c.namespace}/${c.base} beyond the newest ${c.keep}`;
  }
}

async function runCleanups(cleanups: readonly Cleanup[], report: RotationReport, deps: RotationDeps, index: WorkloadIndex): Promise<void> {
  for (const c of cleanups) {
    deps.shutdown.checkpoint();
    try {
      if (c.kind === 'delete-pending') await deps.secrets.delete(c.namespace, c.name, { uid: c.uid });
      else if (c.kind === 'collect-versions') {
        const deleted = await collectVersions(c.namespace, c.base, c.members, c.keep, await index.all(c.namespace), deps);
        if (deleted.length === 0) continue;
      } else {
        await deps.secrets.patchMetadata(c.secret.metadata!.namespace!, c.secret.metadata!.name!, {
          resourceVersion: c.secret.metadata!.resourceVersion!,
          annotations: {
            [Annotations.supersededBy]: c.by,
            [Annotations.lineage]: c.base,
            [Annotations.version]: String(c.version),
            [Annotations.policy]: null,
            [Annotations.rotateNow]: null,
          },
        });
      }
      report.cleanups.push(describeCleanup(c));
      deps.log.info({}, `cleanup: ${describeCleanup(c)}`);
    } catch (e) {
      deps.log.warn({ err: e }, `cleanup failed (retried next run): ${describeCleanup(c)}`);
    }
  }
}

function rotationEntry(rot: Rotation, deps: RotationDeps): SecretReport {
  const o = rot.outcome ?? { result: 'failed' as const, message: 'the run ended before this rotation reached an outcome' };
  const action = o.result === 'succeeded' ? 'rotated' : o.result;
  return {
    namespace: rot.namespace,
    name: rot.name,
    action,
    detail: o.message,
    rotation: rot.id,
    strategy: rot.strategy,
    keys: [...(rot.newValues?.keys() ?? rot.policy.rotatedKeys)].sort(),
    fingerprints: rot.newValues ? deps.fingerprinter.fingerprints(rot.newValues) : undefined,
    consumers: rot.consumers.map(shortWorkload),
    warnings: rot.warnings.length ? [...rot.warnings] : undefined,
    version: rot.versioned?.toName,
    transient: rot.transient || undefined,
  };
}
