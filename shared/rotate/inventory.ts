import type { SecretMetadata, SecretStore } from '../kube/secrets.js';
import type { BackendRegistry } from './backend.js';
import { Annotations, Labels } from './metadata.js';
import { parseVersionedName, versionName } from './names.js';
import { foreignManager } from './ownership.js';
import { type PolicyProblem, parsePolicy, type RotationPolicy, referenceProblems } from './policy.js';
import type { VersionedState } from './rotation.js';
import { decideGroup, type GroupMember, type GroupRun } from './rotation-group-decision.js';
import { backendMayHoldValues, findInFlight, type InFlight, isPreviousOf } from './rotation-steps.js';
import { assessDue, rotationRecord } from './schedule.js';
import { annotationsOf, labelsOf, type SecretView } from './secret-access.js';
import { inputProblems } from './values.js';

/**
 * The scan at the start of a run. It lists the Secrets in scope by their METADATA only
 * (`as=PartialObjectMetadataList`: no value leaves the API server, memory is a few MiB whatever
 * the cluster's size), keeps those that matter to rotation (policy holders, companions,
 * versions), and judges each policy holder from its annotations and labels: skipped (another
 * manager's markers), invalid (the policy itself), superseded, not due, due, or in flight.
 *
 * What depends on the Secret's body (its `type`, `immutable` and data keys) cannot be judged
 * from metadata: the Secrets due or in flight are read in full right before they are acted on
 * (`candidates.ts`), and judged again then with everything ({@link judgeHead} with `full`).
 */

/** What a run does with a policy holder that it does not rotate. */
export type UnrotatedItem =
  | { action: 'not-due'; namespace: string; name: string; detail: string; nextDue?: Date; held: boolean }
  /** Managed by someone else. */
  | { action: 'skip'; namespace: string; name: string; secret: SecretView; reason: string }
  | { action: 'invalid'; namespace: string; name: string; secret: SecretView; problems: PolicyProblem[] };

/**
 * A rotation to start (`new`: due, nothing in flight) or to continue (`resume`: an earlier run
 * left it in flight; where it stands is {@link InFlight}, from rotation-steps.ts).
 */
export interface RotationPlan<S extends SecretView = SecretView> {
  kind: 'new' | 'resume';
  head: S;
  policy: RotationPolicy;
  policyText: string;
  /** Why (due reason, resume step) in words. */
  detail: string;
  /** The `<name>-previous` companion, if there is one. */
  previous?: S;
  versioned?: VersionedState;
  /** resume: the step and the rotation the Secret or its pending companion records (and that companion). */
  inFlight?: InFlight<S>;
  /** new: the slot the rotation satisfies, why it is due, and the rotate-now value seen. */
  slot?: string;
  reason?: string;
  rotateNowSeen?: string;
  /** The member of a rotation group: what the run does with the group (rotation-group.ts). */
  group?: GroupRun;
}

/** Housekeeping left by interrupted runs. */
export type Cleanup =
  /** A pending companion whose rotation already reached its outcome (or whose Secret is gone). */
  | { kind: 'delete-pending'; namespace: string; name: string; uid?: string; why: string }
  /** An older version still carrying the policy after its successor was promoted. */
  | { kind: 'supersede'; secret: SecretView; by: string; base: string; version: number }
  /** A lineage with more versions than the policy keeps (a run stopped between promotion and collection). */
  | { kind: 'collect-versions'; namespace: string; base: string; keep: number; members: SecretView[] };

/** The verdict on one policy holder. */
export type Judgement<S extends SecretView> =
  | UnrotatedItem
  | { action: 'superseded'; by: string; base: string; version: number }
  | { action: 'rotate'; plan: RotationPlan<S> };

/** What the scan found around a policy holder (from the listing). */
export interface Related<S extends SecretView> {
  /** The pending companion naming it (`companion-of`). */
  pending?: S;
  /** The previous-values companion naming it. */
  previous?: S;
  /** Versions of each versioned lineage: key `namespace/base`. */
  lineages: ReadonlyMap<string, readonly SecretView[]>;
  /** Every Secret name of the head's namespace (for a free version number). */
  taken: ReadonlySet<string>;
  /**
   * `secret-steward.io/allow-references` of every listed Secret that has one (key
   * `namespace/name`): with `taken`, what the policy's references are judged by before anything
   * is read. A reference the listing did not see is left to the read.
   */
  allowReferences?: ReadonlyMap<string, string>;
}

export interface JudgeOptions {
  now: Date;
  backends: BackendRegistry;
  /**
   * The head was read in full (type, immutable and data known): the ownership rules on `type`
   * and the policy checks on the Secret's body apply too. False for listed metadata.
   */
  full: boolean;
  /** A member of a group the run rotates: due with this slot and reason even when not due on its own. */
  groupDue?: GroupRun['due'];
}

/** A due or in-flight Secret as the scan saw it, with what the load needs to judge it again. */
export interface Candidate extends RotationPlan<SecretMetadata> {
  related: Related<SecretMetadata>;
}

export interface Inventory {
  /** Rotations left in flight by earlier runs (obligations: always continued), then due Secrets in namespace/name order. */
  candidates: Candidate[];
  /** Policy holders this run does not rotate (judged from metadata). */
  items: UnrotatedItem[];
  cleanups: Cleanup[];
  /** Notes for the log (orphans left alone...). */
  notes: string[];
  /** Versions of each versioned lineage: key `namespace/base`. */
  lineages: Map<string, SecretMetadata[]>;
  /** Secrets carrying `secret-steward.io/follow` (follow.ts), namespace/name order. */
  followed: SecretMetadata[];
}

export interface ScanOptions {
  /** Namespaces in scope; empty: all. */
  namespaces: readonly string[];
  selector?: string;
  now: Date;
  backends: BackendRegistry;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
const nameOf = (s: SecretView) => s.metadata?.name ?? '';
const namespaceOf = (s: SecretView) => s.metadata?.namespace ?? '';

function isRelevant(s: SecretView): boolean {
  const a = annotationsOf(s);
  return (
    a[Annotations.policy] !== undefined ||
    labelsOf(s)[Labels.role] !== undefined ||
    a[Annotations.lineage] !== undefined ||
    a[Annotations.follow] !== undefined
  );
}

/** Lineage base and version of a versioned Secret. */
export function lineageOf(s: SecretView): { base: string; version: number } {
  const a = annotationsOf(s);
  const parsed = parseVersionedName(nameOf(s));
  const base = a[Annotations.lineage] ?? parsed.base;
  const version = Number(a[Annotations.version] ?? (a[Annotations.lineage] === undefined || parsed.base === base ? parsed.version : 1));
  return { base, version: Number.isSafeInteger(version) && version > 0 ? version : 1 };
}

/** Lists the Secrets in scope (metadata only), keeping the relevant ones and every name (for free version numbers). */
async function listInScope(
  deps: { secrets: Pick<SecretStore, 'listMetadata'> },
  o: ScanOptions,
): Promise<{ kept: SecretMetadata[]; names: Map<string, Set<string>>; allowReferences: Map<string, string> }> {
  const kept = new Map<string, SecretMetadata>();
  const names = new Map<string, Set<string>>();
  const allowReferences = new Map<string, string>();
  const scopes: Array<string | undefined> = o.namespaces.length > 0 ? [...o.namespaces] : [undefined];
  const collect = async (ns: string | undefined, labelSelector: string | undefined) => {
    const seen: SecretMetadata[] = [];
    for await (const page of deps.secrets.listMetadata(ns, { labelSelector })) {
      if (page.restarted) seen.length = 0;
      for (const s of page.items) {
        const nsName = namespaceOf(s);
        if (!names.has(nsName)) names.set(nsName, new Set());
        names.get(nsName)!.add(nameOf(s));
        const allow = annotationsOf(s)[Annotations.allowReferences];
        if (allow !== undefined) allowReferences.set(keyOf(nsName, nameOf(s)), allow);
        if (isRelevant(s)) seen.push(s);
      }
    }
    for (const s of seen) kept.set(keyOf(namespaceOf(s), nameOf(s)), s);
  };
  for (const ns of scopes) {
    await collect(ns, o.selector);
    // Companions do not carry the user's labels: with a selector, find them separately.
    if (o.selector !== undefined) await collect(ns, Labels.role);
  }
  return { kept: [...kept.values()], names, allowReferences };
}

/**
 * Judges one policy holder: from its metadata at the scan (`full: false`), and again from the
 * full object right before acting (`full: true`). `cleanups` is the housekeeping found on the
 * way (acted on from the scan's judgement only); `claimed` says whether the pending companion
 * was taken as this Secret's.
 */
export function judgeHead<S extends SecretView>(
  head: S,
  rel: Related<S>,
  o: JudgeOptions,
): { judgement: Judgement<S>; cleanups: Cleanup[]; claimed: boolean } {
  const ns = namespaceOf(head);
  const name = nameOf(head);
  const a = annotationsOf(head);
  const cleanups: Cleanup[] = [];
  const verdict = (judgement: Judgement<S>, claimed = false) => ({ judgement, cleanups, claimed });

  const foreign = foreignManager(head);
  if (foreign !== undefined) return verdict({ action: 'skip', namespace: ns, name, secret: head, reason: foreign });
  const policyText = a[Annotations.policy] ?? '';
  const parsed = parsePolicy(policyText, o.backends);
  if ('problems' in parsed) return verdict({ action: 'invalid', namespace: ns, name, secret: head, problems: parsed.problems });
  const policy = parsed.policy;
  if (o.full) {
    const problems = bodyProblems(head, policy);
    if (problems.length > 0) return verdict({ action: 'invalid', namespace: ns, name, secret: head, problems });
  }

  let versioned: VersionedState | undefined;
  if (policy.strategy === 'versioned') {
    const { base, version } = lineageOf(head);
    const members = rel.lineages.get(keyOf(ns, base)) ?? [];
    const successor = members.find((t) => nameOf(t) !== name && lineageOf(t).version > version);
    if (successor !== undefined) return verdict({ action: 'superseded', by: nameOf(successor), base, version });
    const all = members.some((m) => nameOf(m) === name) ? [...members] : [...members, head];
    if (all.length > policy.keepVersions)
      cleanups.push({ kind: 'collect-versions', namespace: ns, base, keep: policy.keepVersions, members: all });
    let to = version + 1;
    while (rel.taken.has(versionName(base, to))) to++;
    versioned = { base, fromVersion: version, toVersion: to, toName: versionName(base, to) };
  }

  const claimed = rel.pending !== undefined;
  const found = findInFlight(head, rel.pending, policy.strategy);
  if (found.ended !== undefined) {
    // Its rotation reached an outcome; the run that recorded it stopped before deleting it.
    const { pending, id, result } = found.ended;
    cleanups.push({
      kind: 'delete-pending',
      namespace: ns,
      name: nameOf(pending),
      uid: pending.metadata?.uid,
      why: `rotation ${id} already ended (${result})`,
    });
  }
  const prev = rel.previous !== undefined && isPreviousOf(rel.previous, name) ? rel.previous : undefined;
  const base = { head, policy, policyText, previous: prev, versioned };
  const inFlight = found.inFlight;
  if (inFlight !== undefined) {
    const detail = `resuming rotation ${inFlight.id} at step ${inFlight.step}`;
    return verdict({ action: 'rotate', plan: { ...base, kind: 'resume', inFlight, detail } }, claimed);
  }

  // Judged before due-ness, so a policy the referenced Secret does not allow is reported at once;
  // a rotation in flight goes on (its reads are checked again, and the protocol ends it cleanly).
  const refused = referenceProblems(policy, ns, name, (n) =>
    rel.taken.has(n) ? { annotations: allowAnnotation(rel.allowReferences?.get(keyOf(ns, n))) } : undefined,
  );
  if (refused.length > 0) return verdict({ action: 'invalid', namespace: ns, name, secret: head, problems: refused }, claimed);

  const own = assessDue(policy.trigger, rotationRecord(head.metadata ?? {}), o.now);
  const dueness = !own.due && o.groupDue !== undefined ? { due: true as const, ...o.groupDue } : own;
  if (!dueness.due)
    return verdict(
      { action: 'not-due', namespace: ns, name, detail: dueness.detail, nextDue: dueness.nextDue, held: dueness.held },
      claimed,
    );
  return verdict(
    {
      action: 'rotate',
      plan: {
        ...base,
        kind: 'new',
        slot: dueness.slot,
        reason: dueness.reason,
        rotateNowSeen: a[Annotations.rotateNow],
        detail: dueness.detail,
      },
    },
    claimed,
  );
}

/**
 * Scans and judges from metadata. Rotations in flight come first (they are obligations), then
 * due Secrets in namespace/name order; how many of those start is decided when they are read
 * (`--max-rotations` counts only Secrets that turn out rotatable).
 */
export async function scanSecrets(deps: { secrets: Pick<SecretStore, 'listMetadata'> }, o: ScanOptions): Promise<Inventory> {
  const { kept, names, allowReferences } = await listInScope(deps, o);
  const items: UnrotatedItem[] = [];
  const cleanups: Cleanup[] = [];
  const notes: string[] = [];
  const pendings = new Map<string, SecretMetadata>();
  const previous = new Map<string, SecretMetadata>();
  const lineages = new Map<string, SecretMetadata[]>();
  const heads: SecretMetadata[] = [];
  const followed: SecretMetadata[] = [];

  for (const s of kept) {
    const ns = namespaceOf(s);
    const a = annotationsOf(s);
    const role = labelsOf(s)[Labels.role];
    const parent = a[Annotations.companionOf];
    if (a[Annotations.follow] !== undefined && role === undefined) followed.push(s);
    if (role === 'pending' && parent !== undefined) pendings.set(keyOf(ns, parent), s);
    else if (role === 'previous' && parent !== undefined) previous.set(keyOf(ns, parent), s);
    else if (a[Annotations.policy] !== undefined && a[Annotations.supersededBy] === undefined) heads.push(s);
    if (role === undefined && a[Annotations.lineage] !== undefined) {
      const k = keyOf(ns, a[Annotations.lineage]);
      if (!lineages.has(k)) lineages.set(k, []);
      lineages.get(k)!.push(s);
    }
  }

  const claimed = new Set<SecretMetadata>();
  const resumes: Candidate[] = [];
  const due: Candidate[] = [];
  const none = new Set<string>();
  const groups = new Map<
    string,
    Array<GroupMember & { meta: SecretMetadata; related: Related<SecretMetadata>; judgement: Judgement<SecretMetadata> }>
  >();
  for (const head of heads) {
    const ns = namespaceOf(head);
    const related: Related<SecretMetadata> = {
      pending: pendings.get(keyOf(ns, nameOf(head))),
      previous: previous.get(keyOf(ns, nameOf(head))),
      lineages,
      taken: names.get(ns) ?? none,
      allowReferences,
    };
    const j = judgeHead(head, related, { now: o.now, backends: o.backends, full: false });
    cleanups.push(...j.cleanups);
    if (j.claimed) claimed.add(related.pending!);
    const v = j.judgement;
    const member = groupMemberOf(head, v, o.backends);
    if (member !== undefined) {
      const k = keyOf(ns, member.policy.group!.name);
      groups.set(k, [...(groups.get(k) ?? []), { ...member, meta: head, related, judgement: v }]);
      continue;
    }
    if (v.action === 'rotate') (v.plan.kind === 'new' ? due : resumes).push({ ...v.plan, related });
    else if (v.action === 'superseded') cleanups.push({ kind: 'supersede', secret: head, by: v.by, base: v.base, version: v.version });
    else items.push(v);
  }

  for (const [k, found] of groups) {
    const [ns, name] = [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
    const d = decideGroup(ns, name, found);
    const members = found.map((m) => m.member).sort();
    for (const m of found) {
      const v = m.judgement;
      if (d.kind === 'refused') {
        items.push({
          action: 'invalid',
          namespace: ns,
          name: nameOf(m.head),
          secret: m.head,
          problems: [{ path: 'group', message: d.message }],
        });
      } else if (d.kind === 'run' && d.acting.includes(m.member)) {
        const group: GroupRun = { namespace: ns, name, members, mode: d.mode, id: d.id, due: d.due };
        let plan = v.action === 'rotate' ? v.plan : undefined;
        if (plan === undefined) {
          const again = judgeHead(m.meta, m.related, { now: o.now, backends: o.backends, full: false, groupDue: d.due });
          plan = again.judgement.action === 'rotate' ? again.judgement.plan : undefined;
        }
        if (plan !== undefined) (plan.kind === 'new' ? due : resumes).push({ ...plan, group, related: m.related });
      } else if (v.action === 'rotate') {
        items.push({
          action: 'not-due',
          namespace: ns,
          name: nameOf(m.head),
          detail:
            d.kind === 'run' && d.mode === 'abort'
              ? `rotation group ${name}: rotation ${d.id} is being undone; the group rotates again in a later run`
              : `rotation group ${name}: rotation ${d.kind === 'run' ? d.id : ''} already ended for this member`,
          held: false,
        });
      } else if (v.action !== 'superseded') items.push(v);
    }
  }

  // Pending companions nobody claims: their Secret is gone or lost its policy.
  for (const [k, p] of pendings) {
    if (claimed.has(p)) continue;
    if (backendMayHoldValues(p)) {
      notes.push(
        `pending companion ${namespaceOf(p)}/${nameOf(p)} belongs to ${k}, which no longer has a policy, but a backend already accepted its values: left in place for an operator`,
      );
      continue;
    }
    cleanups.push({
      kind: 'delete-pending',
      namespace: namespaceOf(p),
      name: nameOf(p),
      uid: p.metadata?.uid,
      why: `Secret ${k} no longer exists or has no rotation policy`,
    });
  }

  const label = (c: Candidate) => keyOf(namespaceOf(c.head), nameOf(c.head));
  due.sort((x, y) => label(x).localeCompare(label(y)));
  followed.sort((x, y) => keyOf(namespaceOf(x), nameOf(x)).localeCompare(keyOf(namespaceOf(y), nameOf(y))));
  return { candidates: [...resumes, ...due], items, cleanups, notes, lineages, followed };
}

/** A policy holder that declares a rotation group (judged rotatable or not due), as a group member. */
function groupMemberOf(head: SecretMetadata, v: Judgement<SecretMetadata>, backends: BackendRegistry): GroupMember | undefined {
  if (v.action !== 'rotate' && v.action !== 'not-due') return undefined;
  const parsed = v.action === 'rotate' ? { policy: v.plan.policy } : parsePolicy(annotationsOf(head)[Annotations.policy] ?? '', backends);
  if ('problems' in parsed || parsed.policy.group === undefined) return undefined;
  const policy = parsed.policy;
  const inFlight = v.action === 'rotate' ? v.plan.inFlight : undefined;
  return {
    member: policy.strategy === 'versioned' ? lineageOf(head).base : nameOf(head),
    head,
    policy,
    inFlight: inFlight && { id: inFlight.id, step: inFlight.step },
    due: v.action === 'rotate' && v.plan.kind === 'new' ? { slot: v.plan.slot!, reason: v.plan.reason!, detail: v.plan.detail } : undefined,
  };
}

/** The annotations a listed Secret's `allow-references` value stands for. */
const allowAnnotation = (value: string | undefined): Record<string, string> =>
  value === undefined ? {} : { [Annotations.allowReferences]: value };

/** Policy problems that depend on the Secret's body (its immutability and data keys). */
function bodyProblems(s: SecretView, policy: RotationPolicy): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  if (policy.strategy === 'in-place' && s.immutable === true) {
    problems.push({
      path: 'strategy',
      message:
        'the Secret is immutable, so in-place rotation cannot change its data; use strategy: versioned (each rotation makes a new immutable Secret and repoints consumers)',
    });
  }
  problems.push(...inputProblems(policy, new Set(Object.keys(s.data ?? {}))));
  return problems;
}
