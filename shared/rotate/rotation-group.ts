import { errorText, InterruptedError } from '../errors/index.js';
import { promoteInPlace } from './in-place.js';
import { newRotationId } from './names.js';
import { fail } from './outcome.js';
import { createPending } from './protocol.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { RotationError } from './rotation-error.js';
import type { GroupRun } from './rotation-group-decision.js';
import { nextWork } from './rotation-steps.js';

/**
 * What a run does to a rotation group's members before the rollout, and how it undoes them
 * (docs/rotation-groups.md); the members' agreement and the group's decision after a crash are
 * in rotation-group-decision.ts.
 */

/**
 * Steps 1-4 for a group's members, in member order: every member's new values stored first
 * (create), then every in-place member's Secret written (finish). Any failure (or a member that
 * could not be read: `missing`) undoes the whole group: see {@link undoGroup}. Returns the
 * members to roll back (their values reached the Secret, or maybe a consumer).
 */
export async function prepareGroup(
  g: GroupRun,
  rots: readonly Rotation[],
  missing: readonly string[],
  deps: RotationDeps,
): Promise<Rotation[]> {
  const members = [...rots].sort((a, b) => a.name.localeCompare(b.name));
  const resumed = new Set(members.filter((r) => r.step !== 'new'));
  const id = g.id ?? newRotationId(deps.clock.now());
  for (const rot of members) {
    if (rot.step === 'new') rot.begin(id);
    deps.log.info(
      { secret: rot.label, rotation: id, group: `${g.namespace}/${g.name}`, step: rot.step, mode: g.mode },
      'rotation group member',
    );
  }
  if (g.mode === 'commit') return [];
  if (g.mode === 'abort') return undoGroup(g, members, resumed, 'another member recorded its failure or rolls back', undefined, deps);
  if (missing.length > 0) return undoGroup(g, members, resumed, `member ${missing.join(', ')} could not be read`, undefined, deps);
  let current: Rotation | undefined;
  try {
    for (const phase of ['create', 'finish'] as const) {
      for (const rot of members) {
        current = rot;
        const work = nextWork(rot.step, rot.strategy, rot.backendInvolved);
        if (work !== phase) continue;
        deps.shutdown.checkpoint();
        await (phase === 'create' ? createPending(rot, deps) : promoteInPlace(rot, deps));
      }
    }
    return [];
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    return undoGroup(g, members, resumed, `member ${current?.label} failed: ${errorText(e)}`, { rot: current!, error: e }, deps);
  }
}

/**
 * Undoes a group's rotation: the member that failed first (its failure is the group's decision,
 * recorded before anything else), then each other member: before its values reached anyone, it
 * fails (its pending values deleted); once they did (an in-place Secret written; a versioned
 * member resumed from an earlier run, whose consumers may be repointed), it is returned to be
 * rolled back. A member already rolling back is left to the run's rollback phase.
 */
async function undoGroup(
  g: GroupRun,
  members: readonly Rotation[],
  resumed: ReadonlySet<Rotation>,
  why: string,
  culprit: { rot: Rotation; error: unknown } | undefined,
  deps: RotationDeps,
): Promise<Rotation[]> {
  const text = `rotation group ${g.name}: ${why}`;
  deps.log.warn({ group: `${g.namespace}/${g.name}`, members: members.map((r) => r.name) }, `${text}: undoing every member`);
  const order = culprit === undefined ? members : [culprit.rot, ...members.filter((r) => r !== culprit.rot)];
  const toRollBack: Rotation[] = [];
  for (const rot of order) {
    if (rot.outcome !== undefined || rot.step === 'rolling-back') continue;
    const reached = rot.step === 'finished' || (rot.strategy === 'versioned' && resumed.has(rot));
    if (reached) {
      rot.warn(text);
      toRollBack.push(rot);
      continue;
    }
    const error =
      rot === culprit?.rot
        ? culprit.error
        : new RotationError('group', `Secret ${rot.label}: ${text}; this member's new values reached no consumer and were discarded`);
    await fail(rot, error, deps);
  }
  return toRollBack;
}
