/**
 * `rotate` in follow mode (shared/rotate/follow.ts): `shop/vendor-api`, written by External
 * Secrets (its label) and opting in with `secret-steward.io/follow: auto`, is used by two
 * Deployments that no run has restarted for it yet, so the job makes its digest key, restarts
 * each consumer once and verifies it. Invariants: the followed Secret is never written (data,
 * labels and annotations as seeded); no consumer is restarted twice for the same data; at most
 * one digest key exists, and it is a full one; after the rerun both consumers record the data
 * and are rolled out.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SecretView } from '../invariants.js';
import { type CaseWorld, LOCK_NAMESPACE } from '../lab.js';
import { danglingReferences, deployment, rotateArgs } from './rotate.js';
import type { Scenario } from './scenario.js';

const NS = 'shop';
const FOLLOWED = 'vendor-api';
const CONSUMERS = ['api', 'web'] as const;
const KEY = 'secret-steward-follow-key';
const ORIGINAL = { token: 'vendor-token-CANARY-3f9a', endpoint: 'https://vendor.example' };
const LABELS = { 'reconcile.external-secrets.io/managed': 'true' };
const ANNOTATIONS = { 'secret-steward.io/follow': 'auto' };

interface Seeded {
  /** The followed Secret as seeded (data base64). */
  followed: SecretView;
}

function get(world: CaseWorld, ns: string, name: string): SecretView | undefined {
  return world.emulator.get('v1', 'Secret', ns, name) as unknown as SecretView | undefined;
}

interface Dep {
  metadata: { generation?: number };
  spec: { replicas?: number; template: { metadata?: { annotations?: Record<string, string> } } };
  status?: { observedGeneration?: number; availableReplicas?: number; updatedReplicas?: number };
}

/** Restarts the emulator's controller saw for a consumer that carried a followed digest. */
function followRestarts(world: CaseWorld, name: string): number {
  return world.emulator.workloads.rollouts.filter(
    (r) =>
      r.kind === 'Deployment' && r.namespace === NS && r.name === name && r.templateAnnotations['secret-steward.io/followed'] !== undefined,
  ).length;
}

function consumerState(world: CaseWorld, name: string) {
  const w = world.emulator.get('apps/v1', 'Deployment', NS, name) as unknown as Dep;
  const recorded = w.spec.template.metadata?.annotations?.['secret-steward.io/followed'];
  return {
    records: recorded === undefined ? [] : Object.keys(JSON.parse(recorded) as Record<string, string>).sort(),
    followRestarts: followRestarts(world, name),
    rolledOut:
      w.status?.observedGeneration === w.metadata.generation &&
      w.status?.availableReplicas === w.spec.replicas &&
      w.status?.updatedReplicas === w.spec.replicas,
  };
}

const view = (s: SecretView | undefined) =>
  s && { data: s.data, labels: s.metadata.labels ?? {}, annotations: s.metadata.annotations ?? {} };

export const rotateFollowScenario: Scenario<Seeded> = {
  job: 'rotate-follow',
  usesStore: false,
  description: 'follow mode: shop/vendor-api (External Secrets, follow: auto) changed for 2 Deployments; digest key made on first use',
  script: 'jobs/rotate.ts',
  command: async () => (await import('../../../jobs/rotate.js')).rotateCommand,
  args: rotateArgs,
  async seed(world) {
    world.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    world.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: FOLLOWED, namespace: NS, labels: LABELS, annotations: ANNOTATIONS },
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(ORIGINAL).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    } as never);
    deployment(world.emulator, 'api', { envFrom: [FOLLOWED] });
    deployment(world.emulator, 'web', { env: [[FOLLOWED, 'token']] });
    await world.emulator.workloads.idle();
    return { followed: get(world, NS, FOLLOWED)! };
  },
  secretValues: (world) => {
    const key = get(world, LOCK_NAMESPACE, KEY)?.data?.key;
    return [...Object.values(ORIGINAL).filter((v) => v.includes('CANARY')), ...(key === undefined ? [] : [Buffer.from(key, 'base64')])];
  },
  async endState(world) {
    const key = get(world, LOCK_NAMESPACE, KEY);
    return {
      followed: view(get(world, NS, FOLLOWED)),
      key: key === undefined ? 'none' : `${Buffer.from(key.data?.key ?? '', 'base64').length} bytes`,
      ...Object.fromEntries(CONSUMERS.map((n) => [`Deployment ${n}`, consumerState(world, n)])),
    };
  },
  async check(world, seeded, phase) {
    const out = danglingReferences(world);
    if (!isDeepStrictEqual(view(get(world, NS, FOLLOWED)), view(seeded.followed)))
      out.push(`the followed Secret ${NS}/${FOLLOWED} was written (data, labels or annotations changed)`);
    const key = get(world, LOCK_NAMESPACE, KEY);
    if (key !== undefined && Buffer.from(key.data?.key ?? '', 'base64').length < 32)
      out.push(`the digest key ${LOCK_NAMESPACE}/${KEY} holds less than 32 bytes`);
    for (const n of CONSUMERS) {
      const s = consumerState(world, n);
      if (s.followRestarts > 1) out.push(`Deployment ${NS}/${n} was restarted ${s.followRestarts} times for the same data`);
      if (phase === 'after-rerun' && (s.followRestarts !== 1 || !s.rolledOut || !isDeepStrictEqual(s.records, [FOLLOWED])))
        out.push(`after the rerun, Deployment ${NS}/${n} does not record and run the current data of ${FOLLOWED}`);
    }
    return out;
  },
};
