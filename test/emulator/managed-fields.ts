/**
 * `metadata.managedFields` for writes other than server-side apply, after the field manager of
 * k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager (now k8s.io/apimachinery/pkg/util/
 * managedfields): each write is an `Update` operation of one manager (the `fieldManager` query
 * parameter, else the User-Agent up to its first `/`), which comes to own the fields the write
 * added or changed; they are taken from every other manager, fields removed are dropped from
 * all, and a manager left with nothing loses its entry. Entries carry `apiVersion`, `time`,
 * `fieldsType: FieldsV1` and `fieldsV1`, the structured-merge-diff set in its JSON form
 * (`f:<field>` per field, `.` for a map that is itself a member). `subresource: status` marks
 * writes of the status subresource.
 *
 * A body's own `managedFields` replace the tracked ones when non-empty; `[{}]` clears them; an
 * empty list or none keeps them (so that clients unaware of the field do not strip it).
 *
 * Simplified: lists are atomic (owned as a whole, no `k:`/`v:`/`i:` members); `.` is set for
 * the free-form maps only (data, labels, annotations...), from names, not from the schema.
 */
import type { KubeObject } from './types.js';
import { deepEqual, isObject } from './types.js';

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** Metadata fields the field manager never tracks (system-set). */
const UNTRACKED_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
]);

/** Maps whose keys are data, not schema: their node is a member too (`.`). */
const FREE_FORM_MAPS = new Set(['data', 'binaryData', 'stringData', 'labels', 'annotations', 'matchLabels', 'nodeSelector']);

/** The manager of a write: the `fieldManager` parameter, else the User-Agent up to its first `/`. */
export function managerOf(fieldManager: string | null | undefined, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  return (userAgent ?? '').split('/')[0] ?? '';
}

/** Leaf paths (JSON-encoded) with their values; `statusOnly` picks `status`, else everything but status. */
function leaves(obj: KubeObject | undefined, statusOnly: boolean): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!obj) return out;
  const walk = (value: unknown, path: string[]) => {
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    } else {
      out.set(JSON.stringify(path), value);
    }
  };
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'apiVersion' || key === 'kind') continue;
    if ((key === 'status') !== statusOnly) continue;
    if (key === 'metadata' && isObject(value)) {
      for (const [mk, mv] of Object.entries(value)) if (!UNTRACKED_METADATA.has(mk)) walk(mv, ['metadata', mk]);
    } else {
      walk(value, [key]);
    }
  }
  return out;
}

/** FieldsV1 JSON of a set of leaf paths. */
function toFieldsV1(paths: Iterable<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const encoded of paths) {
    const path = JSON.parse(encoded) as string[];
    let node = root;
    path.forEach((segment, i) => {
      const key = `f:${segment}`;
      node[key] = (node[key] as Record<string, unknown> | undefined) ?? {};
      const child = node[key] as Record<string, unknown>;
      if (FREE_FORM_MAPS.has(segment) && i < path.length - 1) child['.'] = {};
      node = child;
    });
  }
  return root;
}

/** Leaf paths of a FieldsV1 set (the inverse of {@link toFieldsV1}, `.` markers dropped). */
function fromFieldsV1(fields: unknown, prefix: string[] = [], out = new Set<string>()): Set<string> {
  const members = isObject(fields) ? Object.entries(fields).filter(([k]) => k.startsWith('f:')) : [];
  if (members.length === 0 && prefix.length > 0) out.add(JSON.stringify(prefix));
  for (const [k, v] of members) fromFieldsV1(v, [...prefix, k.slice(2)], out);
  return out;
}

/**
 * The managedFields after one write by `manager` that turned `old` (undefined: a create) into
 * `next`; `incoming` is what the request body said (see the module documentation).
 */
export function trackWrite(args: {
  old: KubeObject | undefined;
  next: KubeObject;
  incoming: unknown;
  manager: string;
  apiVersion: string;
  subresource: string;
  time: string;
}): ManagedFieldsEntry[] | undefined {
  const { old, next, manager, apiVersion, subresource, time } = args;
  const oldEntries = (old?.metadata as { managedFields?: ManagedFieldsEntry[] } | undefined)?.managedFields ?? [];
  let base: ManagedFieldsEntry[] = oldEntries;
  if (Array.isArray(args.incoming) && args.incoming.length > 0) {
    const stripped = args.incoming.length === 1 && isObject(args.incoming[0]) && Object.keys(args.incoming[0]).length === 0;
    base = stripped ? [] : (args.incoming as ManagedFieldsEntry[]);
  }
  const statusOnly = subresource === 'status';
  const before = leaves(old, statusOnly);
  const after = leaves(next, statusOnly);
  const changed = [...after].filter(([path, value]) => !before.has(path) || !deepEqual(before.get(path), value)).map(([p]) => p);
  const removed = [...before.keys()].filter((p) => !after.has(p));
  if (changed.length === 0 && removed.length === 0 && deepEqual(base, oldEntries)) return oldEntries.length > 0 ? oldEntries : undefined;
  const gone = new Set([...changed, ...removed]);
  const isMine = (e: ManagedFieldsEntry) =>
    e.manager === manager && e.operation === 'Update' && (e.subresource ?? '') === subresource && e.apiVersion === apiVersion;
  const result: ManagedFieldsEntry[] = [];
  let mine: Set<string> | undefined;
  for (const entry of base) {
    const fields = fromFieldsV1(entry.fieldsV1);
    if (isMine(entry)) {
      mine = new Set([...fields].filter((p) => !removed.includes(p)));
      continue;
    }
    const kept = [...fields].filter((p) => !gone.has(p) && !prefixOfAny(p, gone));
    if (kept.length > 0) result.push({ ...entry, fieldsV1: toFieldsV1(kept) });
  }
  const owned = new Set([...(mine ?? []), ...changed]);
  if (owned.size > 0) {
    result.push({
      manager,
      operation: 'Update',
      apiVersion,
      time,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(owned),
      ...(subresource ? { subresource } : {}),
    });
  }
  return result.length > 0 ? result : undefined;
}

/** True when `path` is a leaf that became an object holding one of `paths` (or the reverse). */
function prefixOfAny(path: string, paths: Set<string>): boolean {
  const p = JSON.parse(path) as string[];
  for (const other of paths) {
    const o = JSON.parse(other) as string[];
    const [short, long] = p.length < o.length ? [p, o] : [o, p];
    if (short.length !== long.length && short.every((s, i) => s === long[i])) return true;
  }
  return false;
}
