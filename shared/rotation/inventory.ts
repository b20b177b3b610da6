import type { V1Secret } from '@kubernetes/client-node';
import { Annotations, Labels, parseLastOutcome } from './metadata.js';
import { parseVersionedName, versionName } from './names.js';
import { foreignManager } from './ownership.js';
import { parsePolicy, type PolicyProblem, type RotationPolicy } from './policy.js';
import { adoptPending, annotationsOf, isPreviousOf, labelsOf, pick } from './protocol.js';
import { Rotation, type RotationDeps, type VersionedState } from './rotation.js';
import { assessDue, rotationRecord } from './schedule.js';
import { decodeData, inputProblems } from './values.js';
import type { BackendRegistry } from './backend.js';

/**
 * The scan at the start of a run: lists the Secrets in scope once (page by page, keeping only
 * those that matter to rotation: policy holders, companions, versions) and decides for each
 * policy holder what this run does with it.
 */

/** What the run does with one Secret that carries a policy. */
export type PlanItem =
  /** Rotate (new) or continue a rotation an earlier run left in flight (`rotation.step !== 'new'`). */
  | { action: 'rotate'; rotation: Rotation; detail: string }
  /** Due, but over --max-rotations: next run. */
  | { action: 'deferred'; rotation: Rotation; detail: string }
  | { action: 'not-due'; namespace: string; name: string; detail: string; nextDue?: Date; held: boolean }
  /** Managed by someone else. */
  | { action: 'skip'; namespace: string; name: string; secret: V1Secret; reason: string }
  | { action: 'invalid'; namespace: string; name: string; secret: V1Secret; problems: PolicyProblem[] };

/** Housekeeping left by interrupted runs. */
export type Cleanup =
  /** A pending companion whose rotation already reached its outcome (or whose Secret is gone). */
  | { kind: 'delete-pending'; namespace: string; name: string; uid?: string; why: string }
  /** An older version still carrying the policy after its successor was promoted. */
  | { kind: 'supersede'; secret: V1Secret; by: string; base: string; version: number }
  /** A lineage with more versions than the policy keeps (a run stopped between promotion and collection). */
  | { kind: 'collect-versions'; namespace: string; base: string; keep: number; members: V1Secret[] };

export interface Inventory {
  items: PlanItem[];
  cleanups: Cleanup[];
  /** Notes for the log (orphans left alone...). */
  notes: string[];
  /** Versions of each versioned lineage: key `namespace/base`. */
  lineages: Map<string, V1Secret[]>;
}

export interface ScanOptions {
  /** Namespaces in scope; empty: all. */
  namespaces: readonly string[];
  selector?: string;
  maxRotations: number;
  now: Date;
  backends: BackendRegistry;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

function isRelevant(s: V1Secret): boolean {
  const a = annotationsOf(s);
  return a[Annotations.policy] !== undefined || labelsOf(s)[Labels.role] !== undefined || a[Annotations.lineage] !== undefined;
}

/** Lineage base and version of a versioned Secret. */
export function lineageOf(s: V1Secret): { base: string; version: number } {
  const a = annotationsOf(s);
  const parsed = parseVersionedName(s.metadata?.name ?? '');
  const base = a[Annotations.lineage] ?? parsed.base;
  const version = Number(a[Annotations.version] ?? (a[Annotations.lineage] === undefined || parsed.base === base ? parsed.version : 1));
  return { base, version: Number.isSafeInteger(version) && version > 0 ? version : 1 };
}

/** Lists the Secrets in scope, keeping the relevant ones and every name (for free version numbers). */
async function listInScope(deps: RotationDeps, o: ScanOptions): Promise<{ kept: V1Secret[]; names: Map<string, Set<string>> }> {
  const kept = new Map<string, V1Secret>();
  const names = new Map<string, Set<string>>();
  const scopes: Array<string | undefined> = o.namespaces.length > 0 ? [...o.namespaces] : [undefined];
  const collect = async (ns: string | undefined, labelSelector: string | undefined) => {
    const seen: V1Secret[] = [];
    for await (const page of deps.secrets.list(ns, { labelSelector })) {
      if (page.restarted) seen.length = 0;
      for (const s of page.items) {
        const nsName = s.metadata?.namespace ?? '';
        if (!names.has(nsName)) names.set(nsName, new Set());
        names.get(nsName)!.add(s.metadata?.name ?? '');
        if (isRelevant(s)) seen.push(s);
      }
    }
    for (const s of seen) kept.set(keyOf(s.metadata?.namespace ?? '', s.metadata?.name ?? ''), s);
  };
  for (const ns of scopes) {
    await collect(ns, o.selector);
    // Companions do not carry the user's labels: with a selector, find them separately.
    if (o.selector !== undefined) await collect(ns, Labels.role);
  }
  return { kept: [...kept.values()], names };
}

/**
 * Scans and classifies. Rotations in flight come first (they are obligations), then due
 * Secrets in namespace/name order; due Secrets beyond `maxRotations` are deferred.
 */
export async function scanSecrets(deps: RotationDeps, o: ScanOptions): Promise<Inventory> {
  const { kept, names } = await listInScope(deps, o);
  const items: PlanItem[] = [];
  const cleanups: Cleanup[] = [];
  const notes: string[] = [];
  const pendings = new Map<string, V1Secret>();
  const previous = new Map<string, V1Secret>();
  const lineages = new Map<string, V1Secret[]>();
  const heads: V1Secret[] = [];

  for (const s of kept) {
    const ns = s.metadata?.namespace ?? '';
    const role = labelsOf(s)[Labels.role];
    const parent = annotationsOf(s)[Annotations.companionOf];
    if (role === 'pending' && parent !== undefined) pendings.set(keyOf(ns, parent), s);
    else if (role === 'previous' && parent !== undefined) previous.set(keyOf(ns, parent), s);
    else if (annotationsOf(s)[Annotations.policy] !== undefined && annotationsOf(s)[Annotations.supersededBy] === undefined) heads.push(s);
    if (role === undefined && annotationsOf(s)[Annotations.lineage] !== undefined) {
      const k = keyOf(ns, annotationsOf(s)[Annotations.lineage]);
      if (!lineages.has(k)) lineages.set(k, []);
      lineages.get(k)!.push(s);
    }
  }

  const claimed = new Set<V1Secret>();
  const resumes: PlanItem[] = [];
  const due: Array<{ action: 'rotate'; rotation: Rotation; detail: string }> = [];

  for (const head of heads) {
    const ns = head.metadata?.namespace ?? '';
    const name = head.metadata?.name ?? '';
    const a = annotationsOf(head);
    const foreign = foreignManager(head);
    if (foreign !== undefined) {
      items.push({ action: 'skip', namespace: ns, name, secret: head, reason: foreign });
      continue;
    }
    const policyText = a[Annotations.policy];
    const parsed = parsePolicy(policyText, o.backends);
    if ('problems' in parsed) {
      items.push({ action: 'invalid', namespace: ns, name, secret: head, problems: parsed.problems });
      continue;
    }
    const policy = parsed.policy;
    const problems = validateForSecret(head, policy);
    if (problems.length > 0) {
      items.push({ action: 'invalid', namespace: ns, name, secret: head, problems });
      continue;
    }

    let versioned: VersionedState | undefined;
    if (policy.strategy === 'versioned') {
      const { base, version } = lineageOf(head);
      const successor = (lineages.get(keyOf(ns, base)) ?? []).find((t) => t !== head && lineageOf(t).version > version);
      if (successor !== undefined) {
        cleanups.push({ kind: 'supersede', secret: head, by: successor.metadata!.name!, base, version });
        continue;
      }
      const members = lineages.get(keyOf(ns, base)) ?? [];
      const all = members.includes(head) ? members : [...members, head];
      if (all.length > policy.keepVersions) cleanups.push({ kind: 'collect-versions', namespace: ns, base, keep: policy.keepVersions, members: all });
      let to = version + 1;
      const taken = names.get(ns) ?? new Set<string>();
      while (taken.has(versionName(base, to))) to++;
      versioned = { base, fromVersion: version, toVersion: to, toName: versionName(base, to) };
    }

    const pending = pendings.get(keyOf(ns, name));
    if (pending !== undefined) claimed.add(pending);
    const lastOutcome = parseLastOutcome(a[Annotations.lastOutcome]);
    const pendingId = pending === undefined ? undefined : labelsOf(pending)[Labels.rotationId];
    let livePending = pending;
    if (pending !== undefined && pendingId !== undefined && pendingId === lastOutcome?.rotation && lastOutcome.resumable !== true && a[Annotations.rotationId] !== pendingId) {
      // Its rotation reached an outcome; the run that recorded it stopped before deleting it.
      cleanups.push({ kind: 'delete-pending', namespace: ns, name: pending.metadata!.name!, uid: pending.metadata?.uid, why: `rotation ${pendingId} already ended (${lastOutcome.result})` });
      livePending = undefined;
    }

    const headStep = a[Annotations.rotationStep];
    const prev = previous.get(keyOf(ns, name));
    if (policy.strategy === 'in-place' && a[Annotations.rotationId] !== undefined && (headStep === 'finished' || headStep === 'rolling-back')) {
      const rot = new Rotation(head, policy, policyText, a[Annotations.rotationId], headStep, a[Annotations.rotationSlot] ?? 'unknown', 'resumed');
      if (livePending !== undefined && labelsOf(livePending)[Labels.rotationId] === rot.id) adoptPending(rot, livePending, deps);
      rot.step = headStep;
      const keys = rot.newValues !== undefined ? [...rot.newValues.keys()] : policy.rotatedKeys;
      const headData = decodeData(head.data);
      // After promotion the Secret holds exactly what was promoted (templates included).
      if (headStep === 'finished') rot.newValues = pick(headData, keys);
      if (prev !== undefined && isPreviousOf(prev, name)) {
        rot.previous = prev;
        rot.oldValues = pick(decodeData(prev.data), keys);
      }
      for (const v of [...(rot.newValues?.values() ?? []), ...(rot.oldValues?.values() ?? [])]) deps.register(v);
      resumes.push({ action: 'rotate', rotation: rot, detail: `resuming rotation ${rot.id} at step ${headStep}` });
      continue;
    }
    if (livePending !== undefined) {
      const rot = new Rotation(head, policy, policyText, pendingId ?? 'unknown', 'created', 'unknown', 'resumed');
      rot.versioned = versioned;
      rot.previous = prev !== undefined && isPreviousOf(prev, name) ? prev : undefined;
      adoptPending(rot, livePending, deps);
      rot.oldValues = pick(decodeData(head.data), rot.newValues!.keys());
      for (const v of rot.oldValues.values()) deps.register(v);
      resumes.push({ action: 'rotate', rotation: rot, detail: `resuming rotation ${rot.id} at step ${rot.step}` });
      continue;
    }

    const dueness = assessDue(policy.trigger, rotationRecord(head.metadata ?? {}), o.now);
    if (!dueness.due) {
      items.push({ action: 'not-due', namespace: ns, name, detail: dueness.detail, nextDue: dueness.nextDue, held: dueness.held });
      continue;
    }
    const rot = new Rotation(head, policy, policyText, '', 'new', dueness.slot, dueness.reason);
    rot.versioned = versioned;
    rot.rotateNowSeen = a[Annotations.rotateNow];
    rot.previous = prev !== undefined && isPreviousOf(prev, name) ? prev : undefined;
    due.push({ action: 'rotate', rotation: rot, detail: dueness.detail });
  }

  // Pending companions nobody claims: their Secret is gone or lost its policy.
  for (const [k, p] of pendings) {
    if (claimed.has(p)) continue;
    const step = annotationsOf(p)[Annotations.rotationStep];
    if (step === 'set' || step === 'tested') {
      notes.push(`pending companion ${p.metadata?.namespace}/${p.metadata?.name} belongs to ${k}, which no longer has a policy, but a backend already accepted its values: left in place for an operator`);
      continue;
    }
    cleanups.push({ kind: 'delete-pending', namespace: p.metadata?.namespace ?? '', name: p.metadata!.name!, uid: p.metadata?.uid, why: `Secret ${k} no longer exists or has no rotation policy` });
  }

  due.sort((x, y) => x.rotation.label.localeCompare(y.rotation.label));
  const limit = o.maxRotations > 0 ? o.maxRotations : Infinity;
  const out: PlanItem[] = [...resumes];
  due.forEach((d, i) => out.push(i < limit ? d : { action: 'deferred', rotation: d.rotation, detail: `${d.detail}; deferred: --max-rotations ${o.maxRotations} reached` }));
  out.push(...items);
  return { items: out, cleanups, notes, lineages };
}

/** Policy problems that depend on the Secret itself. */
function validateForSecret(s: V1Secret, policy: RotationPolicy): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  if (policy.strategy === 'in-place' && s.immutable === true) {
    problems.push({ path: 'strategy', message: 'the Secret is immutable, so in-place rotation cannot change its data; use strategy: versioned (each rotation makes a new immutable Secret and repoints consumers)' });
  }
  problems.push(...inputProblems(policy, new Set(Object.keys(s.data ?? {}))));
  return problems;
}

