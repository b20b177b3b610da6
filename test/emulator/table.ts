/**
 * Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`),
 * which `kubectl get` asks for: a meta.k8s.io/v1 Table with the same columns
 * kube-apiserver's printers produce for the common kinds, and the default
 * Name / Created At columns for the rest.
 */
import type { ObjectView } from './registry.js';
import type { ResourceType } from './resources.js';
import type { StoredKubeObject } from './types.js';
import { isObject } from './types.js';

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  description: string;
  priority?: number;
  cell: (obj: StoredKubeObject, now: Date) => string | number;
}

/** duration.HumanDuration: "5s", "3m20s", "2d5h"... */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const obj = (v: unknown): Record<string, unknown> => (isObject(v) ? v : {});
const spec = (o: StoredKubeObject) => obj(o.spec);
const status = (o: StoredKubeObject) => obj(o.status);

const nameColumn: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  cell: (o) => o.metadata.name,
};
const ageColumn: Column = {
  name: 'Age',
  type: 'string',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => humanDuration(now.getTime() - Date.parse(o.metadata.creationTimestamp)),
};
const createdAtColumn: Column = {
  name: 'Created At',
  type: 'date',
  description: 'CreationTimestamp of the object.',
  cell: (o) => o.metadata.creationTimestamp,
};
const dataCount: Column = {
  name: 'Data',
  type: 'integer',
  description: 'Number of data entries.',
  cell: (o) => Object.keys(obj(o.data)).length + Object.keys(obj(o.binaryData)).length,
};
const roleColumn: Column = {
  name: 'Role',
  type: 'string',
  description: 'Role referenced by the binding.',
  cell: (o) => `${String(obj(o.roleRef).kind)}/${String(obj(o.roleRef).name)}`,
};

const COLUMNS: Record<string, Column[]> = {
  '/secrets': [
    nameColumn,
    { name: 'Type', type: 'string', description: 'The type of the secret', cell: (o) => String(o.type ?? '') },
    dataCount,
    ageColumn,
  ],
  '/configmaps': [nameColumn, dataCount, ageColumn],
  '/namespaces': [
    nameColumn,
    { name: 'Status', type: 'string', description: 'The status of the namespace', cell: (o) => String(status(o).phase ?? '') },
    ageColumn,
  ],
  '/serviceaccounts': [
    nameColumn,
    {
      name: 'Secrets',
      type: 'string',
      description: 'Secrets of the service account',
      cell: (o) => (Array.isArray(o.secrets) ? o.secrets.length : 0),
    },
    ageColumn,
  ],
  '/pods': [
    nameColumn,
    {
      name: 'Ready',
      type: 'string',
      description: 'Ready containers',
      cell: (o) => `0/${Array.isArray(spec(o).containers) ? (spec(o).containers as unknown[]).length : 0}`,
    },
    { name: 'Status', type: 'string', description: 'Pod phase', cell: (o) => String(status(o).phase ?? '') },
    { name: 'Restarts', type: 'string', description: 'Container restarts', cell: () => '0' },
    ageColumn,
  ],
  'apps/deployments': [
    nameColumn,
    {
      name: 'Ready',
      type: 'string',
      description: 'Number of the pod with ready state',
      cell: (o) => `${num(status(o).readyReplicas)}/${num(spec(o).replicas)}`,
    },
    {
      name: 'Up-to-date',
      type: 'integer',
      description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
      cell: (o) => num(status(o).updatedReplicas),
    },
    {
      name: 'Available',
      type: 'integer',
      description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
      cell: (o) => num(status(o).availableReplicas),
    },
    ageColumn,
  ],
  'apps/statefulsets': [
    nameColumn,
    {
      name: 'Ready',
      type: 'string',
      description: 'Number of the pod with ready state',
      cell: (o) => `${num(status(o).readyReplicas)}/${num(spec(o).replicas)}`,
    },
    ageColumn,
  ],
  'apps/daemonsets': [
    nameColumn,
    { name: 'Desired', type: 'integer', description: 'Desired pods', cell: (o) => num(status(o).desiredNumberScheduled) },
    { name: 'Current', type: 'integer', description: 'Scheduled pods', cell: (o) => num(status(o).currentNumberScheduled) },
    { name: 'Ready', type: 'integer', description: 'Ready pods', cell: (o) => num(status(o).numberReady) },
    { name: 'Up-to-date', type: 'integer', description: 'Updated pods', cell: (o) => num(status(o).updatedNumberScheduled) },
    { name: 'Available', type: 'integer', description: 'Available pods', cell: (o) => num(status(o).numberAvailable) },
    {
      name: 'Node Selector',
      type: 'string',
      description: 'Node selector',
      cell: (o) =>
        Object.entries(obj(obj(obj(spec(o).template).spec).nodeSelector))
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(',') || '<none>',
    },
    ageColumn,
  ],
  'apps/replicasets': [
    nameColumn,
    { name: 'Desired', type: 'integer', description: 'Desired replicas', cell: (o) => num(spec(o).replicas) },
    { name: 'Current', type: 'integer', description: 'Current replicas', cell: (o) => num(status(o).replicas) },
    { name: 'Ready', type: 'integer', description: 'Ready replicas', cell: (o) => num(status(o).readyReplicas) },
    ageColumn,
  ],
  'batch/jobs': [
    nameColumn,
    {
      name: 'Status',
      type: 'string',
      description: 'Job status',
      cell: (o) => (num(status(o).succeeded) > 0 ? 'Complete' : num(status(o).failed) > 0 ? 'Failed' : 'Running'),
    },
    {
      name: 'Completions',
      type: 'string',
      description: 'Desired and successful completions',
      cell: (o) => `${num(status(o).succeeded)}/${num(spec(o).completions) || 1}`,
    },
    { name: 'Duration', type: 'string', description: 'Time the job ran', cell: () => '' },
    ageColumn,
  ],
  'batch/cronjobs': [
    nameColumn,
    { name: 'Schedule', type: 'string', description: 'The schedule', cell: (o) => String(spec(o).schedule ?? '') },
    { name: 'Timezone', type: 'string', description: 'The time zone', cell: (o) => String(spec(o).timeZone ?? '<none>') },
    { name: 'Suspend', type: 'string', description: 'Suspended', cell: (o) => String(spec(o).suspend === true ? 'True' : 'False') },
    {
      name: 'Active',
      type: 'integer',
      description: 'Active jobs',
      cell: (o) => (Array.isArray(status(o).active) ? (status(o).active as unknown[]).length : 0),
    },
    {
      name: 'Last Schedule',
      type: 'string',
      description: 'Last schedule',
      cell: (o, now) =>
        status(o).lastScheduleTime ? humanDuration(now.getTime() - Date.parse(String(status(o).lastScheduleTime))) : '<none>',
    },
    ageColumn,
  ],
  'coordination.k8s.io/leases': [
    nameColumn,
    { name: 'Holder', type: 'string', description: 'Lease holder', cell: (o) => String(spec(o).holderIdentity ?? '') },
    ageColumn,
  ],
  'rbac.authorization.k8s.io/rolebindings': [nameColumn, roleColumn, ageColumn],
  'rbac.authorization.k8s.io/clusterrolebindings': [nameColumn, roleColumn, ageColumn],
  '/events': [
    {
      name: 'Last Seen',
      type: 'string',
      description: 'Time since last seen',
      cell: (o, now) => humanDuration(now.getTime() - Date.parse(String(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp))),
    },
    { name: 'Type', type: 'string', description: 'Event type', cell: (o) => String(o.type ?? '') },
    { name: 'Reason', type: 'string', description: 'Event reason', cell: (o) => String(o.reason ?? '') },
    {
      name: 'Object',
      type: 'string',
      description: 'Involved object',
      cell: (o) => `${String(obj(o.involvedObject).kind ?? '').toLowerCase()}/${String(obj(o.involvedObject).name ?? '')}`,
    },
    { name: 'Message', type: 'string', description: 'Event message', cell: (o) => String(o.message ?? '') },
  ],
};

function columnsFor(rt: ResourceType): Column[] {
  return COLUMNS[rt.key] ?? [nameColumn, createdAtColumn];
}

/** What each row's `object` holds (`includeObject` query parameter). */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

/** JSON of a meta.k8s.io/v1 Table for `views`. `fullJson` renders a complete object. */
export function renderTable(
  rt: ResourceType,
  views: readonly ObjectView[],
  meta: TableMeta,
  includeObject: IncludeObject,
  now: Date,
  fullJson: (view: ObjectView) => string,
): string {
  const columns = columnsFor(rt);
  const columnDefinitions = columns.map((c) => ({
    name: c.name,
    type: c.type,
    format: c.format ?? '',
    description: c.description,
    priority: c.priority ?? 0,
  }));
  const rows = views.map((view) => {
    const cells = JSON.stringify(columns.map((c) => c.cell(view.obj, now)));
    let object = '';
    if (includeObject === 'Object') object = `,"object":${fullJson(view)}`;
    else if (includeObject === 'Metadata')
      object = `,"object":${JSON.stringify({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: view.obj.metadata })}`;
    return `{"cells":${cells}${object}}`;
  });
  const head = JSON.stringify({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: meta, columnDefinitions });
  return `${head.slice(0, -1)},"rows":[${rows.join(',')}]}`;
}
