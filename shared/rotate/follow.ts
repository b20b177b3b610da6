import { createHmac, randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { errorText, InterruptedError } from '../errors/index.js';
import { isKubeError, KubeError } from '../kube/kube-error.js';
import type { SecretMetadata, SecretStore } from '../kube/secrets.js';
import { type JsonPatchOp, rolloutState, type Workload } from '../kube/workloads.js';
import { mapLimit } from '../runtime/map-limit.js';
import { Annotations, Labels, MANAGED_BY } from './metadata.js';
import { foreignManager } from './ownership.js';
import { DEFAULT_WAIT_READY_MS } from './policy.js';
import {
  isFailure,
  patchWorkload,
  setAnnotationOps,
  shortWorkload,
  verifyRollout,
  type WorkloadIndex,
  type WorkloadOutcome,
  workloadKey,
  workloadSubject,
} from './rollout.js';
import type { RotationDeps } from './rotation.js';
import { annotationsOf } from './secret-access.js';
import { pointerSegment, referencesAny } from './secret-refs.js';
import { FOLLOWED_ANNOTATION } from './workload-fields.js';

/**
 * Follow mode: the consumers of a Secret that someone else manages (External Secrets,
 * cert-manager, Vault Secrets Operator, Sealed Secrets, Helm) restart once when its data
 * changes, and their rollout is verified like a rotation's (docs/follow.md).
 *
 * - Opt-in: `secret-steward.io/follow` on the Secret, written through its owner's template:
 *   `auto` (every Deployment, StatefulSet and DaemonSet of the namespace whose pod template
 *   references it) or a list `deployment/api, statefulset/db`.
 * - State: the pod-template annotation `secret-steward.io/followed`, JSON `{ "<Secret>": "<digest>" }`
 *   with a keyed digest (HMAC-SHA-256 under the key in the Secret `secret-steward-follow-key` of
 *   the job's namespace, created on first use) of the data the template last restarted for.
 *   Setting it IS the restart: the restart and its record are one write, so no crash can
 *   separate them, and a second run (or a concurrent one, whose patch's `test` fails) finds the
 *   digest current and only verifies. The followed Secret is never written: its owner rewrites
 *   it, and a digest on it would fight that owner.
 * - A failed rollout is reported (exit 1, Event `RolloutFailed`, `status`) and not undone: the
 *   template already records the data, so the workload is not restarted again for the same
 *   data; a change of the data restarts it again.
 */

/** The Secret (in the job's namespace) that holds the key of the digests. */
export const FOLLOW_KEY_SECRET = 'secret-steward-follow-key';
const FOLLOW_KEY_DATA = 'key';
const FOLLOW_KEY_BYTES = 32;

/** Kinds a follow list may name: the ones that roll out when their template changes. */
const FOLLOW_KINDS = { deployment: 'Deployment', statefulset: 'StatefulSet', daemonset: 'DaemonSet' } as const;

export type FollowConsumers = 'auto' | Array<{ kind: (typeof FOLLOW_KINDS)[keyof typeof FOLLOW_KINDS]; name: string }>;

/** Parses the value of `secret-steward.io/follow`. */
export function parseFollow(value: string): { consumers: FollowConsumers } | { problem: string } {
  const text = value.trim();
  if (text === 'auto' || text === 'true') return { consumers: 'auto' };
  const out: Exclude<FollowConsumers, 'auto'> = [];
  for (const item of text.split(',').map((x) => x.trim())) {
    const m = /^([a-z]+)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(item);
    const kind = m === null ? undefined : FOLLOW_KINDS[m[1] as keyof typeof FOLLOW_KINDS];
    if (m === null || kind === undefined)
      return {
        problem: `"${item}" is not a consumer: expected auto, or a comma-separated list of deployment/NAME, statefulset/NAME, daemonset/NAME (CronJobs read the Secret when each Job starts: nothing to restart)`,
      };
    out.push({ kind, name: m[2] });
  }
  return { consumers: out };
}

/**
 * Keyed digest of a Secret's data: HMAC-SHA-256 over every key and value (length-prefixed,
 * keys sorted), 22 base64url characters. Without the key it says nothing about the values.
 */
export function dataDigest(key: Uint8Array, data: Record<string, string> | undefined): string {
  const h = createHmac('sha256', key);
  for (const k of Object.keys(data ?? {}).sort()) {
    const v = Buffer.from(data![k], 'base64');
    h.update(`${k.length}:${k}:${v.length}:`);
    h.update(v);
  }
  return h.digest('base64url').slice(0, 22);
}

/** The digests a pod template records (`secret-steward.io/followed`); an unreadable value records nothing. */
export function followedDigests(w: Pick<Workload, 'template'>): Record<string, string> {
  const raw = w.template.metadata?.annotations?.[FOLLOWED_ANNOTATION];
  if (raw === undefined) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/**
 * The digest key: read from `<namespace>/secret-steward-follow-key`; with `create`, made (32
 * random bytes) when it does not exist yet. A create that meets AlreadyExists (a concurrent run,
 * or our own create whose answer was lost) reads the one that won. Undefined when it does not
 * exist and `create` is false.
 */
export async function loadFollowKey(
  secrets: Pick<SecretStore, 'get' | 'create'>,
  namespace: string,
  create: boolean,
  register: (v: Uint8Array) => void,
): Promise<Buffer | undefined> {
  const fromSecret = (s: V1Secret): Buffer => {
    const key = Buffer.from(s.data?.[FOLLOW_KEY_DATA] ?? '', 'base64');
    if (key.length < FOLLOW_KEY_BYTES)
      throw new Error(
        `Secret ${namespace}/${FOLLOW_KEY_SECRET} holds a ${key.length}-byte key under "${FOLLOW_KEY_DATA}"; follow mode needs at least ${FOLLOW_KEY_BYTES} (delete it: the next run makes a new one, and restarts every followed consumer once)`,
      );
    register(key);
    return key;
  };
  const found = await secrets.get(namespace, FOLLOW_KEY_SECRET);
  if (found !== undefined) return fromSecret(found);
  if (!create) return undefined;
  const key = randomBytes(FOLLOW_KEY_BYTES);
  register(key);
  try {
    const made = await secrets.create(
      namespace,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: FOLLOW_KEY_SECRET,
          namespace,
          labels: { [Labels.managedBy]: MANAGED_BY },
          annotations: {
            'kubernetes.io/description':
              'secret-steward follow mode: key of the digests in pod-template annotations secret-steward.io/followed (docs/follow.md)',
          },
        },
        type: 'Opaque',
        data: { [FOLLOW_KEY_DATA]: key.toString('base64') },
      },
      { retryUnknownOutcome: true },
    );
    return fromSecret(made);
  } catch (e) {
    if (!(e instanceof KubeError && e.alreadyExists)) throw e;
    const winner = await secrets.get(namespace, FOLLOW_KEY_SECRET);
    if (winner === undefined) throw e;
    return fromSecret(winner);
  }
}

/**
 * What happened to one consumer: `restarted` (this run restarted it and it became ready),
 * `current` (it already runs the current data), `would-restart` (dry run), `deferred` (a
 * rotation restarted it in this run: the next run follows), or a rollout state of rollout.ts
 * (`failed`, `timeout`, `error`, `paused`, `missing`, `not-verified`).
 */
export type FollowState = WorkloadOutcome['state'] | 'restarted' | 'current' | 'would-restart' | 'deferred';

export interface FollowedConsumer {
  /** `deployment/api`. */
  workload: string;
  state: FollowState;
  message: string;
  /** This run restarted it. */
  restarted: boolean;
  /** The failure came from the API server (unreachable, overloaded), not from the workload. */
  transient?: boolean;
}

export interface FollowedReport {
  namespace: string;
  name: string;
  /** `ok`, or why it is not followed (`invalid`: the opt-in; `ignored`: rotated by us; `error`: the Secret or the key could not be read). */
  state: 'ok' | 'invalid' | 'ignored' | 'missing' | 'error';
  detail: string;
  consumers: FollowedConsumer[];
  warnings?: string[];
  transient?: boolean;
}

/** Consumer states that fail the run (exit 1, or 4 when only the API server failed). */
export function isFollowFailure(state: FollowState): boolean {
  return state === 'failed' || state === 'timeout' || state === 'error';
}

export interface FollowOptions {
  dryRun: boolean;
  /** Workloads restarting and being verified at once (`--max-concurrent-rollouts`). */
  maxConcurrent: number;
  /** Namespace of the key Secret (the job's own, `--lock-namespace`). */
  keyNamespace: string;
  /** Workloads this run already restarted (rotations): not restarted twice in one run. */
  restartedThisRun: ReadonlySet<string>;
}

/** One workload's share: the followed Secrets it uses and their current digests. */
interface FollowAction {
  key: string;
  kind: Workload['kind'];
  namespace: string;
  name: string;
  waitMs: number;
  want: Map<string, string>;
}

/**
 * The follow phase of a rotate run: for every followed Secret, finds its consumers; restarts
 * each workload whose template records other data than the current (one patch however many of
 * its Secrets changed) and verifies it; checks that the others run the current data. At most
 * `maxConcurrent` workloads at a time. Reads the followed Secrets, never writes them.
 */
export async function followSecrets(
  followed: readonly SecretMetadata[],
  deps: RotationDeps,
  index: WorkloadIndex,
  o: FollowOptions,
): Promise<FollowedReport[]> {
  if (followed.length === 0) return [];
  const reports: FollowedReport[] = [];
  const active: Array<{ report: FollowedReport; consumers: FollowConsumers; secret: SecretMetadata }> = [];
  for (const s of followed) {
    const namespace = s.metadata?.namespace ?? '';
    const name = s.metadata?.name ?? '';
    const a = annotationsOf(s);
    const report: FollowedReport = { namespace, name, state: 'ok', detail: '', consumers: [] };
    reports.push(report);
    if (a[Annotations.policy] !== undefined && foreignManager(s) === undefined) {
      Object.assign(report, { state: 'ignored', detail: 'it has a rotation policy: its rotations restart its consumers' });
      continue;
    }
    const parsed = parseFollow(a[Annotations.follow] ?? '');
    if ('problem' in parsed) {
      Object.assign(report, { state: 'invalid', detail: `invalid ${Annotations.follow}: ${parsed.problem}` });
      deps.log.error({ secret: `${namespace}/${name}` }, report.detail);
      if (!o.dryRun)
        await deps.events.record({
          subject: { apiVersion: 'v1', kind: 'Secret', namespace, name, uid: s.metadata?.uid },
          type: 'Warning',
          reason: 'FollowInvalid',
          message: report.detail,
          action: 'Follow',
        });
      continue;
    }
    active.push({ report, consumers: parsed.consumers, secret: s });
  }
  if (active.length === 0) return reports;

  let key: Buffer | undefined;
  try {
    key = await loadFollowKey(deps.secrets, o.keyNamespace, !o.dryRun, deps.register);
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    const detail = `could not read or create the digest key Secret ${o.keyNamespace}/${FOLLOW_KEY_SECRET}: ${errorText(e)}`;
    deps.log.error({ err: e }, detail);
    for (const x of active) Object.assign(x.report, { state: 'error', detail, transient: isKubeError(e, (k) => k.transient) || undefined });
    return reports;
  }

  const actions = new Map<string, FollowAction>();
  const uses = new Map<FollowedReport, string[]>();
  for (const x of active) {
    deps.shutdown.checkpoint();
    const { namespace, name } = x.report;
    let digest: string | undefined;
    try {
      const full = await deps.secrets.get(namespace, name);
      if (full === undefined) {
        Object.assign(x.report, { state: 'missing', detail: 'the Secret no longer exists' });
        continue;
      }
      // Dry run before the first real run: no key yet, so every consumer would restart once.
      digest = key === undefined ? undefined : dataDigest(key, full.data);
      const all = await index.all(namespace);
      const names = new Set([name]);
      let consumers: Workload[];
      if (x.consumers === 'auto') consumers = all.filter((w) => w.rollsOut && referencesAny(w, names));
      else {
        consumers = [];
        for (const c of x.consumers) {
          const w = all.find((y) => y.kind === c.kind && y.name === c.name);
          if (w !== undefined) consumers.push(w);
          else
            x.report.warnings = [
              ...(x.report.warnings ?? []),
              `consumer ${c.kind.toLowerCase()}/${c.name} not found in namespace ${namespace}`,
            ];
        }
      }
      const keys: string[] = [];
      for (const w of consumers) {
        const k = workloadKey(w.kind, w.namespace, w.name);
        let act = actions.get(k);
        if (act === undefined) {
          act = { key: k, kind: w.kind, namespace: w.namespace, name: w.name, waitMs: DEFAULT_WAIT_READY_MS, want: new Map() };
          actions.set(k, act);
        }
        act.want.set(name, digest ?? '');
        keys.push(k);
      }
      uses.set(x.report, keys);
      x.report.detail = consumers.length === 0 ? 'no consumer found' : `${consumers.length} consumer(s)`;
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      Object.assign(x.report, { state: 'error', detail: errorText(e), transient: isKubeError(e, (k) => k.transient) || undefined });
    }
  }

  const outcomes = new Map<string, FollowedConsumer>();
  await mapLimit([...actions.values()], o.maxConcurrent, async (act) => {
    deps.shutdown.checkpoint();
    outcomes.set(act.key, await followOne(act, deps, index, o));
  });
  for (const [report, keys] of uses) report.consumers = keys.map((k) => outcomes.get(k)!);
  return reports;
}

/** Secrets of `act` whose digest the workload's template does not record. */
function staleOf(w: Workload, act: FollowAction): string[] {
  const have = followedDigests(w);
  return [...act.want].filter(([s, d]) => d === '' || have[s] !== d).map(([s]) => s);
}

/** The patch recording the current digests: the restart. Guarded by a `test` of the value it replaces. */
function followOps(w: Workload, act: FollowAction): JsonPatchOp[] {
  if (staleOf(w, act).length === 0) return [];
  const current = w.template.metadata?.annotations?.[FOLLOWED_ANNOTATION];
  const merged: Record<string, string> = { ...followedDigests(w) };
  for (const [s, d] of act.want) merged[s] = d;
  const value = JSON.stringify(Object.fromEntries(Object.entries(merged).sort(([x], [y]) => x.localeCompare(y))));
  const guard: JsonPatchOp[] =
    current === undefined
      ? []
      : [{ op: 'test', path: `${w.templatePath}/metadata/annotations/${pointerSegment(FOLLOWED_ANNOTATION)}`, value: current }];
  // Without the annotation, setAnnotationOps guards a new map with the resourceVersion; an existing
  // map gains a key that a concurrent run would add with the same value: a repeat changes nothing more.
  return [...guard, ...setAnnotationOps(w, 'template', FOLLOWED_ANNOTATION, value)];
}

async function followOne(act: FollowAction, deps: RotationDeps, index: WorkloadIndex, o: FollowOptions): Promise<FollowedConsumer> {
  const short = shortWorkload(act.key);
  const secretsText = [...act.want.keys()].join(', ');
  try {
    const w = await index.find(act.kind, act.namespace, act.name);
    if (w === undefined) return { workload: short, state: 'missing', message: 'the workload no longer exists', restarted: false };
    if (w.paused)
      return {
        workload: short,
        state: 'paused',
        message: 'paused Deployment: not restarted (its pods keep the data they started with until it is resumed)',
        restarted: false,
      };
    const stale = staleOf(w, act);
    if (o.dryRun) {
      if (stale.length > 0)
        return { workload: short, state: 'would-restart', message: `data of ${stale.join(', ')} changed`, restarted: false };
      const st = rolloutState(w, w.generation);
      return {
        workload: short,
        state: st.state === 'done' ? 'current' : st.state === 'failed' ? 'failed' : 'not-verified',
        message: st.message,
        restarted: false,
      };
    }
    if (stale.length > 0 && o.restartedThisRun.has(act.key))
      return {
        workload: short,
        state: 'deferred',
        message: `data of ${stale.join(', ')} changed, but a rotation restarted it in this run: the next run follows (one restart per workload per run)`,
        restarted: false,
      };
    const before = rolloutState(w, w.generation).state;
    const { workload, patched } = await patchWorkload(act, deps, index, (x) => followOps(x, act));
    if (workload === undefined) return { workload: short, state: 'missing', message: 'the workload no longer exists', restarted: false };
    if (patched) {
      deps.log.info(
        { workload: short, namespace: act.namespace, secrets: stale, generation: workload.generation },
        'followed Secret changed: consumer restarted',
      );
      await deps.events.record({
        subject: workloadSubject(act, workload.uid),
        type: 'Normal',
        reason: 'Restarted',
        message: `restarted by secret-steward: the data of followed Secret ${stale.join(', ')} changed`,
        action: 'Restart',
      });
    }
    const v = await verifyRollout(workload, act, deps, patched);
    if (isFailure(v.state)) {
      const message = patched ? v.message : `${v.message} (already restarted for this data: not restarted again until it changes)`;
      deps.log.warn({ workload: short, namespace: act.namespace, reason: v.message }, 'consumer of a followed Secret is not ready');
      // An Event when this run saw it fail (its restart, or one left progressing by an earlier run), not on every run.
      if (patched || before === 'progressing')
        await deps.events.record({
          subject: workloadSubject(act, workload.uid),
          type: 'Warning',
          reason: 'RolloutFailed',
          message: `rollout after followed Secret ${secretsText} changed did not complete (not undone): ${v.message}`,
          action: 'Verify',
        });
      return { workload: short, state: v.state, message, restarted: patched, transient: v.transient };
    }
    if (v.state === 'ready') return { workload: short, state: patched ? 'restarted' : 'current', message: v.message, restarted: patched };
    return { workload: short, state: v.state, message: v.message, restarted: patched };
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    return {
      workload: short,
      state: 'error',
      message: errorText(e),
      restarted: false,
      transient: isKubeError(e, (k) => k.transient) || undefined,
    };
  }
}
