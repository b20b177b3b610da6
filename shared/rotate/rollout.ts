import { formatDuration } from '../config/options.js';
import { errorText, InterruptedError } from '../errors/index.js';
import { retryOnConflict } from '../kube/conflict-retry.js';
import { isKubeError } from '../kube/kube-error.js';
import {
  apiVersionOf,
  type JsonPatchOp,
  type RolloutState,
  rolloutState,
  WORKLOAD_KINDS,
  type Workload,
  type WorkloadKind,
  type WorkloadStore,
} from '../kube/workloads.js';
import { mapLimit } from '../runtime/map-limit.js';
import { forceRollback, mayNeedForcedRollback } from './forced-rollback.js';
import { parseRestartPrevious, type RestartPrevious, restartValue, rotationsOfRestartValue } from './metadata.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { pointerSegment, referencesAny, repointOps } from './secret-refs.js';
import { RESTART_ANNOTATION, RESTART_AT_FIELD, RESTART_RECORD_ANNOTATION, restartsThroughRestartAt } from './workload-fields.js';

/**
 * Steps 5 and 6 (rollout, verify) and the workload half of a rollback.
 *
 * Consumers restart once per run however many of their Secrets rotated: the restarts of all
 * rotations are merged per workload into one JSON patch that sets the pod-template annotation
 * `secret-steward.io/restartedAt` to `<time>;<rotation ids>` (unique per rotation, so two
 * restarts in the same second never collide) and, for versioned rotations, repoints the
 * template's references. The same patch records the annotation's previous value in the
 * workload's own metadata (`secret-steward.io/restart-previous`), so a rollback restores the
 * pod template exactly (the controller then returns to the old revision, like `kubectl rollout
 * undo`). A workload whose annotation already names the rotation is not restarted again
 * (a rerun after a crash only verifies it). Paused Deployments are reported and not touched.
 *
 * Argo Rollouts restart through `spec.restartAt` instead (their controller recreates the pods
 * created before that time, without a new revision or canary steps), and their pod template is
 * changed only by repointing. Their restart-previous record then names the rotations the
 * restart was for (the template has no marker to read them from); a rollback removes it and
 * restarts once more, so that the pods read the restored values.
 *
 * Verification watches each restarted workload (one watch request, re-synced with a GET when
 * the watch ends) until the controller reports the new generation updated, ready and
 * available, or fails (Deployment ProgressDeadlineExceeded), or `waitReady` passes.
 */

export type WorkloadState = 'ready' | 'failed' | 'timeout' | 'error' | 'paused' | 'not-verified' | 'repointed' | 'missing';

export interface WorkloadOutcome {
  key: string;
  kind: WorkloadKind;
  namespace: string;
  name: string;
  state: WorkloadState;
  message: string;
  /** True when this run patched the workload. */
  patched: boolean;
  /** State `error` because the API server stayed unreachable or overloaded (not because of the workload). */
  transient?: boolean;
  /** After a rollback: pods of the failed revision the operator must delete (forced-rollback.ts). */
  blockingPods?: string[];
}

/** States that fail the rotations of the workload. */
export function isFailure(state: WorkloadState): boolean {
  return state === 'failed' || state === 'timeout' || state === 'error';
}

export const workloadKey = (kind: WorkloadKind, namespace: string, name: string) => `${kind}/${namespace}/${name}`;
const keyOfWorkload = (w: Workload) => workloadKey(w.kind, w.namespace, w.name);

/** `deployment/api` from a workload key. */
export function shortWorkload(key: string): string {
  const [kind, , name] = key.split('/');
  return `${kind.toLowerCase()}/${name}`;
}

/** The workloads of each namespace, listed once per run and kept current with patch results. */
export class WorkloadIndex {
  private readonly byNamespace = new Map<string, Promise<Map<string, Workload>>>();

  constructor(private readonly store: WorkloadStore) {}

  private load(namespace: string): Promise<Map<string, Workload>> {
    let p = this.byNamespace.get(namespace);
    if (p === undefined) {
      p = (async () => {
        const m = new Map<string, Workload>();
        for (const kind of WORKLOAD_KINDS) for (const w of await this.store.list(namespace, kind)) m.set(keyOfWorkload(w), w);
        return m;
      })();
      this.byNamespace.set(namespace, p);
      p.catch(() => this.byNamespace.delete(namespace));
    }
    return p;
  }

  async all(namespace: string): Promise<Workload[]> {
    return [...(await this.load(namespace)).values()];
  }

  async find(kind: WorkloadKind, namespace: string, name: string): Promise<Workload | undefined> {
    return (await this.load(namespace)).get(workloadKey(kind, namespace, name));
  }

  async update(w: Workload): Promise<void> {
    (await this.load(w.namespace)).set(keyOfWorkload(w), w);
  }
}

/** Names of the Secret a rotation's consumers may reference (versioned: old and new version). */
function namesOf(rot: Rotation): Set<string> {
  const names = new Set([rot.head.metadata!.name!]);
  if (rot.versioned !== undefined) names.add(rot.versioned.toName);
  return names;
}

/**
 * The consumers of a rotation: with `consumers: auto`, every Deployment, StatefulSet, DaemonSet,
 * Argo Rollout (and, for versioned rotations, CronJob) of the namespace whose pod template
 * references the Secret; otherwise the listed ones (a missing one is a warning, and so is a
 * Rollout whose template comes from `spec.workloadRef`).
 */
export async function resolveConsumers(rot: Rotation, index: WorkloadIndex): Promise<Workload[]> {
  const all = await index.all(rot.namespace);
  let out: Workload[];
  if (rot.policy.consumers === 'auto') {
    const names = namesOf(rot);
    // In place, CronJobs need nothing: each Job reads the Secret when it starts.
    out = all.filter((w) => referencesAny(w, names) && (w.rollsOut || rot.strategy === 'versioned'));
  } else {
    out = [];
    for (const c of rot.policy.consumers) {
      const w = all.find((x) => x.kind === c.kind && x.name === c.name);
      if (w === undefined) rot.warn(`consumer ${c.kind.toLowerCase()}/${c.name} not found in namespace ${rot.namespace}`);
      else if (w.workloadRef !== undefined)
        rot.warn(
          `consumer rollout/${c.name} takes its pod template from spec.workloadRef (${w.workloadRef}): not supported, list the referenced workload instead`,
        );
      else if (w.rollsOut || rot.strategy === 'versioned') out.push(w);
    }
  }
  rot.consumersFound(out.map(keyOfWorkload));
  return out;
}

/** Operations setting one annotation, on the pod template or on the object itself. */
export function setAnnotationOps(w: Workload, where: 'template' | 'object', key: string, value: string): JsonPatchOp[] {
  const base = where === 'template' ? `${w.templatePath}/metadata` : '/metadata';
  const map = where === 'template' ? w.template.metadata?.annotations : w.annotations;
  if (map !== undefined && Object.keys(map).length > 0) return [{ op: 'add', path: `${base}/annotations/${pointerSegment(key)}`, value }];
  // Creating the map could replace one written meanwhile: guard with the resourceVersion read.
  const guard: JsonPatchOp = { op: 'test', path: '/metadata/resourceVersion', value: w.resourceVersion };
  if (where === 'template' && w.template.metadata === undefined)
    return [guard, { op: 'add', path: base, value: { annotations: { [key]: value } } }];
  return [guard, { op: 'add', path: `${base}/annotations`, value: { [key]: value } }];
}

/**
 * Operations removing one annotation. When it is the only one, the whole map goes (guarded by
 * a test of its content), so a template gets back exactly the shape it had before we added it.
 */
function removeAnnotationOps(w: Workload, where: 'template' | 'object', key: string): JsonPatchOp[] {
  const map = where === 'template' ? w.template.metadata?.annotations : w.annotations;
  if (map?.[key] === undefined) return [];
  const base = `${where === 'template' ? `${w.templatePath}/metadata` : '/metadata'}/annotations`;
  if (Object.keys(map).length === 1)
    return [
      { op: 'test', path: base, value: { [key]: map[key] } },
      { op: 'remove', path: base },
    ];
  return [{ op: 'remove', path: `${base}/${pointerSegment(key)}` }];
}

/** One workload's share of the run. */
interface Action {
  key: string;
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** Rotations asking this workload to restart. */
  restartFor: Set<string>;
  /** Versioned references to change. */
  repoints: Array<{ from: string; to: string }>;
  waitMs: number;
  rotations: Rotation[];
}

function actionFor(actions: Map<string, Action>, w: Workload): Action {
  const key = keyOfWorkload(w);
  let a = actions.get(key);
  if (a === undefined) {
    a = { key, kind: w.kind, namespace: w.namespace, name: w.name, restartFor: new Set(), repoints: [], waitMs: 0, rotations: [] };
    actions.set(key, a);
  }
  return a;
}

/** The Event subject of a workload. */
export const workloadSubject = (a: { kind: WorkloadKind; namespace: string; name: string }, uid?: string) => ({
  apiVersion: apiVersionOf(a.kind),
  kind: a.kind,
  namespace: a.namespace,
  name: a.name,
  uid,
});

function secretsOf(a: Action): string {
  return [...new Set(a.rotations.map((r) => r.name))].join(', ');
}

export interface RolloutOptions {
  maxConcurrent: number;
  /** Rotation ids not yet ended: their restart markers and restart-previous records are kept. */
  inFlight: ReadonlySet<string>;
}

/** The forward patch: repoints, the restart marker and the restart-previous record. */
function forwardOps(w: Workload, a: Action, o: RolloutOptions, now: Date): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const r of a.repoints) ops.push(...repointOps(w, r.from, r.to));
  if (!w.rollsOut || a.restartFor.size === 0) return ops;
  if (restartsThroughRestartAt(w)) return [...ops, ...restartAtOps(w, a, o, now)];
  const current = w.template.metadata?.annotations?.[RESTART_ANNOTATION];
  const have = rotationsOfRestartValue(current);
  const missing = [...a.restartFor].filter((id) => !have.includes(id));
  if (missing.length === 0 && ops.length === 0) return ops;
  const tokens = [...new Set([...a.restartFor, ...have.filter((id) => o.inFlight.has(id))])];
  const earlier = parseRestartPrevious(w.annotations[RESTART_RECORD_ANNOTATION]);
  // The template was already restarted for a rotation still in flight: keep what it was before that.
  const record: RestartPrevious =
    earlier !== undefined && have.some((id) => o.inFlight.has(id))
      ? { value: earlier.value, rotations: [...new Set([...earlier.rotations, ...tokens])] }
      : { value: current ?? null, rotations: tokens };
  ops.push(
    ...setAnnotationOps(w, 'template', RESTART_ANNOTATION, restartValue(now, tokens)),
    ...setAnnotationOps(w, 'object', RESTART_RECORD_ANNOTATION, JSON.stringify(record)),
  );
  return ops;
}

/**
 * The next `spec.restartAt`: now, in whole seconds (RFC 3339, as the Argo controller reads it),
 * but always after the current one: the same value would change nothing, and the pods the last
 * restart made would not be recreated (a rollback within the second of its restart).
 */
export function restartAtValue(w: Pick<Workload, 'restartAt'>, now: Date): string {
  const previous = w.restartAt === undefined ? Number.NaN : Date.parse(w.restartAt);
  const at = Number.isNaN(previous) ? now.getTime() : Math.max(now.getTime(), previous + 1000);
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * The forward restart of a Rollout: `spec.restartAt` moved to now (unless the patch repoints the
 * template, which replaces every pod anyway) and the restart-previous record naming the
 * rotations, which is how a rerun knows the restart was done.
 */
function restartAtOps(w: Workload, a: Action, o: RolloutOptions, now: Date): JsonPatchOp[] {
  const earlier = parseRestartPrevious(w.annotations[RESTART_RECORD_ANNOTATION]);
  const have = earlier?.rotations ?? [];
  if ([...a.restartFor].every((id) => have.includes(id))) return [];
  const inFlight = have.filter((id) => o.inFlight.has(id));
  const tokens = [...new Set([...a.restartFor, ...inFlight])];
  const record: RestartPrevious =
    earlier !== undefined && inFlight.length > 0
      ? { value: earlier.value, rotations: [...new Set([...earlier.rotations, ...tokens])] }
      : { value: w.restartAt ?? null, rotations: tokens };
  const ops: JsonPatchOp[] = [];
  if (a.repoints.length === 0) ops.push({ op: 'add', path: RESTART_AT_FIELD, value: restartAtValue(w, now) });
  ops.push(...setAnnotationOps(w, 'object', RESTART_RECORD_ANNOTATION, JSON.stringify(record)));
  return ops;
}

/** The rollback patch: references back, and the template annotation as it was before. */
function restoreOps(w: Workload, a: Action, rolledBack: ReadonlySet<string>, now: Date): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const r of a.repoints) ops.push(...repointOps(w, r.from, r.to));
  if (!w.rollsOut) return ops;
  if (restartsThroughRestartAt(w)) {
    const earlier = parseRestartPrevious(w.annotations[RESTART_RECORD_ANNOTATION]);
    if (!earlier?.rotations.some((id) => rolledBack.has(id))) return ops;
    // A restart cannot be undone: restart again, so that the pods read the restored values.
    if (a.repoints.length === 0) ops.push({ op: 'add', path: RESTART_AT_FIELD, value: restartAtValue(w, now) });
    ops.push(...removeAnnotationOps(w, 'object', RESTART_RECORD_ANNOTATION));
    return ops;
  }
  const have = rotationsOfRestartValue(w.template.metadata?.annotations?.[RESTART_ANNOTATION]);
  if (!have.some((id) => rolledBack.has(id))) return ops;
  const earlier = parseRestartPrevious(w.annotations[RESTART_RECORD_ANNOTATION]);
  if (earlier === undefined) {
    // No record of the template before: restart once more instead.
    ops.push(...setAnnotationOps(w, 'template', RESTART_ANNOTATION, restartValue(now, [`rollback-${[...rolledBack].sort()[0]}`])));
    return ops;
  }
  if (earlier.value === null) ops.push(...removeAnnotationOps(w, 'template', RESTART_ANNOTATION));
  else ops.push(...setAnnotationOps(w, 'template', RESTART_ANNOTATION, earlier.value));
  ops.push(...removeAnnotationOps(w, 'object', RESTART_RECORD_ANNOTATION));
  return ops;
}

/**
 * Patches with re-read on 409/422 (the object changed since it was read); undefined when nothing had to change.
 * The patches built here may be applied twice (the store retries after a 5xx or a lost answer): their
 * `add`s set fixed values and their `replace`s and map removals are guarded by `test`s, so a repeat
 * either changes nothing or fails with 422, after which the re-read finds nothing left to do.
 */
export async function patchWorkload(
  a: Pick<Action, 'kind' | 'namespace' | 'name'>,
  deps: RotationDeps,
  index: WorkloadIndex,
  build: (w: Workload) => JsonPatchOp[],
): Promise<{ workload: Workload | undefined; patched: boolean }> {
  let w = await index.find(a.kind, a.namespace, a.name);
  return retryOnConflict(
    async (attempt) => {
      if (attempt > 1) {
        w = await deps.workloads.get(a.kind, a.namespace, a.name);
        if (w !== undefined) await index.update(w);
      }
      if (w === undefined) return { workload: undefined, patched: false };
      const ops = build(w);
      if (ops.length === 0) return { workload: w, patched: false };
      const patched = await deps.workloads.patch(a.kind, a.namespace, a.name, ops);
      await index.update(patched);
      return { workload: patched, patched: true };
    },
    // A `test` operation that failed (422) means the same as a conflict: the object changed since it was read.
    { clock: deps.clock, alsoConflict: (k) => k.invalid },
  );
}

/**
 * Waits until the workload's rollout of `generation` is done or failed, or `timeoutMs` passes.
 * Watches the object (re-synced with a GET whenever the watch ends); polls when the store
 * cannot watch. SIGTERM aborts the wait (InterruptedError): a rerun verifies again.
 */
export async function waitForRollout(
  w: Workload,
  generation: number,
  timeoutMs: number,
  deps: RotationDeps,
): Promise<{ state: 'ready' | 'failed' | 'timeout'; message: string }> {
  const deadline = deps.clock.now().getTime() + timeoutMs;
  const pollMs = deps.pollIntervalMs ?? 2000;
  let current = w;
  let st: RolloutState = rolloutState(current, generation);
  const final = (s: RolloutState) =>
    s.state === 'done' ? { state: 'ready' as const, message: s.message } : { state: 'failed' as const, message: s.message };
  while (st.state === 'progressing') {
    deps.shutdown.checkpoint();
    const remaining = deadline - deps.clock.now().getTime();
    if (remaining <= 0) return { state: 'timeout', message: `not ready after ${formatDuration(timeoutMs)}: ${st.message}` };
    if (deps.workloads.watch !== undefined) {
      const started = Date.now();
      const seen = await watchUntilSettled(current, generation, remaining, deps);
      if (seen.state !== undefined && seen.state.state !== 'progressing') return final(seen.state);
      // The timeout message says where the rollout stood last, not where it stood before the watch.
      if (seen.state !== undefined) st = seen.state;
      if (seen.timedOut) continue;
      if (Date.now() - started < 1000) await deps.clock.sleep(Math.min(pollMs, remaining), deps.shutdown.signal).catch(rethrowInterrupt);
    } else {
      await deps.clock.sleep(Math.min(pollMs, remaining), deps.shutdown.signal).catch(rethrowInterrupt);
    }
    const fresh = await deps.workloads.get(w.kind, w.namespace, w.name);
    if (fresh === undefined) return { state: 'failed', message: 'the workload was deleted during its rollout' };
    current = fresh;
    st = rolloutState(current, generation);
  }
  return final(st);
}

function rethrowInterrupt(e: unknown): never {
  if (e instanceof InterruptedError) throw e;
  throw new InterruptedError(errorText(e));
}

const warnedUnwatchable = new WeakSet<RotationDeps>();

/**
 * Per run and kind, the first watch's opening: settles once it is open or refused. Waits that
 * start together wait for it instead of each asking, so a kind the job may not watch is asked
 * once (the store then refuses further watches of that kind without a request), whatever the
 * timing of the concurrent rollouts.
 */
const firstWatches = new WeakMap<RotationDeps, Map<WorkloadKind, Promise<unknown>>>();

/** One watch: resolves on a settled rollout, when the watch ends, or at the deadline. */
async function watchUntilSettled(
  w: Workload,
  generation: number,
  remainingMs: number,
  deps: RotationDeps,
): Promise<{ state?: RolloutState; timedOut: boolean }> {
  let firsts = firstWatches.get(deps);
  if (firsts === undefined) {
    firsts = new Map();
    firstWatches.set(deps, firsts);
  }
  const first = firsts.get(w.kind);
  if (first !== undefined) await first;
  deps.shutdown.checkpoint();
  const timer = new AbortController();
  const onShutdown = () => timer.abort();
  deps.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
  let settled = false;
  let stop: (() => void) | undefined;
  /** The last state a watch event showed. */
  let last: RolloutState | undefined;
  try {
    return await new Promise<{ state?: RolloutState; timedOut: boolean }>((resolve, reject) => {
      const finish = (r: { state?: RolloutState; timedOut: boolean } | Error) => {
        if (settled) return;
        settled = true;
        if (r instanceof Error) reject(r);
        else resolve({ ...r, state: r.state ?? last });
      };
      deps.clock.sleep(remainingMs, timer.signal).then(
        () => finish({ timedOut: true }),
        () => finish(deps.shutdown.requested ? new InterruptedError('stop requested during a rollout wait') : { timedOut: false }),
      );
      const opening = deps.workloads.watch!(
        w.kind,
        w.namespace,
        w.name,
        w.resourceVersion,
        (e) => {
          if (e.workload.name !== w.name) return;
          if (e.type === 'DELETED')
            return finish({ state: { state: 'failed', message: 'the workload was deleted during its rollout' }, timedOut: false });
          const s = rolloutState(e.workload, generation);
          last = s;
          if (s.state !== 'progressing') finish({ state: s, timedOut: false });
        },
        (err) => {
          const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
          if (status === 403 && !warnedUnwatchable.has(deps)) {
            warnedUnwatchable.add(deps);
            deps.log.warn(
              { kind: w.kind },
              `cannot watch ${w.kind}s (403 Forbidden): polling rollouts every ${formatDuration(deps.pollIntervalMs ?? 2000)} instead; grant the watch verb to the job's role`,
            );
          }
          finish({ timedOut: false });
        },
      );
      if (first === undefined)
        firsts.set(
          w.kind,
          opening.catch(() => undefined),
        );
      opening.then(
        (s) => {
          stop = s;
          // The wait may have ended before the watch was even open: close it now.
          if (settled) s();
        },
        () => finish({ timedOut: false }),
      );
    });
  } finally {
    settled = true;
    deps.shutdown.signal.removeEventListener('abort', onShutdown);
    timer.abort();
    stop?.();
  }
}

/**
 * Step 6 for one workload (also follow mode's check): waits for the rollout of the workload's
 * current generation, as `waitForRollout`; CronJobs, OnDelete and partitioned StatefulSets are
 * reported as what they are.
 */
export async function verifyRollout(
  w: Workload,
  a: Pick<Action, 'key' | 'kind' | 'namespace' | 'name' | 'waitMs'>,
  deps: RotationDeps,
  patched: boolean,
): Promise<WorkloadOutcome> {
  const base = { key: a.key, kind: a.kind, namespace: a.namespace, name: a.name, patched };
  if (!w.rollsOut) return { ...base, state: 'repointed', message: 'CronJob: the next Job uses the new template' };
  if (w.onDelete)
    return { ...base, state: 'not-verified', message: 'updateStrategy OnDelete: pods pick up the change only when they are deleted' };
  const r = await waitForRollout(w, w.generation, a.waitMs, deps);
  if (r.state === 'ready' && w.kind === 'StatefulSet' && w.partition > 0) {
    // Only the ordinals at and above the partition roll; the others keep the old template (and
    // the old values in env vars) until an operator lowers the partition: verified in part.
    const updated = Math.max(0, w.replicas - w.partition);
    return {
      ...base,
      state: 'not-verified',
      message: `rollingUpdate.partition ${w.partition}: ${updated} of ${w.replicas} pods updated and ready (ordinals ${w.partition} and up); the others keep the previous pod template until the partition is lowered`,
    };
  }
  return { ...base, state: r.state, message: r.message };
}

/** Groups the rotations' consumers into one action per workload; paused Deployments become outcomes. */
async function planActions(
  rotations: readonly Rotation[],
  index: WorkloadIndex,
  forward: boolean,
): Promise<{ actions: Map<string, Action>; paused: Map<string, WorkloadOutcome> }> {
  const actions = new Map<string, Action>();
  const paused = new Map<string, WorkloadOutcome>();
  for (const rot of rotations) {
    for (const w of await resolveConsumers(rot, index)) {
      const key = keyOfWorkload(w);
      if (w.paused) {
        if (forward)
          rot.warn(`${w.kind} ${w.name} is paused: not restarted (its pods keep the old values until it is resumed and restarted)`);
        paused.set(key, {
          key,
          kind: w.kind,
          namespace: w.namespace,
          name: w.name,
          state: 'paused',
          message: `paused ${w.kind}: not touched`,
          patched: false,
        });
        continue;
      }
      const a = actionFor(actions, w);
      if (rot.versioned !== undefined) {
        a.repoints.push(
          forward
            ? { from: rot.head.metadata!.name!, to: rot.versioned.toName }
            : { from: rot.versioned.toName, to: rot.head.metadata!.name! },
        );
      }
      if (w.rollsOut) a.restartFor.add(rot.id);
      a.waitMs = Math.max(a.waitMs, rot.policy.rollout.waitReadyMs);
      a.rotations.push(rot);
    }
  }
  return { actions, paused };
}

/**
 * Patches the workload of each action with the operations `build` returns, at most
 * `maxConcurrent` at a time, then hands it to `settle` (which verifies it and sets its outcome).
 * A workload that no longer exists is `missing`; any error but SIGTERM becomes that workload's
 * `error` outcome, so one workload does not stop the others.
 */
async function patchEach(
  actions: ReadonlyMap<string, Action>,
  deps: RotationDeps,
  index: WorkloadIndex,
  o: RolloutOptions,
  outcomes: Map<string, WorkloadOutcome>,
  build: (w: Workload, a: Action, now: Date) => JsonPatchOp[],
  settle: (a: Action, workload: Workload, patched: boolean) => Promise<void>,
): Promise<void> {
  await mapLimit([...actions.values()], o.maxConcurrent, async (a) => {
    deps.shutdown.checkpoint();
    try {
      const now = deps.clock.now();
      const { workload, patched } = await patchWorkload(a, deps, index, (w) => build(w, a, now));
      if (workload === undefined) {
        outcomes.set(a.key, {
          key: a.key,
          kind: a.kind,
          namespace: a.namespace,
          name: a.name,
          state: 'missing',
          message: 'the workload no longer exists',
          patched: false,
        });
        return;
      }
      await settle(a, workload, patched);
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      outcomes.set(a.key, {
        key: a.key,
        kind: a.kind,
        namespace: a.namespace,
        name: a.name,
        state: 'error',
        message: errorText(e),
        patched: false,
        transient: isKubeError(e, (k) => k.transient),
      });
    }
  });
}

/**
 * Restarts (and, for versioned rotations, repoints) every consumer of `rotations` once, then
 * verifies each, at most `maxConcurrent` at a time. Returns one outcome per workload.
 */
export async function rollOut(
  rotations: readonly Rotation[],
  deps: RotationDeps,
  index: WorkloadIndex,
  o: RolloutOptions,
): Promise<Map<string, WorkloadOutcome>> {
  const { actions, paused } = await planActions(rotations, index, true);
  const outcomes = new Map(paused);
  for (const p of paused.values()) {
    await deps.events.record({
      subject: workloadSubject(p),
      type: 'Warning',
      reason: 'RestartSkipped',
      message: `paused ${p.kind} not restarted after a Secret rotation; resume it and restart it to use the new values`,
      action: 'Restart',
    });
  }
  await patchEach(
    actions,
    deps,
    index,
    o,
    outcomes,
    (w, a, now) => forwardOps(w, a, o, now),
    async (a, workload, patched) => {
      if (patched) {
        const what = workload.rollsOut ? 'restarted' : 'repointed';
        deps.log.info(
          { workload: shortWorkload(a.key), namespace: a.namespace, rotations: [...a.restartFor], generation: workload.generation },
          `consumer ${what}`,
        );
        await deps.events.record({
          subject: workloadSubject(a, workload.uid),
          type: 'Normal',
          reason: workload.rollsOut ? 'Restarted' : 'Repointed',
          message: `${what} by secret-steward after rotating Secret ${secretsOf(a)} (rotation ${a.rotations.map((r) => r.id).join(', ')})`,
          action: workload.rollsOut ? 'Restart' : 'Repoint',
        });
      }
      const outcome = await verifyRollout(workload, a, deps, patched);
      outcomes.set(a.key, outcome);
      if (isFailure(outcome.state)) {
        deps.log.warn({ workload: shortWorkload(a.key), namespace: a.namespace, reason: outcome.message }, 'consumer did not become ready');
        await deps.events.record({
          subject: workloadSubject(a, workload.uid),
          type: 'Warning',
          reason: 'RolloutFailed',
          message: `rollout after rotating Secret ${secretsOf(a)} did not complete: ${outcome.message}`,
          action: 'Verify',
        });
      }
    },
  );
  return outcomes;
}

/**
 * Puts the consumers of rolled-back rotations back as they were: references to the old
 * version, and the pod-template annotation restored exactly (so the controller returns to the
 * previous revision), then verifies them like a rollout.
 */
export async function restoreConsumers(
  rotations: readonly Rotation[],
  deps: RotationDeps,
  index: WorkloadIndex,
  o: RolloutOptions,
): Promise<Map<string, WorkloadOutcome>> {
  const { actions } = await planActions(rotations, index, false);
  const rolledBack = new Set(rotations.map((r) => r.id));
  const outcomes = new Map<string, WorkloadOutcome>();
  await patchEach(
    actions,
    deps,
    index,
    o,
    outcomes,
    (w, a, now) => restoreOps(w, a, rolledBack, now),
    async (a, workload, patched) => {
      if (patched) {
        deps.log.warn(
          { workload: shortWorkload(a.key), namespace: a.namespace, rotations: [...rolledBack] },
          'consumer restored to its template before the rotation',
        );
        await deps.events.record({
          subject: workloadSubject(a, workload.uid),
          type: 'Normal',
          reason: 'RolledBack',
          message: `pod template restored after the rotation of Secret ${secretsOf(a)} was rolled back`,
          action: 'Rollback',
        });
      }
      let outcome = await verifyRollout(workload, a, deps, patched);
      if (isFailure(outcome.state) && mayNeedForcedRollback(workload)) {
        const forced = await forceRollback(workload, a.rotations, rolledBack, deps);
        if (forced.result === 'deleted') {
          const again = await verifyRollout(workload, a, deps, patched);
          outcome = { ...again, message: `${forced.message}; ${again.message}` };
        } else if (forced.result === 'blocked') {
          outcome = { ...outcome, message: `${forced.message}; ${outcome.message}`, blockingPods: forced.pods };
        } else if (forced.message !== '') {
          outcome = { ...outcome, message: `${outcome.message}; ${forced.message}` };
        }
      }
      outcomes.set(a.key, outcome);
    },
  );
  return outcomes;
}
