/**
 * The rotation half of `status`: every Secret that carries a `secret-steward.io/rotation`
 * policy, with when it rotated, when it is due, what a rotation would restart and how the
 * last one ended. Due-ness, policies, ownership and consumers are the rotation module's own
 * functions ({@link assessDue}, {@link parsePolicy}, {@link foreignManager},
 * {@link resolveConsumers}), so status says exactly what the next `rotate` run would do.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { formatDuration } from '../config/options.js';
import type { SecretStore } from '../kube/secrets.js';
import type { WorkloadStore } from '../kube/workloads.js';
import { BackendRegistry } from '../rotate/backend.js';
import { SHIPPED_BACKENDS } from '../rotate/backends/index.js';
import { Annotations, Labels, type LastOutcome, parseLastOutcome } from '../rotate/metadata.js';
import { foreignManager } from '../rotate/ownership.js';
import { describeProblems, parsePolicy, type RotationPolicy, referenceProblems } from '../rotate/policy.js';
import { resolveConsumers, shortWorkload, WorkloadIndex } from '../rotate/rollout.js';
import { Rotation } from '../rotate/rotation.js';
import { assessDue, rotationRecord, type Trigger } from '../rotate/schedule.js';
import { inputProblems } from '../rotate/values.js';

/**
 * - `ok`: not due;
 * - `due`: due, for less than the grace period (the next rotate run takes it);
 * - `overdue`: due for longer than the grace period;
 * - `held`: the last rotation was rolled back; held until the next slot (or maxAge);
 * - `in-flight`: a rotation is between its steps (the next rotate run resumes it);
 * - `invalid`: the policy cannot be used (it will never rotate);
 * - `skipped`: another controller manages the Secret; rotate leaves it alone.
 */
export type RotationState = 'ok' | 'due' | 'overdue' | 'held' | 'in-flight' | 'invalid' | 'skipped';

export interface RotationStatus {
  namespace: string;
  name: string;
  state: RotationState;
  /** `0 3 * * 0 (Europe/Berlin)` or `maxAge 30d`; absent for invalid policies. */
  schedule?: string;
  strategy?: RotationPolicy['strategy'];
  created?: string;
  lastRotated?: string;
  /** Not due: when it next is. Due: the slot (or maxAge time) it became due at, when known. */
  nextDue?: string;
  dueSince?: string;
  /** Workloads a rotation restarts (`deployment/api`). */
  consumers: string[];
  lastOutcome?: LastOutcome;
  inFlight?: { rotation: string; step: string };
  /** Why, in words (the rotation module's own explanation). */
  detail: string;
}

/** The parts of a Secret the assessment reads (data values are never kept). */
export type PolicySecret = Pick<V1Secret, 'metadata' | 'type' | 'immutable'> & { dataKeys: string[] };

/**
 * What a listing saw of a Secret a policy reads (its annotations, for the opt-in), or undefined
 * when it did not see it.
 */
export type ReferencedLookup = (namespace: string, name: string) => { annotations: Record<string, string> } | undefined;

/** A Secret with a policy, and the pending companion of its rotation in flight, if any. */
export interface PolicyHolder {
  secret: PolicySecret;
  pending?: PolicySecret;
}

export function describeTrigger(t: Trigger): string {
  return t.kind === 'schedule' ? `${t.cron} (${t.timeZone})` : `maxAge ${formatDuration(t.maxAgeMs)}`;
}

const iso = (d: Date | undefined) => d?.toISOString();

/** Policies are judged with the backends the rotate job ships, so a backend policy is not "invalid" here. */
const SHIPPED_REGISTRY = new BackendRegistry(SHIPPED_BACKENDS);

/**
 * Judges one Secret at `now`. It is overdue when it was already due at `now - graceMs` (what
 * the rotation module decides for that instant): a `rotate-now` request alone is never
 * overdue, its age is unknown. Returns the policy too (for consumer resolution).
 */
export function assessRotation(
  h: PolicyHolder,
  now: Date,
  graceMs: number,
  referenced: ReferencedLookup = () => undefined,
): { status: RotationStatus; policy?: RotationPolicy } {
  const meta = h.secret.metadata ?? {};
  const a = meta.annotations ?? {};
  const base = {
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    consumers: [] as string[],
    created: meta.creationTimestamp === undefined ? undefined : new Date(meta.creationTimestamp).toISOString(),
    lastRotated: a[Annotations.lastRotated],
    lastOutcome: parseLastOutcome(a[Annotations.lastOutcome]),
  };
  const foreign = foreignManager(h.secret);
  if (foreign !== undefined) return { status: { ...base, state: 'skipped', detail: foreign } };
  const parsed = parsePolicy(a[Annotations.policy] ?? '', SHIPPED_REGISTRY);
  if ('problems' in parsed) return { status: { ...base, state: 'invalid', detail: describeProblems(parsed.problems) } };
  const policy = parsed.policy;
  const problems = [
    ...inputProblems(policy, new Set(h.secret.dataKeys)),
    ...referenceProblems(policy, base.namespace, base.name, (name) => referenced(base.namespace, name)),
  ];
  if (policy.strategy === 'in-place' && h.secret.immutable === true) {
    problems.unshift({
      path: 'strategy',
      message: 'the Secret is immutable, so in-place rotation cannot change its data; use strategy: versioned',
    });
  }
  const described = { ...base, schedule: describeTrigger(policy.trigger), strategy: policy.strategy };
  if (problems.length > 0) return { status: { ...described, state: 'invalid', detail: describeProblems(problems) }, policy };
  const advisories = policy.backend?.backend.advisories?.(policy.backend.config, new Set(h.secret.dataKeys)) ?? [];

  const record = rotationRecord(meta);
  const dueness = assessDue(policy.trigger, record, now);
  const overdue = assessDue(policy.trigger, { ...record, rotateNow: undefined }, new Date(now.getTime() - graceMs)).due;
  const inFlight = inFlightOf(h);
  const status: RotationStatus = { ...described, state: 'ok', detail: dueness.detail, ...(inFlight ? { inFlight } : {}) };
  if (dueness.due) {
    status.dueSince = dueness.reason === 'rotate-now' ? undefined : dueness.slot.replace(/^max-age@/, '');
    status.state = overdue ? 'overdue' : inFlight ? 'in-flight' : 'due';
    if (overdue) status.detail = `${dueness.detail}; due for longer than the grace period ${formatDuration(graceMs)}`;
  } else {
    status.nextDue = iso(dueness.nextDue);
    status.state = inFlight ? 'in-flight' : dueness.held ? 'held' : 'ok';
  }
  if (inFlight && !overdue)
    status.detail = `rotation ${inFlight.rotation} in flight at step ${inFlight.step}; the next rotate run resumes it`;
  if (advisories.length > 0) status.detail = [status.detail, ...advisories].join('; ');
  return { status, policy };
}

function inFlightOf(h: PolicyHolder): RotationStatus['inFlight'] {
  const a = h.secret.metadata?.annotations ?? {};
  if (a[Annotations.rotationId] !== undefined && a[Annotations.rotationStep] !== undefined) {
    return { rotation: a[Annotations.rotationId], step: a[Annotations.rotationStep] };
  }
  if (h.pending === undefined) return undefined;
  const pa = h.pending.metadata?.annotations ?? {};
  const id = h.pending.metadata?.labels?.[Labels.rotationId] ?? 'unknown';
  const outcome = parseLastOutcome(a[Annotations.lastOutcome]);
  // A leftover of a rotation that already ended is housekeeping, not a rotation in flight.
  if (outcome?.rotation === id && outcome.resumable !== true) return undefined;
  return { rotation: id, step: pa[Annotations.rotationStep] ?? 'created' };
}

/** Keeps what the assessment needs, without the data values. */
export function policySecretOf(s: V1Secret): PolicySecret {
  return { metadata: s.metadata, type: s.type, immutable: s.immutable, dataKeys: Object.keys(s.data ?? {}) };
}

export interface RotationStatusDeps {
  secrets: SecretStore;
  workloads: WorkloadStore;
}

export interface RotationStatusOptions {
  namespaces: readonly string[];
  selector?: string;
  now: Date;
  graceMs: number;
}

/**
 * Lists the Secrets in scope (page by page, keeping only policy holders and pending
 * companions, without their values), judges each, and resolves the consumers of the usable
 * policies with one listing of workloads per namespace. Sorted by namespace/name.
 */
export async function collectRotationStatus(deps: RotationStatusDeps, o: RotationStatusOptions): Promise<RotationStatus[]> {
  const heads = new Map<string, PolicySecret>();
  const pendings = new Map<string, PolicySecret>();
  /** Every listed Secret: its allow-references annotation (empty without one), for the opt-in check. */
  const allows = new Map<string, Record<string, string>>();
  const scopes: Array<string | undefined> = o.namespaces.length > 0 ? [...o.namespaces] : [undefined];
  const collect = async (ns: string | undefined, labelSelector: string | undefined) => {
    for await (const page of deps.secrets.list(ns, { labelSelector })) {
      if (page.restarted) {
        heads.clear();
        pendings.clear();
        allows.clear();
      }
      for (const s of page.items) {
        const a = s.metadata?.annotations ?? {};
        const key = `${s.metadata?.namespace}/${s.metadata?.name}`;
        const allow = a[Annotations.allowReferences];
        allows.set(key, allow === undefined ? {} : { [Annotations.allowReferences]: allow });
        if (s.metadata?.labels?.[Labels.role] === 'pending' && a[Annotations.companionOf] !== undefined) {
          pendings.set(`${s.metadata?.namespace}/${a[Annotations.companionOf]}`, policySecretOf(s));
        } else if (
          a[Annotations.policy] !== undefined &&
          a[Annotations.supersededBy] === undefined &&
          s.metadata?.labels?.[Labels.role] === undefined
        ) {
          heads.set(key, policySecretOf(s));
        }
      }
    }
  };
  for (const ns of scopes) {
    await collect(ns, o.selector);
    // Companions do not carry the user's labels: with a selector, find them separately.
    if (o.selector !== undefined) await collect(ns, Labels.role);
  }

  const index = new WorkloadIndex(deps.workloads);
  const out: RotationStatus[] = [];
  for (const [key, secret] of [...heads.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const { status, policy } = assessRotation({ secret, pending: pendings.get(key) }, o.now, o.graceMs, (ns, name) => {
      const annotations = allows.get(`${ns}/${name}`);
      return annotations === undefined ? undefined : { annotations };
    });
    if (policy !== undefined && status.state !== 'invalid') {
      // The rotation module's own resolution, on a Rotation that is never started.
      const rot = new Rotation(secret as V1Secret, policy, '', '', 'new', '', 'status');
      const consumers = await resolveConsumers(rot, index);
      status.consumers = consumers.map((w) => shortWorkload(`${w.kind}/${w.namespace}/${w.name}`));
      if (rot.warnings.length > 0) status.detail = `${status.detail}; ${rot.warnings.join('; ')}`;
    }
    out.push(status);
  }
  return out;
}
