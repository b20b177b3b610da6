/**
 * The follow-mode half of `status`: every Secret that opts in with `secret-steward.io/follow`,
 * its consumers, and whether each runs the Secret's current data, judged with follow mode's own
 * functions (shared/rotate/follow.ts): the digest of the data under the rotate job's key,
 * compared with the digest the consumer's pod template records, and the workload's rollout.
 */
import { errorText } from '../errors/index.js';
import { toolNamespace } from '../kube/job-lock.js';
import type { SecretMetadata, SecretStore } from '../kube/secrets.js';
import { rolloutState, type WorkloadStore } from '../kube/workloads.js';
import { redactor } from '../log/index.js';
import { dataDigest, FOLLOW_KEY_SECRET, followedDigests, loadFollowKey, parseFollow } from '../rotate/follow.js';
import { Annotations, Labels } from '../rotate/metadata.js';
import { foreignManager } from '../rotate/ownership.js';
import { shortWorkload, WorkloadIndex, workloadKey } from '../rotate/rollout.js';
import { referencesAny } from '../rotate/secret-refs.js';

/**
 * - `current`: the pods started from a template recording the current data, and its rollout is done;
 * - `stale`: the data changed since the template's last restart (the next rotate run restarts it);
 * - `rolling-out`: restarted for the current data, rollout in progress;
 * - `failed`: restarted for the current data, rollout failed (not restarted again for this data);
 * - `unknown`: the digest key could not be read.
 */
export type FollowConsumerState = 'current' | 'stale' | 'rolling-out' | 'failed' | 'unknown';

export interface FollowStatus {
  namespace: string;
  name: string;
  /** Why the Secret is not followed (invalid opt-in, rotated by secret-steward), or the key problem. */
  detail?: string;
  consumers: Array<{ workload: string; state: FollowConsumerState; message: string }>;
}

export interface FollowStatusDeps {
  secrets: Pick<SecretStore, 'listMetadata' | 'get' | 'create'>;
  workloads: WorkloadStore;
}

/** Lists followed Secrets (metadata only), reads each in full to digest its data, and judges its consumers. */
export async function collectFollowStatus(
  deps: FollowStatusDeps,
  o: { namespaces: readonly string[]; selector?: string },
): Promise<FollowStatus[]> {
  const found: SecretMetadata[] = [];
  for (const ns of o.namespaces.length > 0 ? [...o.namespaces] : [undefined]) {
    const seen: SecretMetadata[] = [];
    for await (const page of deps.secrets.listMetadata(ns, { labelSelector: o.selector })) {
      if (page.restarted) seen.length = 0;
      for (const s of page.items)
        if (s.metadata?.annotations?.[Annotations.follow] !== undefined && s.metadata.labels?.[Labels.role] === undefined) seen.push(s);
    }
    found.push(...seen);
  }
  if (found.length === 0) return [];
  const keyNamespace = toolNamespace({ lockNamespace: undefined });
  let key: Buffer | undefined;
  let keyProblem: string | undefined;
  try {
    key = await loadFollowKey(deps.secrets, keyNamespace, false, (v) => redactor.register(v));
    if (key === undefined) keyProblem = `no digest key yet (${keyNamespace}/${FOLLOW_KEY_SECRET}): no rotate run has followed anything`;
  } catch (e) {
    keyProblem = `cannot read the digest key ${keyNamespace}/${FOLLOW_KEY_SECRET}: ${errorText(e)}`;
  }
  const index = new WorkloadIndex(deps.workloads);
  const out: FollowStatus[] = [];
  const label = (s: SecretMetadata) => `${s.metadata?.namespace}/${s.metadata?.name}`;
  for (const s of found.sort((a, b) => label(a).localeCompare(label(b)))) {
    const namespace = s.metadata?.namespace ?? '';
    const name = s.metadata?.name ?? '';
    const status: FollowStatus = { namespace, name, consumers: [] };
    out.push(status);
    if (s.metadata?.annotations?.[Annotations.policy] !== undefined && foreignManager(s) === undefined) {
      status.detail = 'not followed: it has a rotation policy (its rotations restart its consumers)';
      continue;
    }
    const parsed = parseFollow(s.metadata?.annotations?.[Annotations.follow] ?? '');
    if ('problem' in parsed) {
      status.detail = `not followed: invalid ${Annotations.follow}: ${parsed.problem}`;
      continue;
    }
    const all = await index.all(namespace);
    const consumers =
      parsed.consumers === 'auto'
        ? all.filter((w) => w.rollsOut && referencesAny(w, new Set([name])))
        : parsed.consumers.flatMap((c) => all.filter((w) => w.kind === c.kind && w.name === c.name));
    let digest: string | undefined;
    if (key !== undefined) {
      const full = await deps.secrets.get(namespace, name);
      digest = full === undefined ? undefined : dataDigest(key, full.data);
    }
    if (keyProblem !== undefined) status.detail = keyProblem;
    for (const w of consumers) {
      const workload = shortWorkload(workloadKey(w.kind, w.namespace, w.name));
      if (digest === undefined) {
        status.consumers.push({ workload, state: 'unknown', message: keyProblem ?? 'the Secret is gone' });
        continue;
      }
      const recorded = followedDigests(w)[name];
      if (recorded !== digest) {
        status.consumers.push({
          workload,
          state: 'stale',
          message:
            recorded === undefined
              ? 'never restarted by follow mode: the next rotate run restarts it'
              : 'the data changed since its last restart: the next rotate run restarts it',
        });
        continue;
      }
      const r = rolloutState(w, w.generation);
      const state = r.state === 'done' ? 'current' : r.state === 'failed' ? 'failed' : 'rolling-out';
      status.consumers.push({ workload, state, message: r.message });
    }
  }
  return out;
}
