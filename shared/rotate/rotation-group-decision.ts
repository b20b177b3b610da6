import { Annotations, type OutcomeResult, parseLastOutcome } from './metadata.js';
import type { RotationPolicy } from './policy.js';
import type { RotationStep } from './rotation-steps.js';
import { annotationsOf, type SecretView } from './secret-access.js';

/**
 * Rotation groups (docs/rotation-groups.md): Secrets of one namespace whose policies declare the
 * same `group` are rotated together, in one run, all or nothing.
 *
 * Every member's rotation carries the same rotation id (the group's), so the cluster records
 * where the group stands without a record of its own: a member in flight names the group's
 * rotation; a member whose `last-outcome` names it has ended in it. From those, a rerun after a
 * crash (anywhere, in any member) tells what the group decided ({@link decideGroup}):
 *
 * - `forward`: nothing decided yet: members in flight continue, the others start with the
 *   group's id; any failure before the rollout, or any member's consumer not ready, undoes all;
 * - `abort`: a member records a failure of the group's rotation, or is rolling back: every
 *   member still in flight is undone (failed before its values reached a consumer, rolled back
 *   after), none starts;
 * - `commit`: a member succeeded (every consumer of every member was ready): the others finish
 *   forward, never roll back.
 */

/** What a run does with a group: its members, the rotation they share, and the decision. */
export interface GroupRun {
  namespace: string;
  name: string;
  /** Every member, sorted (names, versioned: lineage bases). */
  members: readonly string[];
  mode: GroupMode;
  /** The rotation the members share: undefined when this run starts it (a new id is made then). */
  id?: string;
  /** For members that are not due on their own: the slot and reason of the member that is. */
  due?: { slot: string; reason: string; detail: string };
}

export type GroupMode = 'forward' | 'commit' | 'abort';

/** One policy holder that declares a group, as the scan judged it. */
export interface GroupMember {
  /** The member's name in the group: the Secret's name, or, versioned, its lineage's base. */
  member: string;
  head: SecretView;
  policy: RotationPolicy;
  /** In flight: the rotation and the step recorded. */
  inFlight?: { id: string; step: RotationStep };
  /** Due on its own: the slot, reason and why. */
  due?: { slot: string; reason: string; detail: string };
}

/** What a group's members found by the scan decide for this run. */
export type GroupDecision =
  | { kind: 'refused'; message: string }
  | { kind: 'idle' }
  | { kind: 'run'; mode: GroupMode; id?: string; due?: GroupRun['due'] /** Members this run acts on. */; acting: string[] };

const label = (m: GroupMember) => `${m.head.metadata?.namespace}/${m.head.metadata?.name}`;

/**
 * Checks that the members agree (the same group, the same member list, each one found) and
 * decides what the run does with them. `group` is the group's name, `found` every policy holder
 * of the namespace declaring it.
 */
export function decideGroup(namespace: string, group: string, found: readonly GroupMember[]): GroupDecision {
  const problems: string[] = [];
  const declared = new Map<string, GroupMember[]>();
  for (const m of found) {
    const list = m.policy.group!.members.join(', ');
    if (!declared.has(list)) declared.set(list, []);
    declared.get(list)!.push(m);
    if (!m.policy.group!.members.includes(m.member))
      problems.push(`Secret ${label(m)} declares group ${group} but its group.members (${list}) does not name it (${m.member})`);
  }
  if (declared.size > 1)
    problems.push(
      `the members disagree on group.members: ${[...declared].map(([list, ms]) => `${ms.map(label).join(', ')}: [${list}]`).join('; ')}`,
    );
  const byMember = new Map<string, GroupMember[]>();
  for (const m of found) byMember.set(m.member, [...(byMember.get(m.member) ?? []), m]);
  for (const [member, ms] of byMember)
    if (ms.length > 1) problems.push(`member ${member} is claimed by several Secrets: ${ms.map(label).join(', ')}`);
  const named = new Set(found.flatMap((m) => m.policy.group!.members));
  const missing = [...named].filter((n) => !byMember.has(n)).sort();
  if (missing.length > 0)
    problems.push(
      `member${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not found in namespace ${namespace} with a valid policy declaring group ${group} (a deleted member, a policy without group, an invalid policy, or a --selector that leaves it out)`,
    );
  const ids = new Map<string, string[]>();
  for (const m of found) if (m.inFlight) ids.set(m.inFlight.id, [...(ids.get(m.inFlight.id) ?? []), label(m)]);
  if (ids.size > 1)
    problems.push(`members are in flight with different rotations: ${[...ids].map(([id, ls]) => `${ls.join(', ')}: ${id}`).join('; ')}`);
  if (problems.length > 0) return { kind: 'refused', message: `rotation group ${namespace}/${group} refused: ${problems.join('; ')}` };

  const firstDue = [...found].sort((a, b) => a.member.localeCompare(b.member)).find((m) => m.due !== undefined)?.due;
  const due = firstDue && { slot: firstDue.slot, reason: 'group', detail: `rotation group ${group}: ${firstDue.detail}` };
  const id = [...ids.keys()][0];
  if (id === undefined) {
    if (firstDue === undefined) return { kind: 'idle' };
    return { kind: 'run', mode: 'forward', due, acting: found.map((m) => m.member) };
  }
  const endedIn = (m: GroupMember): OutcomeResult | undefined => {
    const o = parseLastOutcome(annotationsOf(m.head)[Annotations.lastOutcome]);
    return o?.rotation === id && o.resumable !== true ? o.result : undefined;
  };
  const ended = found.filter((m) => m.inFlight === undefined && endedIn(m) !== undefined);
  const abort = found.some((m) => m.inFlight?.step === 'rolling-back') || ended.some((m) => endedIn(m) !== 'succeeded');
  const commit = !abort && ended.some((m) => endedIn(m) === 'succeeded');
  const inFlight = found.filter((m) => m.inFlight !== undefined).map((m) => m.member);
  if (abort) return { kind: 'run', mode: 'abort', id, acting: inFlight };
  if (commit) return { kind: 'run', mode: 'commit', id, acting: inFlight };
  const joining = found.filter((m) => m.inFlight === undefined && !ended.includes(m)).map((m) => m.member);
  return {
    kind: 'run',
    mode: 'forward',
    id,
    due: due ?? { slot: `group:${group}@${id}`, reason: 'group', detail: `rotation group ${group}: joins rotation ${id}` },
    acting: [...inFlight, ...joining],
  };
}
