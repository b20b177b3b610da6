import { errorText, InterruptedError, TransientError } from '../errors/index.js';
import type { EventSubject } from '../kube/events.js';
import { KubeError } from '../kube/kube-error.js';
import { type Started, startRotations } from './candidates.js';
import { fingerprints } from './fingerprint.js';
import { finishInPlace, promoteInPlace, restoreInPlace } from './in-place.js';
import { type Cleanup, type Inventory, type SecretView, scanSecrets, type UnrotatedItem } from './inventory.js';
import { Annotations, type OutcomeResult } from './metadata.js';
import { newRotationId, previousName } from './names.js';
import { describeProblems } from './policy.js';
import { createPending, deletePending, outcomeChanges, patchHead, recordPendingStep, revertBackend, runBackendSteps } from './protocol.js';
import { exitCodeOf, type RotationReport, type SecretReport } from './report.js';
import { isFailure, resolveConsumers, restoreConsumers, rollOut, shortWorkload, WorkloadIndex, type WorkloadOutcome } from './rollout.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RotationError } from './rotation-error.js';
import { abandonVersion, collectVersions, promoteVersion } from './versioned.js';

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
}

/** Secrets read and prepared (steps 1-4) at once; each is a handful of sequential API calls. */
const PREPARE_CONCURRENCY = 4;

const secretSubject = (s: SecretView): EventSubject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  namespace: s.metadata?.namespace ?? '',
  name: s.metadata?.name ?? '',
  uid: s.metadata?.uid,
});

/** True when `e`, or an error it wraps, is infrastructure that stayed unreachable (API server, a backend's database). */
function isTransient(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (cur instanceof TransientError || (cur instanceof KubeError && cur.transient)) return true;
  }
  return false;
}

/**
 * One rotation run: scan (metadata only), then for every Secret due (or left in flight by an
 * earlier run), read in full right before acting, the protocol: create -> set -> test ->
 * finish -> rollout -> verify, with rollback when a consumer does not become ready. Per-Secret
 * failures are reported and the run goes on; a stop request (SIGTERM, lost lock) ends the run
 * at the next step boundary with InterruptedError, leaving state that the next run resumes.
 */
export async function runRotation(deps: RotationDeps, o: RunOptions): Promise<RotationReport> {
  const started = deps.clock.now();
  const inv = await scanSecrets(deps, { namespaces: o.namespaces, selector: o.selector, now: started, backends: deps.backends });
  for (const note of inv.notes) deps.log.warn({}, note);
  const report: RotationReport = { dryRun: o.dryRun, now: started.toISOString(), durationMs: 0, secrets: [], workloads: [], cleanups: [] };
  await reportUnrotated(inv.items, report, deps, o.dryRun);
  const startOptions = { maxRotations: o.maxRotations, concurrency: PREPARE_CONCURRENCY, now: started, backends: deps.backends };

  if (o.dryRun) {
    // The plan reads what a real run reads (the Secrets it would act on), and writes nothing.
    const planned = await startRotations(inv.candidates, deps, startOptions, async () => {});
    await reportStarted(planned, report, deps, o);
    await planDryRun(planned, inv, report, deps);
    report.durationMs = deps.clock.now().getTime() - started.getTime();
    return report;
  }
  const index = new WorkloadIndex(deps.workloads);
  await runCleanups(inv.cleanups, report, deps, index);

  // Each Secret is read, then steps 1-4 run on it (versioned rotations finish in the rollout: repointing is their step 4).
  const begun = await startRotations(inv.candidates, deps, startOptions, async (rot) => {
    try {
      if (rot.step === 'new') {
        rot.id = newRotationId(deps.clock.now());
        deps.log.info(
          { secret: rot.label, rotation: rot.id, reason: rot.reason, slot: rot.slot, strategy: rot.strategy },
          'rotation started',
        );
        await createPending(rot, deps);
        deps.shutdown.checkpoint();
      } else {
        deps.log.info({ secret: rot.label, rotation: rot.id, step: rot.step }, 'resuming a rotation left in flight');
      }
      await runBackendSteps(rot, deps);
      deps.shutdown.checkpoint();
      if (rot.strategy === 'in-place' && (rot.step === 'created' || rot.step === 'set' || rot.step === 'tested'))
        await promoteInPlace(rot, deps);
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      await failBeforeFinish(rot, e, deps);
    }
  });
  await reportStarted(begun, report, deps, o);
  const rotations = begun.rotations.map((r) => r.rotation);
  deps.shutdown.checkpoint();

  // Steps 5-6: restart (or repoint) consumers once each, and verify them.
  const live = rotations.filter((r) => r.outcome === undefined);
  const forward = live.filter((r) => r.step !== 'rolling-back');
  const needRollout = forward.filter((r) => r.strategy === 'versioned' || r.policy.rollout.restart);
  const inFlight = new Set(live.map((r) => r.id));
  const outcomes =
    needRollout.length > 0
      ? await rollOut(needRollout, deps, index, { maxConcurrent: o.maxConcurrentRollouts, inFlight })
      : new Map<string, WorkloadOutcome>();
  report.workloads.push(...outcomes.values());
  deps.shutdown.checkpoint();

  const toRollBack: Rotation[] = [];
  for (const rot of forward) {
    const failed = needRollout.includes(rot) ? rot.consumers.filter((k) => isFailure(outcomes.get(k)?.state ?? 'ready')) : [];
    if (failed.length === 0) {
      await succeed(rot, outcomes, inv, index, deps);
      continue;
    }
    rot.failedWorkloads = failed;
    const why = failed.map((k) => `${shortWorkload(k)}: ${outcomes.get(k)!.message}`).join('; ');
    if (rot.policy.rollout.rollbackOnFailure) {
      deps.log.warn(
        { secret: rot.label, rotation: rot.id, failed: failed.map(shortWorkload) },
        'consumers did not become ready: rolling back',
      );
      rot.warnings.push(`consumers not ready: ${why}`);
      toRollBack.push(rot);
    } else {
      await finishFailedForward(rot, `consumers not ready (${why}); rollbackOnFailure is false, so the new values stay`, deps);
    }
  }

  // Rollback: data (or references) first, then the consumers, then verify them.
  const restoring = live.filter((r) => r.step === 'rolling-back');
  for (const rot of toRollBack) {
    deps.shutdown.checkpoint();
    try {
      await revertBackend(rot, deps);
      if (rot.strategy === 'in-place') await restoreInPlace(rot, deps);
      else await recordPendingStep(rot, 'rolling-back', deps);
      restoring.push(rot);
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      await settle(rot, 'rollback-failed', `rollback failed: ${errorText(e)}`, deps, { transient: isTransient(e) });
    }
  }
  if (restoring.length > 0) {
    const restored = await restoreConsumers(restoring, deps, index, { maxConcurrent: o.maxConcurrentRollouts, inFlight });
    for (const [k, w] of restored) {
      const i = report.workloads.findIndex((x) => x.key === k);
      if (i === -1) report.workloads.push(w);
      else if (w.patched || isFailure(w.state)) report.workloads[i] = { ...w, message: `after rollback: ${w.message}` };
    }
    for (const rot of restoring) {
      deps.shutdown.checkpoint();
      const stillFailing = rot.consumers.filter((k) => isFailure(restored.get(k)?.state ?? 'ready'));
      const cause = rot.warnings.find((w) => w.startsWith('consumers not ready')) ?? 'consumers were not ready';
      if (stillFailing.length === 0) {
        // Rolled back only because the API server failed us: not held, the next run tries again (exit 4).
        const apiOnly =
          rot.failedWorkloads.length > 0 &&
          rot.failedWorkloads.every((k) => outcomes.get(k)?.state === 'error' && outcomes.get(k)?.transient === true);
        await settle(
          rot,
          'rolled-back',
          `${cause}; previous ${rot.strategy === 'versioned' ? 'version restored in' : 'values restored and'} consumers restored${apiOnly ? '; the API server caused it, so the Secret is not held: the next run tries again' : ''}`,
          deps,
          { transient: apiOnly },
        );
      } else {
        await settle(
          rot,
          'rollback-failed',
          `${cause}; after the rollback still not ready: ${stillFailing.map((k) => `${shortWorkload(k)}: ${restored.get(k)!.message}`).join('; ')}`,
          deps,
        );
      }
    }
  }

  for (const rot of rotations) report.secrets.push(rotationEntry(rot));
  report.durationMs = deps.clock.now().getTime() - started.getTime();
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
          `invalid rotation policy: ${text}`,
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

/**
 * A rotation failed before its new values reached anyone (create, set, test, or the finish
 * write). The pending companion is discarded unless a backend may already hold its values
 * (then it stays, and the next run continues from it). rotate-now stays, so the Secret stays due.
 */
async function failBeforeFinish(rot: Rotation, e: unknown, deps: RotationDeps): Promise<void> {
  const message = errorText(e);
  const transient = isTransient(e);
  deps.log.error(
    { secret: rot.label, rotation: rot.id, step: rot.step, err: e, code: e instanceof RotationError ? e.code : undefined },
    `rotation failed: ${message}`,
  );
  rot.outcome = { result: 'failed', message };
  rot.warnings.push(...(transient ? ['transient failure: the next run retries'] : []));
  rot.transient = transient;
  try {
    const keep = rot.pending !== undefined && rot.backendInvolved;
    if (rot.pending !== undefined && !keep) await deletePending(rot, deps);
    const now = deps.clock.now();
    await patchHead(rot, deps, (head) => ({
      annotations: outcomeChanges(
        rot,
        head,
        'failed',
        now,
        keep ? `${message} (the pending values are kept; the next run continues with them)` : message,
        false,
        keep,
      ),
    }));
  } catch (err) {
    deps.log.warn({ secret: rot.label, err }, 'could not record the failure on the Secret');
  }
  await deps.events.record({
    subject: secretSubject(rot.head),
    type: 'Warning',
    reason: e instanceof RotationError && e.code === 'conflict' ? 'RotationConflict' : 'RotationFailed',
    message: `rotation ${rot.id || '(not started)'} failed: ${message}`,
    action: 'Rotate',
  });
}

/** Every consumer is ready: the rotation's outcome is recorded (versioned: promoted, old versions collected). */
async function succeed(
  rot: Rotation,
  outcomes: Map<string, WorkloadOutcome>,
  inv: Inventory,
  index: WorkloadIndex,
  deps: RotationDeps,
): Promise<void> {
  const restarted = rot.consumers.filter(
    (k) => outcomes.get(k)?.state === 'ready' || outcomes.get(k)?.state === 'repointed' || outcomes.get(k)?.state === 'not-verified',
  );
  const consumers = restarted.map(shortWorkload);
  const keys = [...(rot.newValues?.keys() ?? [])].sort();
  try {
    if (rot.strategy === 'in-place') {
      const message = `rotated ${keys.join(', ')}${consumers.length ? `; consumers restarted and ready: ${consumers.join(', ')}` : ''}`;
      await finishInPlace(rot, deps, 'succeeded', message);
      rot.outcome = { result: 'succeeded', message };
      await deps.events.record({
        subject: secretSubject(rot.head),
        type: 'Normal',
        reason: 'Rotated',
        message: `rotation ${rot.id}: ${message}; previous values kept in ${previousName(rot.name)}`,
        action: 'Rotate',
      });
    } else {
      const v = rot.versioned!;
      const message = `rotated ${keys.join(', ')} into new version ${v.toName}${consumers.length ? `; consumers repointed and ready: ${consumers.join(', ')}` : ''}`;
      const oldHead = await promoteVersion(rot, deps, message);
      const members = [
        ...(inv.lineages.get(`${rot.namespace}/${v.base}`) ?? []).filter((m) => m.metadata?.name !== rot.name),
        oldHead,
        rot.head,
      ];
      const deleted = await collectVersions(rot.namespace, v.base, members, rot.policy.keepVersions, await index.all(rot.namespace), deps);
      rot.outcome = { result: 'succeeded', message: deleted.length ? `${message}; old versions deleted: ${deleted.join(', ')}` : message };
      await deps.events.record({
        subject: secretSubject(rot.head),
        type: 'Normal',
        reason: 'Rotated',
        message: `rotation ${rot.id}: ${rot.outcome.message}`,
        action: 'Rotate',
      });
    }
    deps.log.info(
      { secret: rot.label, rotation: rot.id, fingerprints: fingerprints(rot.newValues ?? new Map()), consumers, warnings: rot.warnings },
      'rotation succeeded',
    );
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    // The new values are in use; only the bookkeeping failed. The next run finishes it.
    const message = `new values are in place and consumers ready, but recording the outcome failed (the next run completes it): ${errorText(e)}`;
    deps.log.error({ secret: rot.label, rotation: rot.id, err: e }, message);
    rot.outcome = { result: 'failed', message };
    rot.transient = isTransient(e);
  }
}

/** Consumers failed and the policy says not to roll back: the new values stay; recorded as failed. */
async function finishFailedForward(rot: Rotation, message: string, deps: RotationDeps): Promise<void> {
  deps.log.error({ secret: rot.label, rotation: rot.id }, `rotation failed: ${message}`);
  try {
    if (rot.strategy === 'in-place') await finishInPlace(rot, deps, 'failed', message);
    else await promoteVersion(rot, deps, message);
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    deps.log.warn({ secret: rot.label, err: e }, 'could not record the failure on the Secret');
  }
  rot.outcome = { result: 'failed', message };
  await deps.events.record({
    subject: secretSubject(rot.head),
    type: 'Warning',
    reason: 'RotationFailed',
    message: `rotation ${rot.id}: ${message}`,
    action: 'Rotate',
  });
}

/** Records a rollback's outcome on the Secret, drops the pending values, and tells the Events. */
async function settle(
  rot: Rotation,
  result: OutcomeResult,
  message: string,
  deps: RotationDeps,
  o: { transient?: boolean } = {},
): Promise<void> {
  rot.outcome = { result, message };
  rot.transient = o.transient ?? false;
  const log = result === 'rolled-back' ? deps.log.warn.bind(deps.log) : deps.log.error.bind(deps.log);
  log({ secret: rot.label, rotation: rot.id }, `rotation ${result}: ${message}`);
  try {
    if (rot.strategy === 'in-place') {
      if (rot.step === 'rolling-back' || result === 'rolled-back') await finishInPlace(rot, deps, result, message);
      else {
        // The data could not be restored: leave the rotation's records, note the outcome.
        const now = deps.clock.now();
        await patchHead(rot, deps, (head) => ({ annotations: outcomeChanges(rot, head, result, now, message, false) }));
      }
    } else {
      await abandonVersion(rot, deps, result, message, true);
    }
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    deps.log.warn({ secret: rot.label, err: e }, 'could not record the rollback on the Secret');
  }
  await deps.events.record({
    subject: secretSubject(rot.head),
    type: 'Warning',
    reason: result === 'rolled-back' ? 'RotationRolledBack' : 'RotationRollbackFailed',
    message: `rotation ${rot.id} ${result === 'rolled-back' ? 'rolled back' : 'could not be rolled back cleanly'}: ${message}`,
    action: 'Rollback',
  });
}

function rotationEntry(rot: Rotation): SecretReport {
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
    fingerprints: rot.newValues ? fingerprints(rot.newValues) : undefined,
    consumers: rot.consumers.map(shortWorkload),
    warnings: rot.warnings.length ? rot.warnings : undefined,
    version: rot.versioned?.toName,
    transient: rot.transient || undefined,
  };
}
