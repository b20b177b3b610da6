/**
 * What each job may do in Kubernetes, as manifests/base grants it (a test renders the
 * manifests and fails when this table and they differ): `check` asks the API server, with one
 * SelfSubjectAccessReview each, whether the identity it runs as has every one.
 */

/** The jobs `check --for` knows. */
export const CHECKED_JOBS = ['backup', 'verify-restore', 'restore', 'rotate', 'prune'] as const;
export type CheckedJob = (typeof CHECKED_JOBS)[number];

/** One verb on one resource, where the manifests grant it. */
export interface JobPermission {
  verb: string;
  /** API group; '' for the core group. */
  group: string;
  resource: string;
  /** Only this object (a rule's resourceNames). */
  name?: string;
  /** tool: the Lease namespace (--lock-namespace); drill: --drill-namespace; cluster: every namespace (a ClusterRole). */
  scope: 'tool' | 'drill' | 'cluster';
  /** What the job does with it, for the verdict. */
  why: string;
}

const LEASES = 'coordination.k8s.io';

/** The Lease lock every job with a Lease takes (`secret-steward-<job>` in the tool namespace). */
function leaseLock(job: string): JobPermission[] {
  return [
    { verb: 'create', group: LEASES, resource: 'leases', scope: 'tool', why: 'the first run creates its Lease lock' },
    { verb: 'get', group: LEASES, resource: 'leases', name: `secret-steward-${job}`, scope: 'tool', why: 'reads its Lease lock' },
    {
      verb: 'update',
      group: LEASES,
      resource: 'leases',
      name: `secret-steward-${job}`,
      scope: 'tool',
      why: 'takes and renews its Lease lock',
    },
  ];
}

const SECRET_VERBS_WRITE = (verbs: string[], why: string): JobPermission[] =>
  verbs.map((verb) => ({ verb, group: '', resource: 'secrets', scope: 'cluster', why }));

const WORKLOAD_VERBS = (group: string, resource: string, verbs: string[]): JobPermission[] =>
  verbs.map((verb) => ({ verb, group, resource, scope: 'cluster', why: 'finds and restarts the workloads that use a rotated Secret' }));

/** The backup job's Lease, and those of the jobs that read backups (retention spares what they read). */
const BACKUP_LEASES: JobPermission[] = [
  ...leaseLock('backup'),
  ...['secret-steward-restore', 'secret-steward-verify-restore'].map(
    (name): JobPermission => ({
      verb: 'get',
      group: LEASES,
      resource: 'leases',
      name,
      scope: 'tool',
      why: 'retention keeps the backups a restore or a drill reads',
    }),
  ),
  { verb: 'create', group: '', resource: 'events', scope: 'tool', why: 'records its outcome as an Event' },
];

export const JOB_PERMISSIONS: Record<CheckedJob, readonly JobPermission[]> = {
  backup: [
    ...BACKUP_LEASES,
    { verb: 'list', group: '', resource: 'secrets', scope: 'cluster', why: 'lists the Secrets to back up' },
    {
      verb: 'get',
      group: '',
      resource: 'namespaces',
      name: 'kube-system',
      scope: 'cluster',
      why: "reads the cluster's identity sealed into each backup",
    },
  ],
  'verify-restore': [
    ...['create', 'list', 'deletecollection'].map(
      (verb): JobPermission => ({
        verb,
        group: '',
        resource: 'secrets',
        scope: 'drill',
        why: 'restores copies into the drill namespace and removes them',
      }),
    ),
    ...leaseLock('verify-restore'),
    { verb: 'create', group: '', resource: 'events', scope: 'tool', why: 'records the drill outcome as an Event' },
  ],
  restore: [
    ...leaseLock('restore'),
    { verb: 'create', group: '', resource: 'events', scope: 'tool', why: 'records the restore outcome as an Event' },
    ...SECRET_VERBS_WRITE(['get', 'list', 'create', 'update', 'delete'], 'reads the live Secrets and writes the restored ones'),
    { verb: 'get', group: '', resource: 'namespaces', scope: 'cluster', why: 'checks that the target namespaces exist' },
    { verb: 'create', group: '', resource: 'namespaces', scope: 'cluster', why: 'creates missing namespaces (--create-namespaces)' },
  ],
  rotate: [
    ...leaseLock('rotate'),
    ...SECRET_VERBS_WRITE(['get', 'list', 'create', 'update', 'patch', 'delete'], 'reads and rotates Secrets'),
    ...WORKLOAD_VERBS('apps', 'deployments', ['get', 'list', 'watch', 'patch']),
    ...WORKLOAD_VERBS('apps', 'statefulsets', ['get', 'list', 'watch', 'patch']),
    ...WORKLOAD_VERBS('apps', 'daemonsets', ['get', 'list', 'watch', 'patch']),
    ...WORKLOAD_VERBS('batch', 'cronjobs', ['get', 'list', 'patch']),
    { verb: 'create', group: '', resource: 'events', scope: 'cluster', why: 'records rotation Events on the rotated Secrets' },
  ],
  // prune runs as the backup job's ServiceAccount and takes its Lease.
  prune: BACKUP_LEASES,
};

/** Whether the job reads or writes the backup store. */
export function usesStore(job: CheckedJob): boolean {
  return job !== 'rotate';
}

/** `list secrets`, `get coordination.k8s.io/leases secret-steward-backup`: how verdicts name a permission. */
export function permissionText(p: Pick<JobPermission, 'verb' | 'group' | 'resource' | 'name'>): string {
  return `${p.verb} ${p.group === '' ? '' : `${p.group}/`}${p.resource}${p.name ? ` ${p.name}` : ''}`;
}
