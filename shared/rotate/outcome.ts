import { errorText, InterruptedError, TransientError } from '../errors/index.js';
import type { EventSubject } from '../kube/events.js';
import { KubeError } from '../kube/kube-error.js';
import { finishInPlace } from './in-place.js';
import { type OutcomeResult, outcomeChanges } from './metadata.js';
import { previousName } from './names.js';
import { deletePending, patchHead } from './protocol.js';
import { shortWorkload, type WorkloadIndex, type WorkloadOutcome } from './rollout.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RotationError } from './rotation-error.js';
import type { SecretView } from './secret-access.js';
import { abandonVersion, collectVersions, promoteVersion } from './versioned.js';

/**
 * How a rotation ends in a run, one function per ending of rotation-steps.ts (`fail`,
 * `fail-resumable`, `succeed`, `fail-forward`, `rollback-failed`, `end-rollback`): the outcome
 * recorded on the Secret (`last-outcome`, see metadata.ts), the pending companion removed
 * unless it must be kept, the log line and the Event. A failure to record is logged: the
 * rotation's records then stay in flight and the next run completes them.
 */

export const secretSubject = (s: SecretView): EventSubject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  namespace: s.metadata?.namespace ?? '',
  name: s.metadata?.name ?? '',
  uid: s.metadata?.uid,
});

/** True when `e`, or an error it wraps, is infrastructure that stayed unreachable (API server, a backend's database). */
export function isTransient(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (cur instanceof TransientError || (cur instanceof KubeError && cur.transient)) return true;
  }
  return false;
}

/**
 * `fail` / `fail-resumable`: a rotation failed before its new values reached anyone (create,
 * set, test, or the finish write). The pending companion is discarded unless a backend may
 * already hold its values (then it stays, and the next run continues from it). rotate-now
 * stays, so the Secret stays due.
 */
export async function fail(rot: Rotation, e: unknown, deps: RotationDeps): Promise<void> {
  const message = errorText(e);
  const transient = isTransient(e);
  deps.log.error(
    { secret: rot.label, rotation: rot.id, step: rot.step, err: e, code: e instanceof RotationError ? e.code : undefined },
    `rotation failed: ${message}`,
  );
  const keep = rot.pending !== undefined && rot.backendInvolved;
  rot.end(keep ? 'fail-resumable' : 'fail', { result: 'failed', message }, transient);
  if (transient) rot.warn('transient failure: the next run retries');
  try {
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

/**
 * `succeed`: every consumer is ready. The outcome is recorded (versioned: the new version
 * promoted, old versions of its lineage, as the scan listed them, beyond `keepVersions` collected).
 */
export async function succeed(
  rot: Rotation,
  outcomes: ReadonlyMap<string, WorkloadOutcome>,
  lineages: ReadonlyMap<string, readonly SecretView[]>,
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
      rot.end('succeed', { result: 'succeeded', message });
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
        ...(lineages.get(`${rot.namespace}/${v.base}`) ?? []).filter((m) => m.metadata?.name !== rot.name),
        oldHead,
        rot.head,
      ];
      const deleted = await collectVersions(rot.namespace, v.base, members, rot.policy.keepVersions, await index.all(rot.namespace), deps);
      rot.end('succeed', {
        result: 'succeeded',
        message: deleted.length ? `${message}; old versions deleted: ${deleted.join(', ')}` : message,
      });
      await deps.events.record({
        subject: secretSubject(rot.head),
        type: 'Normal',
        reason: 'Rotated',
        message: `rotation ${rot.id}: ${rot.outcome!.message}`,
        action: 'Rotate',
      });
    }
    deps.log.info(
      {
        secret: rot.label,
        rotation: rot.id,
        fingerprints: deps.fingerprinter.fingerprints(rot.newValues ?? new Map()),
        consumers,
        warnings: rot.warnings,
      },
      'rotation succeeded',
    );
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    // The new values are in use; only the bookkeeping failed. The next run finishes it.
    const message = `new values are in place and consumers ready, but recording the outcome failed (the next run completes it): ${errorText(e)}`;
    deps.log.error({ secret: rot.label, rotation: rot.id, err: e }, message);
    rot.end('succeed', { result: 'failed', message }, isTransient(e));
  }
}

/** `fail-forward`: consumers failed and the policy says not to roll back: the new values stay; recorded as failed. */
export async function failForward(rot: Rotation, message: string, deps: RotationDeps): Promise<void> {
  deps.log.error({ secret: rot.label, rotation: rot.id }, `rotation failed: ${message}`);
  try {
    if (rot.strategy === 'in-place') await finishInPlace(rot, deps, 'failed', message);
    else await promoteVersion(rot, deps, message);
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    deps.log.warn({ secret: rot.label, err: e }, 'could not record the failure on the Secret');
  }
  rot.end('fail-forward', { result: 'failed', message });
  await deps.events.record({
    subject: secretSubject(rot.head),
    type: 'Warning',
    reason: 'RotationFailed',
    message: `rotation ${rot.id}: ${message}`,
    action: 'Rotate',
  });
}

/**
 * `end-rollback` (the consumers were restored: `rolled-back`, or `rollback-failed` when one is
 * still not ready) and `rollback-failed` (the values could not be put back): records the
 * outcome on the Secret, drops the pending values, and tells the Events.
 */
export async function endRollback(
  rot: Rotation,
  event: 'end-rollback' | 'rollback-failed',
  result: Extract<OutcomeResult, 'rolled-back' | 'rollback-failed'>,
  message: string,
  deps: RotationDeps,
  transient = false,
): Promise<void> {
  rot.end(event, { result, message }, transient);
  const log = result === 'rolled-back' ? deps.log.warn.bind(deps.log) : deps.log.error.bind(deps.log);
  log({ secret: rot.label, rotation: rot.id }, `rotation ${result}: ${message}`);
  try {
    if (rot.strategy === 'in-place') {
      if (rot.step === 'rolling-back') await finishInPlace(rot, deps, result, message);
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
