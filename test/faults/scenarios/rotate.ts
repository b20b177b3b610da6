/**
 * `rotate` in both strategies, on the worlds of the crash tests (test/jobs/rotate-crash.test.ts):
 * - in-place: `shop/db` (username, password, a DATABASE_URL template embedding the password),
 *   due by maxAge, consumed by two Deployments (envFrom, env);
 * - versioned: `shop/keys-v2` (v1 superseded before it), keepVersions 2, consumed by a
 *   Deployment (envFrom) and a CronJob (env).
 * The original values hold canaries. "Fully rotated" means: every rotated key differs from
 * the original, the template embeds the new password, and the original is recoverable
 * (`db-previous`, or the old version `keys-v2`). The world-building and state helpers are
 * exported for other rotate scenarios (a rotation backend's).
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeEmulator } from '../../emulator/index.js';
import { podTemplate, type WorkloadRefs } from '../../shared/rotate/support/cluster.js';
import type { SecretView } from '../invariants.js';
import { type CaseWorld, LOCK_NAMESPACE } from '../lab.js';
import type { Scenario } from './scenario.js';
import { valuesIn } from './shop.js';

const NS = 'shop';
const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const b64 = (v: string) => Buffer.from(v).toString('base64');
const urlencode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

type Refs = Pick<WorkloadRefs, 'envFrom' | 'env'>;

export function deployment(emulator: KubeEmulator, name: string, refs: Refs): void {
  emulator.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: podTemplate(name, refs) },
  });
}

function cronJob(emulator: KubeEmulator, name: string, refs: Refs): void {
  const template = podTemplate(name, refs) as { spec: Record<string, unknown> };
  template.spec.restartPolicy = 'Never';
  emulator.create({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: NS },
    spec: { schedule: '0 * * * *', jobTemplate: { spec: { template } } },
  });
}

export function secret(
  emulator: KubeEmulator,
  name: string,
  data: Record<string, string>,
  annotations: Record<string, string>,
  immutable = false,
): void {
  emulator.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: NS, annotations },
    type: 'Opaque',
    immutable,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  } as never);
}

export function secrets(world: CaseWorld): SecretView[] {
  return world.emulator.list('v1', 'Secret', NS) as unknown as SecretView[];
}

/** A Secret's data decoded to text, or undefined when it does not exist. */
export function data(world: CaseWorld, name: string): Record<string, string> | undefined {
  const s = world.emulator.get('v1', 'Secret', NS, name) as unknown as SecretView | undefined;
  return s && Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
}

interface Workload {
  kind: 'Deployment' | 'CronJob';
  metadata: { name: string; generation?: number };
  spec: { replicas?: number; template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } };
  status?: { observedGeneration?: number; availableReplicas?: number; updatedReplicas?: number };
}
type PodTemplate = { metadata?: { annotations?: Record<string, string> }; spec: unknown };

function workloads(world: CaseWorld): Workload[] {
  return [...world.emulator.list('apps/v1', 'Deployment', NS), ...world.emulator.list('batch/v1', 'CronJob', NS)] as unknown as Workload[];
}

function templateOf(w: Workload): PodTemplate {
  return w.kind === 'CronJob' ? w.spec.jobTemplate!.spec.template : w.spec.template!;
}

/** Names of the Secrets a pod template references. */
function refsOf(w: Workload): string[] {
  const names = new Set<string>();
  for (const m of JSON.stringify(templateOf(w).spec).matchAll(/"(?:secretRef|secretKeyRef)":\{[^}]*"name":"([^"]+)"/g)) names.add(m[1]);
  return [...names].sort();
}

/** Consumers must never point at a Secret that does not exist (their pods would not start). */
export function danglingReferences(world: CaseWorld): string[] {
  const existing = new Set(secrets(world).map((s) => s.metadata.name));
  return workloads(world).flatMap((w) =>
    refsOf(w)
      .filter((n) => !existing.has(n))
      .map((n) => `${w.kind} ${NS}/${w.metadata.name} references Secret ${n}, which does not exist`),
  );
}

/**
 * The state a rerun must reach, with values replaced by what they are: `orig:<secret>/<key>`
 * (equal to a value as seeded) or `new`; annotation values that hold times or ids replaced by
 * their presence; workloads by the Secrets they reference, whether their last restart was for
 * the newest rotation, and whether they are rolled out.
 */
export function rotationState(world: CaseWorld, originals: ReadonlyMap<string, string>): unknown {
  const classify = (v: string) =>
    [...originals]
      .filter(([, o]) => o === v)
      .map(([k]) => `orig:${k}`)
      .sort()[0] ?? 'new';
  const outcomes: Array<{ rotation: string; at: string }> = [];
  const stable = new Set([
    'secret-steward.io/lineage',
    'secret-steward.io/version',
    'secret-steward.io/superseded-by',
    'secret-steward.io/role',
  ]);
  const out: Record<string, unknown> = {};
  for (const s of secrets(world).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const a = s.metadata.annotations ?? {};
    const outcome = a['secret-steward.io/last-outcome']
      ? (JSON.parse(a['secret-steward.io/last-outcome']) as { result: string; rotation: string; at: string })
      : undefined;
    if (outcome) outcomes.push(outcome);
    out[`secret ${s.metadata.name}`] = {
      type: s.type,
      immutable: s.immutable ?? false,
      data: Object.fromEntries(
        Object.entries(s.data ?? {})
          .map(([k, v]) => [k, classify(Buffer.from(v, 'base64').toString())])
          .sort(),
      ),
      labels: Object.fromEntries(
        Object.entries(s.metadata.labels ?? {})
          .filter(([k]) => stable.has(k))
          .sort(),
      ),
      annotations: Object.fromEntries(
        Object.entries(a)
          .map(([k, v]) => [k, stable.has(k) ? v : k === 'secret-steward.io/last-outcome' ? outcome!.result : 'present'])
          .sort(),
      ),
    };
  }
  const newest = outcomes.sort((x, y) => x.at.localeCompare(y.at)).at(-1)?.rotation;
  for (const w of workloads(world)) {
    const restarted = templateOf(w).metadata?.annotations?.['secret-steward.io/restartedAt'];
    out[`${w.kind} ${w.metadata.name}`] = {
      references: refsOf(w),
      restart: restarted === undefined ? 'none' : newest !== undefined && restarted.includes(newest) ? 'for the newest rotation' : 'other',
      rolledOut:
        w.kind === 'CronJob' ||
        (w.status?.observedGeneration === w.metadata.generation &&
          w.status?.availableReplicas === w.spec.replicas &&
          w.status?.updatedReplicas === w.spec.replicas),
    };
  }
  return out;
}

export const rotateArgs = (world: CaseWorld) => [
  '--kubeconfig',
  world.kubeconfig,
  '--lock-namespace',
  LOCK_NAMESPACE,
  '--rollout-poll-interval',
  '100ms',
  '--output',
  'json',
];

interface Seeded {
  /** `secret/key` -> value as seeded. */
  originals: Map<string, string>;
}

export function originalsOf(world: CaseWorld, names: readonly string[]): Map<string, string> {
  return new Map(names.flatMap((n) => Object.entries(data(world, n) ?? {}).map(([k, v]) => [`${n}/${k}`, v] as [string, string])));
}

const common = {
  script: 'jobs/rotate.ts',
  command: async () => (await import('../../../jobs/rotate.js')).rotateCommand,
  args: rotateArgs,
  secretValues: (world: CaseWorld, seeded: Seeded) => [...valuesIn(secrets(world)), ...seeded.originals.values()],
  endState: async (world: CaseWorld, seeded: Seeded) => rotationState(world, seeded.originals),
};

const ORIGINAL_DB = {
  username: 'app',
  password: 'original-password-CANARY-7d1e',
  DATABASE_URL: 'postgres://app:original-password-CANARY-7d1e@db/app',
};

export const rotateInPlaceScenario: Scenario<Seeded> = {
  ...common,
  job: 'rotate-in-place',
  usesStore: false,
  description: 'in-place rotation of shop/db (password + URL template), 2 consuming Deployments',
  async seed(world) {
    const policy =
      'maxAge: 30d\nkeys:\n  password: { generator: password, length: 20 }\n  DATABASE_URL: { generator: template, template: "postgres://{{ username }}:{{ password | urlencode }}@db/app" }\nrollout: { waitReady: 20s }';
    world.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    secret(world.emulator, 'db', ORIGINAL_DB, { 'secret-steward.io/rotation': policy, ...LONG_AGO });
    deployment(world.emulator, 'api', { envFrom: ['db'] });
    deployment(world.emulator, 'web', { env: [['db', 'password']] });
    await world.emulator.workloads.idle();
    return { originals: originalsOf(world, ['db']) };
  },
  async check(world) {
    const out = danglingReferences(world);
    const now = data(world, 'db');
    if (now === undefined) return [...out, 'Secret shop/db was deleted'];
    if (isDeepStrictEqual(now, ORIGINAL_DB)) return out;
    if (
      now.username !== ORIGINAL_DB.username ||
      now.password === ORIGINAL_DB.password ||
      now.DATABASE_URL !== `postgres://app:${urlencode(now.password)}@db/app`
    ) {
      out.push(
        'Secret shop/db is neither unchanged nor fully rotated (a key kept its old value, or the URL does not embed the new password)',
      );
    }
    const previous = data(world, 'db-previous');
    if (previous?.password !== ORIGINAL_DB.password || previous?.DATABASE_URL !== ORIGINAL_DB.DATABASE_URL) {
      out.push('Secret shop/db was rotated but its previous values are not recoverable from shop/db-previous');
    }
    return out;
  },
};

const ORIGINAL_KEYS = { API_KEY: 'second-key-value-CANARY-91ab', REGION: 'eu-west-1' };

export const rotateVersionedScenario: Scenario<Seeded> = {
  ...common,
  job: 'rotate-versioned',
  usesStore: false,
  description: 'versioned rotation of shop/keys-v2 (keepVersions 2), a Deployment (envFrom) and a CronJob (env)',
  async seed(world) {
    const policy = 'maxAge: 30d\nstrategy: versioned\nkeepVersions: 2\nkeys: { API_KEY: token }\nrollout: { waitReady: 20s }';
    world.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    secret(
      world.emulator,
      'keys-v1',
      { API_KEY: 'first-key-value-CANARY-55c0', REGION: 'eu-west-1' },
      { 'secret-steward.io/lineage': 'keys', 'secret-steward.io/version': '1', 'secret-steward.io/superseded-by': 'keys-v2' },
      true,
    );
    secret(
      world.emulator,
      'keys-v2',
      ORIGINAL_KEYS,
      { 'secret-steward.io/rotation': policy, ...LONG_AGO, 'secret-steward.io/lineage': 'keys', 'secret-steward.io/version': '2' },
      true,
    );
    deployment(world.emulator, 'web', { envFrom: ['keys-v2'] });
    cronJob(world.emulator, 'report', { env: [['keys-v2', 'API_KEY']] });
    await world.emulator.workloads.idle();
    return { originals: originalsOf(world, ['keys-v1', 'keys-v2']) };
  },
  async check(world) {
    const out = danglingReferences(world);
    if (!isDeepStrictEqual(data(world, 'keys-v2'), ORIGINAL_KEYS))
      out.push('the current version shop/keys-v2 was deleted or changed: its values are not recoverable');
    for (const s of secrets(world)) {
      const m = /^keys-v(\d+)$/.exec(s.metadata.name);
      if (m === null || Number(m[1]) <= 2) continue;
      const d = data(world, s.metadata.name)!;
      if (d.API_KEY === ORIGINAL_KEYS.API_KEY || d.REGION !== ORIGINAL_KEYS.REGION)
        out.push(`new version shop/${s.metadata.name} is not a rotation of keys-v2 (API_KEY unchanged, or REGION not copied)`);
    }
    return out;
  },
};
