/**
 * End-to-end RBAC proof for one job: the job's real command runs against the Kubernetes API
 * emulator with RBAC enforced, authenticated as the job's ServiceAccount, with exactly the
 * rules rendered from manifests/ (`rbacObjectsFor`) and the ValidatingAdmissionPolicies of
 * manifests/base enforced (rotate's), and against a real S3 server (s3rver,
 * through the same harness as the job tests). One emulator and one S3 server per job; `reset`
 * wipes the cluster state between runs (every namespace but the built-in ones, every
 * secret-steward ClusterRole and binding, faults, request log and RBAC decisions), so the
 * baseline run and each run with one permission removed start from the same place.
 *
 *   const e = await RbacE2E.start('backup');
 *   await e.reset(withoutPermission(objects, p));   // RBAC objects, applied as admin
 *   const r = await e.run(backupCommand, [...e.args(), ...keys]);
 *   e.usage(permissionsOf(objects))                 // which rule allowed which request
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../../shared/runtime/command.js';
import type { EmulatorOptions, RbacDecisionRecord } from '../emulator/index.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { describePermission, type Permission, permissionsOf, serviceAccountName, TOOL_NAMESPACE, withoutPermission } from './rbac.js';
import { type JobName, type ManifestObject, renderManifestsSync } from './render.js';

/** Namespaces a fresh emulator has; `reset` keeps them. */
const BUILT_IN_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
/** The emulator's admin token (EmulatorOptions.adminToken default). */
const ADMIN_TOKEN = 'emulator-admin';

/** The ValidatingAdmissionPolicies and their bindings, as rendered from manifests/base. */
export function admissionPolicies(): ManifestObject[] {
  return renderManifestsSync('manifests/base').filter(
    (o) => o.kind === 'ValidatingAdmissionPolicy' || o.kind === 'ValidatingAdmissionPolicyBinding',
  );
}

/** One run of a job's command, with everything it printed or logged as one searchable text. */
export interface JobRun extends RunResult {
  /** stdout, stderr, then one line per log record: `level: msg (err: message)`. */
  text: string;
}

/** `warn: could not record Event (err: failed to create Event ...: 403 Forbidden ...)`. */
function logLine(record: Record<string, unknown>): string {
  const err = (record.err as { message?: string } | undefined)?.message;
  return `${String(record.level)}: ${String(record.msg)}${err ? ` (err: ${err})` : ''}`;
}

/** `verb group/resource` of a permission or a request: `list secrets`, `watch apps/deployments`. */
export function accessOf(p: Pick<Permission, 'verb' | 'apiGroup' | 'resource'>): string {
  return `${p.verb} ${p.apiGroup === '' ? '' : `${p.apiGroup}/`}${p.resource}`;
}

/** Identity of a permission: its role, rule, verb and resource. */
export function permissionKey(
  p: Pick<Permission, 'roleKind' | 'roleName' | 'roleNamespace' | 'ruleIndex' | 'verb' | 'apiGroup' | 'resource'>,
): string {
  return `${p.roleKind}/${p.roleNamespace ?? ''}/${p.roleName}#${p.ruleIndex} ${accessOf(p)}`;
}

/** How the requests of a run were authorized, per permission. */
export interface Usage {
  /** Requests each permission allowed (it was the rule the authorizer stopped at). */
  allowed: Map<string, RbacDecisionRecord[]>;
  /** Requests for which this permission was the ONLY rule that allowed them: removing it must deny them. */
  solelyAllowed: Map<string, RbacDecisionRecord[]>;
  /** Requests of the job's ServiceAccount that were denied. */
  denied: RbacDecisionRecord[];
  /** Requests allowed by a rule that is not in the given permissions (should never happen). */
  foreign: RbacDecisionRecord[];
}

/** `GET list secrets (all namespaces)` for messages. */
export function describeRequest(d: RbacDecisionRecord): string {
  const where = d.namespace ? `${d.namespace}/${d.name || '*'}` : d.name || '(all namespaces)';
  return `${accessOf({ verb: d.verb, apiGroup: d.apiGroup, resource: d.resource })}${d.subresource ? `/${d.subresource}` : ''} ${where}`;
}

export class RbacE2E {
  private applied: ManifestObject[] = [];

  private constructor(
    readonly job: JobName,
    readonly h: Harness,
    /** Kubeconfig authenticating as the job's ServiceAccount. */
    readonly kubeconfig: string,
    /** Kubeconfig of the admin (system:masters), for setting up. */
    readonly adminKubeconfig: string,
  ) {}

  /** Starts an emulator (RBAC enforced, no anonymous admin) and an S3 server for `job`. */
  static async start(job: JobName, opts: Pick<EmulatorOptions, 'rolloutDelayMs' | 'crds'> = {}): Promise<RbacE2E> {
    const h = await startHarness({
      emulator: { rbac: true, anonymousIsAdmin: false, rolloutDelayMs: opts.rolloutDelayMs ?? 5, crds: opts.crds },
    });
    const kubeconfig = join(h.dir, `${job}.kubeconfig`);
    const adminKubeconfig = join(h.dir, 'admin.kubeconfig');
    await writeFile(
      kubeconfig,
      h.emulator.kubeconfigYaml({ token: h.emulator.serviceAccountToken(TOOL_NAMESPACE, serviceAccountName(job)) }),
      { mode: 0o600 },
    );
    await writeFile(adminKubeconfig, h.emulator.kubeconfigYaml({ token: ADMIN_TOKEN }), { mode: 0o600 });
    return new RbacE2E(job, h, kubeconfig, adminKubeconfig);
  }

  async stop(): Promise<void> {
    await this.h.stop();
  }

  /** The job's ServiceAccount as the API server names it. */
  get user(): string {
    return `system:serviceaccount:${TOOL_NAMESPACE}:${serviceAccountName(this.job)}`;
  }

  /**
   * Settings every job takes: the ServiceAccount's kubeconfig, the S3 store under `prefix`,
   * the cluster name and the Lease namespace.
   */
  args(prefix = 'bk', kubeconfig = this.kubeconfig): string[] {
    return [...this.kubeArgs(kubeconfig), ...this.h.s3.args(prefix), '--cluster-name', 'test-cluster'];
  }

  /** Creates namespace `name` unless it exists (the namespaced installation's RoleBindings bring theirs along). */
  ensureNamespace(name: string): void {
    if (!this.h.emulator.get('v1', 'Namespace', undefined, name))
      this.h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as never);
  }

  /** The Kubernetes settings alone (rotate has no store): kubeconfig and Lease namespace. */
  kubeArgs(kubeconfig = this.kubeconfig): string[] {
    return ['--kubeconfig', kubeconfig, '--lock-namespace', TOOL_NAMESPACE];
  }

  /**
   * Back to an empty cluster holding only `rbac` (applied as admin), the admission policies of
   * manifests/base (with their bindings; the emulator enforces them) and the tool's namespace:
   * every other namespace (with everything in it) and every secret-steward cluster-scoped RBAC
   * object is deleted, faults, the request log and RBAC decisions are cleared. S3 is kept.
   */
  async reset(rbac: readonly ManifestObject[]): Promise<void> {
    const emu = this.h.emulator;
    emu.faults.clear();
    await emu.workloads.idle();
    for (const ns of emu.list('v1', 'Namespace')) {
      const name = (ns.metadata as { name: string }).name;
      if (!BUILT_IN_NAMESPACES.has(name)) emu.delete('v1', 'Namespace', undefined, name);
    }
    for (const o of this.applied.filter((x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding')) {
      if (emu.get('rbac.authorization.k8s.io/v1', o.kind, undefined, o.metadata.name))
        emu.delete('rbac.authorization.k8s.io/v1', o.kind, undefined, o.metadata.name);
    }
    await emu.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: TOOL_NAMESPACE } }]);
    await emu.applyObjects(structuredClone([...rbac]) as never);
    await emu.applyObjects(admissionPolicies() as never);
    this.applied = [...rbac];
    emu.requests.clear();
    emu.clearRbacDecisions();
  }

  /** Runs a command in-process (the CLI's path), collecting its output into {@link JobRun.text}. */
  async run(cmd: Command<any>, args: string[], opts: { env?: Record<string, string> } = {}): Promise<JobRun> {
    const r = await this.h.run(cmd, args, opts);
    const text = [r.stdout, r.stderr, ...r.records.map(logLine)].join('\n');
    return { ...r, text };
  }

  /**
   * Runs a command as the admin (to set up, e.g. the backup a drill reads) against the store
   * under `prefix`, asserting it succeeded.
   */
  async runAsAdmin(cmd: Command<any>, extraArgs: string[], prefix = 'bk'): Promise<JobRun> {
    const r = await this.run(cmd, [...this.args(prefix, this.adminKubeconfig), ...extraArgs]);
    assert.equal(r.code, 0, `${extraArgs.join(' ')} as admin: ${r.text}`);
    return r;
  }

  /**
   * Records, as admin, every Secret created and deleted from now on (a watch from the current
   * resourceVersion): ADDED events carry the object as created, DELETED ones the object as it
   * was when deleted, i.e. what an admission policy sees as `object` and `oldObject`.
   * `stop()` ends the watch and returns the events in order.
   */
  async watchSecrets(): Promise<{ stop(): Promise<Array<{ type: string; object: Record<string, unknown> }>> }> {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const list = (await (await fetch(`${this.h.emulator.url}/api/v1/secrets?limit=1`, { headers })).json()) as {
      metadata: { resourceVersion: string };
    };
    const abort = new AbortController();
    const response = await fetch(`${this.h.emulator.url}/api/v1/secrets?watch=true&resourceVersion=${list.metadata.resourceVersion}`, {
      headers,
      signal: abort.signal,
    });
    const events: Array<{ type: string; object: Record<string, unknown> }> = [];
    let buffered = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf('\n')) !== -1) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line !== '') events.push(JSON.parse(line) as { type: string; object: Record<string, unknown> });
          }
        }
      } catch (e) {
        if (!abort.signal.aborted) throw e;
      }
    })();
    return {
      stop: async () => {
        await new Promise((r) => setTimeout(r, 50)); // let the last events arrive
        abort.abort();
        await reading;
        return events;
      },
    };
  }

  /** The job's authorization decisions since the last reset. */
  decisions(): RbacDecisionRecord[] {
    return this.h.emulator.rbacDecisions().filter((d) => d.user === this.user);
  }

  /** Which permission allowed which request, and which requests were denied. */
  usage(permissions: readonly Permission[]): Usage {
    const byKey = new Map(permissions.map((p) => [permissionKey(p), p]));
    const allowed = new Map<string, RbacDecisionRecord[]>(permissions.map((p) => [permissionKey(p), []]));
    const solelyAllowed = new Map<string, RbacDecisionRecord[]>(permissions.map((p) => [permissionKey(p), []]));
    const denied: RbacDecisionRecord[] = [];
    const foreign: RbacDecisionRecord[] = [];
    const keyOf = (d: RbacDecisionRecord, m: NonNullable<RbacDecisionRecord['matched']>) =>
      permissionKey({
        roleKind: m.roleKind,
        roleName: m.roleName,
        roleNamespace: m.roleKind === 'Role' ? m.roleNamespace : undefined,
        ruleIndex: m.ruleIndex,
        verb: d.verb,
        apiGroup: d.apiGroup,
        resource: d.resource,
      });
    for (const d of this.decisions()) {
      // Discovery (`GET /apis/<group>/<version>`, rotate's check for the Argo Rollouts CRD): every
      // authenticated identity may read it on every cluster (bootstrap ClusterRole system:discovery),
      // so it is no part of a job's RBAC.
      if (d.allowed && d.resource === '' && d.matched?.roleName === 'system:discovery') continue;
      if (!d.allowed || d.matched === undefined) {
        denied.push(d);
        continue;
      }
      const key = keyOf(d, d.matched);
      if (!byKey.has(key)) {
        foreign.push(d);
        continue;
      }
      allowed.get(key)!.push(d);
      if (d.allMatches.length === 1) solelyAllowed.get(key)!.push(d);
    }
    return { allowed, solelyAllowed, denied, foreign };
  }
}

/**
 * A permission's identity regardless of the namespace of its Role: the namespaced installation
 * grants the same Role (components/namespaced-roles) in every namespace of its scope, so the
 * unit a test removes, and expects to be used, is that Role's rule in all of them.
 */
export function ruleKey(p: Permission): string {
  return permissionKey({ ...p, roleNamespace: p.roleKind === 'Role' && p.roleName.endsWith('-scope') ? '*' : p.roleNamespace });
}

/** Permissions grouped by {@link ruleKey}, in order. */
export function ruleGroups(permissions: readonly Permission[]): Permission[][] {
  const groups = new Map<string, Permission[]>();
  for (const p of permissions) {
    const key = ruleKey(p);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(p);
  }
  return [...groups.values()];
}

/** `objects` without every permission of `group` (one per namespace of a scope Role). */
export function withoutRule(objects: readonly ManifestObject[], group: readonly Permission[]): ManifestObject[] {
  return group.reduce<ManifestObject[]>((acc, p) => withoutPermission(acc, p), [...objects]);
}

/** `ClusterRole secret-steward-backup rule 0: list secrets`, or `Role secret-steward-rotate-scope (shop, pay) rule 0: ...`. */
export function describeRule(group: readonly Permission[]): string {
  const namespaces = group.map((p) => p.roleNamespace).filter((n): n is string => n !== undefined);
  return group.length === 1 ? describePermission(group[0]) : describePermission({ ...group[0], roleNamespace: namespaces.join(', ') });
}

/** Asserts that each rule (in at least one namespace) was the only one to allow some request of the run. */
export function assertEachRuleUsed(permissions: readonly Permission[], usage: Usage): void {
  for (const group of ruleGroups(permissions))
    assert.ok(
      group.some((p) => usage.solelyAllowed.get(permissionKey(p))!.length > 0),
      `${describeRule(group)} allowed no request on its own`,
    );
}

/**
 * The table printed by the baseline test: each permission with the requests it allowed
 * (count and an example), so a reader sees which call needs which rule.
 */
export function usageTable(permissions: readonly Permission[], usage: Usage): string {
  return permissions
    .map((p) => {
      const reqs = usage.allowed.get(permissionKey(p)) ?? [];
      return `      ${describePermission(p)}: ${reqs.length} request(s)${reqs.length > 0 ? `, e.g. ${describeRequest(reqs[0])}` : ''}`;
    })
    .join('\n');
}

/** What removing one permission must visibly do to a job's run. */
export interface Signal {
  /** The exit code the run must end with. */
  code: number;
  /** Text that must appear in the run's output or logs (the observable failure or warning). */
  evidence: RegExp;
  /** What a reader should learn from it (test title). */
  says: string;
  /** Further checks of the cluster or store after the run (what the degradation left behind). */
  then?: (e: RbacE2E, run: JobRun) => void | Promise<void>;
}

/** The 403 of one API call as KubeError words it: `failed to list Secrets in all namespaces: 403 Forbidden`. */
export function forbidden(verbText: string, kind: string): RegExp {
  return new RegExp(`failed to ${verbText} ${kind}[^"]*: 403 Forbidden`);
}

/** Asserts a run shows `signal`, with the run's output in the message when it does not. */
export async function assertSignal(e: RbacE2E, run: JobRun, signal: Signal, what: string): Promise<void> {
  const tail = run.text.length > 6000 ? `…${run.text.slice(-6000)}` : run.text;
  assert.equal(run.code, signal.code, `${what}: exit ${run.code}, expected ${signal.code}\n${tail}`);
  assert.match(run.text, signal.evidence, `${what}: no ${signal.evidence} in the output\n${tail}`);
  await signal.then?.(e, run);
}

/**
 * The "no unused permission" half of a job's RBAC proof, as mocha tests: every granted
 * permission has a signal, and a run of `scenario` without that one permission is denied that
 * access and shows the signal.
 */
export function itShowsEachMissingPermission(o: {
  objects: readonly ManifestObject[];
  permissions: readonly Permission[];
  signals: Record<string, Signal>;
  e: () => RbacE2E;
  scenario: () => Promise<JobRun>;
}): void {
  /** A signal is keyed by `verb group/resource`, or with ` [names]` when a rule names its objects and another rule grants the same access. */
  const keyOf = (p: Permission) => {
    const named = p.resourceNames.length > 0 ? `${accessOf(p)} [${p.resourceNames.join(',')}]` : undefined;
    return named !== undefined && o.signals[named] !== undefined ? named : accessOf(p);
  };
  it('has an observable signal for exactly the permissions the manifests grant', () => {
    assert.deepEqual([...new Set(o.permissions.map(keyOf))].sort(), Object.keys(o.signals).sort());
  });

  for (const group of ruleGroups(o.permissions)) {
    const p = group[0];
    const signal = o.signals[keyOf(p)];
    it(`without ${describeRule(group)}: ${signal?.says ?? '(no signal defined)'}`, async () => {
      assert.ok(signal, `no signal for ${keyOf(p)}`);
      const e = o.e();
      await e.reset(withoutRule(o.objects, group));

      const r = await o.scenario();

      await assertSignal(e, r, signal, describePermission(p));
      assert.ok(
        e.usage(o.permissions).denied.some((d) => accessOf(d) === accessOf(p)),
        'the API server denied that access',
      );
    });
  }
}

/** rotate on an overlay that adds a component's rules: see {@link rotateWithComponent}. */
export interface ComponentSuite {
  /** rotate's ServiceAccount and its roles and bindings, as the overlay renders them. */
  objects: ManifestObject[];
  permissions: Permission[];
  /** The component role's permission of `verb` on its resource. */
  componentRule(verb: string): Permission;
  /** `RbacE2E.reset` with `rbac`, then the overlay's admission policies applied. */
  reset(rbac: readonly ManifestObject[]): Promise<void>;
}

/**
 * The set-up of a rotate suite on a component overlay: the overlay rendered once, rotate's RBAC
 * objects taken from it, one RbacE2E for the suite (started in a `before` hook and handed to
 * `onStart`, stopped after), and a reset that enforces every admission policy of the rendering.
 */
export function rotateWithComponent(
  o: { overlay: string; role: string; resource: string } & Pick<EmulatorOptions, 'crds'>,
  onStart: (e: RbacE2E) => void,
): ComponentSuite {
  const rendered = renderManifestsSync(o.overlay);
  const policies = rendered.filter((x) => x.kind === 'ValidatingAdmissionPolicy' || x.kind === 'ValidatingAdmissionPolicyBinding');
  const objects = rendered.filter(
    (x) =>
      (x.kind === 'ServiceAccount' && x.metadata.name === 'secret-steward-rotate') ||
      (['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(x.kind) &&
        x.metadata.name.startsWith('secret-steward-rotate')),
  );
  const permissions = permissionsOf(objects);
  let e: RbacE2E | undefined;
  before(async () => {
    e = await RbacE2E.start('rotate', o.crds === undefined ? {} : { crds: o.crds });
    onStart(e);
  });
  after(async () => e?.stop());
  return {
    objects,
    permissions,
    componentRule: (verb) => permissions.find((p) => p.roleName === o.role && p.verb === verb && p.resource === o.resource)!,
    async reset(rbac) {
      await e!.reset(rbac);
      await e!.h.emulator.applyObjects(structuredClone(policies) as never);
    },
  };
}

/** Secret shop/db: password `old-password-0001` under `policy`, last rotated long ago (due). */
export function createDueSecret(e: RbacE2E, policy: string): void {
  e.ensureNamespace('shop');
  e.h.emulator.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'db',
      namespace: 'shop',
      annotations: { 'secret-steward.io/rotation': policy, 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' },
    },
    data: { password: Buffer.from('old-password-0001').toString('base64') },
  } as never);
}
