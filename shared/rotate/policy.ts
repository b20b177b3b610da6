import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../config/options.js';
import { cronProblem } from '../runtime/cron-schedule.js';
import { type ReferencedSecret, type ReferenceUse, referenceRefusal } from './allow-references.js';
import type { BackendRegistry, RotationBackend } from './backend.js';
import { GENERATORS, type Generator, isValidDataKey } from './generators/index.js';
import type { Trigger } from './schedule.js';

/**
 * The rotation policy: the document in a Secret's `secret-steward.io/rotation` annotation,
 * YAML or JSON. Every problem is reported with the path of the field it concerns
 * (`keys.password.length: ...`), all at once. Example:
 *
 * ```yaml
 * schedule: "0 3 * * 0"          # or maxAge: 30d
 * timeZone: Europe/Berlin        # IANA name; default UTC
 * strategy: in-place             # or versioned
 * keys:
 *   password: { generator: password, length: 32 }
 *   DATABASE_URL: { generator: template, template: "postgres://app:{{ password | urlencode }}@db/app" }
 * consumers: auto                # or [deployment/api, cronjob/report]
 * rollout: { restart: true, waitReady: 5m, rollbackOnFailure: true }
 * ```
 */

export type RotationStrategy = 'in-place' | 'versioned';

export const CONSUMER_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Rollout'] as const;
export type ConsumerKind = (typeof CONSUMER_KINDS)[number];

export interface ConsumerRef {
  kind: ConsumerKind;
  name: string;
}

/** One data key's generator, with the keys it writes and reads. */
export interface KeyPlan {
  key: string;
  generator: Generator;
  /** The validated spec (generator-specific shape). */
  spec: { generator: string };
  /** Keys written: `key` first, then extra outputs. */
  outputs: string[];
  /** Keys read (templates). */
  inputs: string[];
}

export interface RolloutPolicy {
  /** Restart consumers after the values change. @default true */
  restart: boolean;
  /** How long to wait for each restarted workload to be updated and available. @default 5m */
  waitReadyMs: number;
  /** Restore the previous values when a consumer does not become ready. @default true */
  rollbackOnFailure: boolean;
  /**
   * After a rollback, delete the pods of the failed revision that keep an OrderedReady
   * StatefulSet from returning to its previous revision (upstream's "forced rollback"); needs
   * the statefulset-forced-rollback component. Otherwise the run names them. @default false
   */
  forceRollback: boolean;
}

export interface RotationPolicy {
  trigger: Trigger;
  strategy: RotationStrategy;
  /** Versioned strategy: versions kept (the current one included). @default 3 */
  keepVersions: number;
  /** Generators in an order where every key is generated after the keys it reads. */
  keys: KeyPlan[];
  /** Every data key the rotation changes (all outputs), sorted. */
  rotatedKeys: string[];
  consumers: 'auto' | ConsumerRef[];
  rollout: RolloutPolicy;
  /** The backend plug-in, its validated configuration, and the data keys it writes itself. */
  backend?: { backend: RotationBackend; config: unknown; outputs: string[] };
  /** Other Secrets the generators and the backend read; each must allow it (allow-references.ts). */
  references: PolicyReference[];
  /** The rotation group this Secret belongs to (rotation-group.ts); every member names every member. */
  group?: RotationGroupPolicy;
}

/**
 * `group`: Secrets of one namespace rotated together, all or nothing (docs/rotation-groups.md).
 * A member is named by its Secret's name (in place) or its lineage's base name (versioned).
 */
export interface RotationGroupPolicy {
  name: string;
  /** Every member, this Secret included, sorted. */
  members: string[];
}

/** Another Secret of the namespace the policy's plug-ins read, for what, and the field naming it. */
export interface PolicyReference {
  secret: string;
  use: ReferenceUse;
  /** `keys["tls.crt"].issuer.secret`, `backend.adminSecretRef.name`. */
  path: string;
}

/** One problem in a policy: the field's path and what is wrong. */
export interface PolicyProblem {
  path: string;
  message: string;
}

export const DEFAULT_WAIT_READY_MS = 5 * 60_000;
export const DEFAULT_KEEP_VERSIONS = 3;

const KIND_ALIASES: Record<string, ConsumerKind> = {
  deployment: 'Deployment',
  deployments: 'Deployment',
  deploy: 'Deployment',
  statefulset: 'StatefulSet',
  statefulsets: 'StatefulSet',
  sts: 'StatefulSet',
  daemonset: 'DaemonSet',
  daemonsets: 'DaemonSet',
  ds: 'DaemonSet',
  cronjob: 'CronJob',
  cronjobs: 'CronJob',
  cj: 'CronJob',
  rollout: 'Rollout',
  rollouts: 'Rollout',
  ro: 'Rollout',
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const durationField = (min: number, max: number) =>
  z
    .string()
    .refine((v) => parseDuration(v) !== undefined, 'expected a duration such as 90s, 15m, 36h, 30d or 1w')
    .refine(
      (v) => {
        const ms = parseDuration(v);
        return ms === undefined || (ms >= min && ms <= max);
      },
      `must be between ${formatDuration(min)} and ${formatDuration(max)}`,
    );

/**
 * The policy document's own fields. `keys` values and `backend` fields are checked by each
 * generator's and backend's schema; rules across fields by `parsePolicy`. docs/rotation-policy.schema.json
 * is generated from these schemas (`policy-schema.ts`).
 */
export const policyDocumentSchema = z.strictObject({
  schedule: z.string().min(1).optional(),
  timeZone: z.string().min(1).optional(),
  maxAge: durationField(60_000, 3650 * 86_400_000).optional(),
  strategy: z.enum(['in-place', 'versioned']).default('in-place'),
  keepVersions: z.number().int().min(2).max(100).optional(),
  keys: z.record(z.string(), z.unknown()),
  consumers: z.union([z.literal('auto'), z.array(z.string())]).default('auto'),
  rollout: z
    .strictObject({
      restart: z.boolean().default(true),
      waitReady: durationField(1000, 24 * 3_600_000).optional(),
      rollbackOnFailure: z.boolean().default(true),
      forceRollback: z.boolean().default(false),
    })
    .default({ restart: true, rollbackOnFailure: true, forceRollback: false }),
  backend: z.looseObject({ name: z.string().min(1) }).optional(),
  group: z
    .strictObject({
      name: z.string().regex(DNS_LABEL, 'expected a name of lowercase letters, digits and "-" (at most 63)').max(63),
      members: z.array(z.string().min(1)).min(2, 'a group has at least two members'),
    })
    .optional(),
});

/** `keys["tls.crt"].validity`, `consumers[2]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out === '' ? '(policy)' : out;
}

function zodProblems(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: 'unknown field' });
      continue;
    }
    let message = issue.message.replace(/^Invalid (input|option): /, '');
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message))
      message = `is required (${message.replace(/, received undefined$/, '')})`;
    out.push({ path: formatPath(path), message });
  }
  return out;
}

function isObjectValue(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseKeySpec(key: string, raw: unknown, problems: PolicyProblem[]): KeyPlan | undefined {
  const at = (...rest: PropertyKey[]) => formatPath(['keys', key, ...rest]);
  if (!isValidDataKey(key)) {
    problems.push({ path: at(), message: 'is not a valid data key (letters, digits, "-", "_", ".")' });
    return undefined;
  }
  const known = [...GENERATORS.keys()].join(', ');
  const obj = typeof raw === 'string' ? { generator: raw } : raw;
  if (!isObjectValue(obj)) {
    problems.push({ path: at(), message: `expected a generator name or an object with a generator field (one of ${known})` });
    return undefined;
  }
  if (obj.generator === undefined) {
    problems.push({ path: at('generator'), message: `is required (one of ${known})` });
    return undefined;
  }
  const generator = typeof obj.generator === 'string' ? GENERATORS.get(obj.generator) : undefined;
  if (generator === undefined) {
    problems.push({ path: at('generator'), message: `unknown generator ${JSON.stringify(obj.generator)} (one of ${known})` });
    return undefined;
  }
  const parsed = generator.schema.safeParse(obj);
  if (!parsed.success) {
    problems.push(...zodProblems(parsed.error, ['keys', key]));
    return undefined;
  }
  const spec = parsed.data;
  const specProblems = generator.validate?.(key, spec) ?? [];
  for (const p of specProblems) problems.push({ path: at(...p.path), message: p.message });
  if (specProblems.length > 0) return undefined;
  return { key, generator, spec, outputs: [key, ...generator.extraOutputs(key, spec)], inputs: generator.inputs(spec) };
}

/** Orders key plans so every key comes after the generated keys it reads; reports cycles. */
function orderKeys(plans: KeyPlan[], problems: PolicyProblem[]): KeyPlan[] {
  const producer = new Map<string, KeyPlan>();
  for (const p of plans) for (const o of p.outputs) producer.set(o, p);
  const ordered: KeyPlan[] = [];
  const state = new Map<KeyPlan, 'visiting' | 'done'>();
  const visit = (p: KeyPlan, chain: string[]): boolean => {
    const s = state.get(p);
    if (s === 'done') return true;
    if (s === 'visiting') {
      problems.push({
        path: formatPath(['keys', p.key]),
        message: `templates refer to each other in a cycle: ${[...chain, p.key].join(' -> ')}`,
      });
      return false;
    }
    state.set(p, 'visiting');
    for (const input of p.inputs) {
      const dep = producer.get(input);
      if (dep !== undefined && dep !== p && !visit(dep, [...chain, p.key])) return false;
    }
    state.set(p, 'done');
    ordered.push(p);
    return true;
  };
  for (const p of plans) if (!visit(p, [])) return [];
  return ordered;
}

function parseConsumer(raw: string, index: number, problems: PolicyProblem[]): ConsumerRef | undefined {
  const m = /^([A-Za-z]+)\/(.+)$/.exec(raw.trim());
  const kind = m ? KIND_ALIASES[m[1].toLowerCase()] : undefined;
  if (m === null || kind === undefined) {
    problems.push({
      path: formatPath(['consumers', index]),
      message: `expected kind/name with kind one of deployment, statefulset, daemonset, cronjob, rollout (got "${raw}")`,
    });
    return undefined;
  }
  if (!DNS_SUBDOMAIN.test(m[2]) || m[2].length > 253) {
    problems.push({ path: formatPath(['consumers', index]), message: `"${m[2]}" is not a valid object name` });
    return undefined;
  }
  return { kind, name: m[2] };
}

/** Parses the policy document's text (YAML or JSON). */
export function parsePolicyText(text: string): { document: unknown } | { problems: PolicyProblem[] } {
  try {
    const document = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
    if (!isObjectValue(document))
      return { problems: [{ path: '(policy)', message: 'expected a YAML or JSON mapping (schedule or maxAge, keys, ...)' }] };
    return { document };
  } catch (e) {
    const first = (e as Error).message.split('\n')[0];
    return { problems: [{ path: '(policy)', message: `not valid YAML or JSON: ${first}` }] };
  }
}

/**
 * Validates a policy document. Returns the policy, or every problem found (each with the
 * path of its field). `backends` are the rotation backends this job knows.
 */
export function parsePolicy(text: string, backends?: BackendRegistry): { policy: RotationPolicy } | { problems: PolicyProblem[] } {
  const doc = parsePolicyText(text);
  if ('problems' in doc) return doc;
  const top = policyDocumentSchema.safeParse(doc.document);
  const problems: PolicyProblem[] = [];
  if (!top.success) {
    problems.push(...zodProblems(top.error));
    // Keep validating the keys when the rest is malformed, so one run shows every problem.
    const keys = (doc.document as Record<string, unknown>).keys;
    if (isObjectValue(keys)) for (const [k, v] of Object.entries(keys)) parseKeySpec(k, v, problems);
    return { problems };
  }
  const p = top.data;

  let trigger: Trigger | undefined;
  if (p.schedule !== undefined && p.maxAge !== undefined) {
    problems.push({ path: 'maxAge', message: 'give either schedule or maxAge, not both' });
  } else if (p.schedule !== undefined) {
    const timeZone = p.timeZone ?? 'UTC';
    const problem = cronProblem(p.schedule, timeZone);
    if (problem !== undefined) problems.push({ path: problem.field, message: problem.message });
    else trigger = { kind: 'schedule', cron: p.schedule, timeZone };
  } else if (p.maxAge !== undefined) {
    if (p.timeZone !== undefined)
      problems.push({ path: 'timeZone', message: 'only applies to schedule (maxAge does not depend on a time zone)' });
    trigger = { kind: 'max-age', maxAgeMs: parseDuration(p.maxAge)! };
  } else {
    problems.push({ path: 'schedule', message: 'is required: give schedule (5-field cron) or maxAge (e.g. 30d)' });
  }

  if (p.keepVersions !== undefined && p.strategy !== 'versioned')
    problems.push({ path: 'keepVersions', message: 'only applies to strategy versioned' });
  if (p.strategy === 'versioned' && !p.rollout.restart) {
    problems.push({
      path: 'rollout.restart',
      message: 'versioned rotation repoints consumers, which always rolls them out; restart: false is only for in-place',
    });
  }

  const plans: KeyPlan[] = [];
  if (Object.keys(p.keys).length === 0) problems.push({ path: 'keys', message: 'must name at least one data key to rotate' });
  for (const [k, v] of Object.entries(p.keys)) {
    const plan = parseKeySpec(k, v, problems);
    if (plan !== undefined) plans.push(plan);
  }
  const writer = new Map<string, string>();
  for (const plan of plans) {
    for (const out of plan.outputs) {
      const other = writer.get(out);
      if (other !== undefined)
        problems.push({ path: formatPath(['keys', plan.key]), message: `writes data key ${out}, which keys.${other} also writes` });
      else writer.set(out, plan.key);
    }
  }
  const ordered = problems.length === 0 ? orderKeys(plans, problems) : plans;

  let consumers: 'auto' | ConsumerRef[] = 'auto';
  if (Array.isArray(p.consumers)) {
    if (p.consumers.length === 0)
      problems.push({ path: 'consumers', message: 'an empty list restarts nothing; use auto, or rollout.restart: false' });
    consumers = p.consumers.map((c, i) => parseConsumer(c, i, problems)).filter((c): c is ConsumerRef => c !== undefined);
  }

  let backend: RotationPolicy['backend'];
  if (p.backend !== undefined) {
    const { name, ...rest } = p.backend;
    const b = backends?.get(name);
    if (b === undefined) {
      const known = backends?.names ?? [];
      problems.push({
        path: 'backend.name',
        message: `unknown rotation backend "${name}" (${known.length ? `known: ${known.join(', ')}` : 'none is installed in this build'})`,
      });
    } else {
      const parsed = b.parseConfig(rest);
      if ('problems' in parsed)
        for (const pr of parsed.problems) problems.push({ path: formatPath(['backend', ...pr.path]), message: pr.message });
      else {
        backend = { backend: b, config: parsed.config, outputs: parsed.outputs ?? [] };
        for (const out of backend.outputs) {
          const other = writer.get(out);
          if (other !== undefined)
            problems.push({
              path: formatPath(['keys', other]),
              message: `backend ${name} writes ${out} itself; remove the generator for it`,
            });
          else writer.set(out, `backend ${name}`);
        }
      }
    }
  }

  let group: RotationGroupPolicy | undefined;
  if (p.group !== undefined) {
    const members = [...new Set(p.group.members)].sort();
    if (members.length !== p.group.members.length) problems.push({ path: 'group.members', message: 'names a member twice' });
    p.group.members.forEach((m, i) => {
      if (m.includes('/'))
        problems.push({
          path: formatPath(['group', 'members', i]),
          message: `"${m}": members live in the group's namespace; name each by its Secret's name (versioned: the lineage's base name), without a namespace`,
        });
      else if (!DNS_SUBDOMAIN.test(m) || m.length > 253)
        problems.push({ path: formatPath(['group', 'members', i]), message: `"${m}" is not a valid Secret name` });
    });
    if (!p.rollout.rollbackOnFailure)
      problems.push({
        path: 'rollout.rollbackOnFailure',
        message: 'a rotation group is all or nothing: every member rolls back when one fails, so rollbackOnFailure: false is refused',
      });
    if (p.backend !== undefined)
      problems.push({
        path: 'backend',
        message:
          "a rotation group cannot include a Secret rotated through a backend (a database may already hold a member's new values when another fails); rotate it on its own",
      });
    group = { name: p.group.name, members };
  }

  if (problems.length > 0 || trigger === undefined) return { problems };
  const references: PolicyReference[] = [];
  for (const plan of ordered)
    for (const r of plan.generator.references?.(plan.spec) ?? [])
      references.push({ secret: r.secret, use: r.use, path: formatPath(['keys', plan.key, ...r.path]) });
  for (const r of backend?.backend.references?.(backend.config) ?? [])
    references.push({ secret: r.secret, use: r.use, path: formatPath(['backend', ...r.path]) });
  return {
    policy: {
      trigger,
      strategy: p.strategy,
      keepVersions: p.keepVersions ?? DEFAULT_KEEP_VERSIONS,
      keys: ordered,
      rotatedKeys: [...writer.keys()].sort(),
      consumers,
      rollout: {
        restart: p.rollout.restart,
        waitReadyMs: p.rollout.waitReady === undefined ? DEFAULT_WAIT_READY_MS : parseDuration(p.rollout.waitReady)!,
        rollbackOnFailure: p.rollout.rollbackOnFailure,
        forceRollback: p.rollout.forceRollback,
      },
      backend,
      references,
      group,
    },
  };
}

/**
 * Problems with the Secrets the policy of Secret `referrer` reads (issuer, admin credential):
 * each must allow it by its `secret-steward.io/allow-references` annotation. `lookup` gives
 * what a listing saw of a referenced Secret, or undefined when it was not seen (not in the
 * listing, or not existing): then the check is left to the read itself.
 */
export function referenceProblems(
  policy: RotationPolicy,
  namespace: string,
  referrer: string,
  lookup: (name: string) => Pick<ReferencedSecret, 'annotations'> | undefined,
): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  for (const r of policy.references) {
    const seen = lookup(r.secret);
    if (seen === undefined) continue;
    const refusal = referenceRefusal(
      { namespace, name: r.secret, annotations: seen.annotations },
      { name: referrer, versioned: policy.strategy === 'versioned' },
      r.use,
    );
    if (refusal !== undefined) problems.push({ path: r.path, message: refusal });
  }
  return problems;
}

/** `keys.password.length: must be ...; schedule: ...` */
export function describeProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('; ');
}
