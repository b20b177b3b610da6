/**
 * Strategic merge patch (`application/strategic-merge-patch+json`), a port of
 * k8s.io/apimachinery/pkg/util/strategicpatch's apply side (mergeMap with
 * MergeParallelList and IgnoreUnmatchedNulls), driven by the patch metadata
 * (`patchStrategy` / `patchMergeKey` struct tags) of the kinds served here.
 *
 * Supported: merge lists by key (containers, env, volumes, ports, ...), merged
 * primitive lists (finalizers), `$patch: replace|delete` on maps and list
 * elements, `$retainKeys`, `$setElementOrder/<list>`,
 * `$deleteFromPrimitiveList/<list>`; `null` deletes a key. Fields without
 * metadata merge as maps and replace as lists, like the real implementation.
 */
import { PatchError } from './json-patch.js';
import type { JsonObject } from './types.js';
import { cloneJson, isObject } from './types.js';

/** Patch metadata of one field: its strategy, merge key and element/struct type. */
interface FieldMeta {
  strategy?: 'merge' | 'replace';
  mergeKey?: string;
  type?: string;
}

type StructMeta = Record<string, FieldMeta>;

const mergeBy = (mergeKey: string, type?: string): FieldMeta => ({ strategy: 'merge', mergeKey, type });
const struct = (type: string): FieldMeta => ({ type });
const conditions = mergeBy('type');

/** Struct tags from k8s.io/api for the fields that carry patch metadata. */
const TYPES: Record<string, StructMeta> = {
  ObjectMeta: { ownerReferences: mergeBy('uid'), finalizers: { strategy: 'merge' } },
  PodTemplateSpec: { metadata: struct('ObjectMeta'), spec: struct('PodSpec') },
  PodSpec: {
    volumes: mergeBy('name'),
    initContainers: mergeBy('name', 'Container'),
    containers: mergeBy('name', 'Container'),
    ephemeralContainers: mergeBy('name', 'Container'),
    imagePullSecrets: mergeBy('name'),
    hostAliases: mergeBy('ip'),
    topologySpreadConstraints: mergeBy('topologyKey'),
    schedulingGates: mergeBy('name'),
    resourceClaims: mergeBy('name'),
  },
  Container: {
    ports: mergeBy('containerPort'),
    env: mergeBy('name'),
    volumeMounts: mergeBy('mountPath'),
    volumeDevices: mergeBy('devicePath'),
  },
  WithConditions: { conditions },
  WorkloadSpec: { template: struct('PodTemplateSpec') },
  JobTemplateSpec: { metadata: struct('ObjectMeta'), spec: struct('WorkloadSpec') },
  CronJobSpec: { jobTemplate: struct('JobTemplateSpec') },
  ServiceSpec: { ports: mergeBy('port') },
};

const ROOTS: Record<string, StructMeta> = {
  Pod: { spec: struct('PodSpec'), status: struct('WithConditions') },
  Deployment: { spec: struct('WorkloadSpec'), status: struct('WithConditions') },
  ReplicaSet: { spec: struct('WorkloadSpec'), status: struct('WithConditions') },
  StatefulSet: { spec: struct('WorkloadSpec'), status: struct('WithConditions') },
  DaemonSet: { spec: struct('WorkloadSpec'), status: struct('WithConditions') },
  Job: { spec: struct('WorkloadSpec'), status: struct('WithConditions') },
  CronJob: { spec: struct('CronJobSpec') },
  Service: { spec: struct('ServiceSpec'), status: struct('WithConditions') },
  Namespace: { status: struct('WithConditions') },
  PodDisruptionBudget: { status: struct('WithConditions') },
};

function rootMeta(kind: string): StructMeta {
  return { metadata: struct('ObjectMeta'), ...(ROOTS[kind] ?? {}) };
}

function typeMeta(field: FieldMeta | undefined): StructMeta | undefined {
  return field?.type ? TYPES[field.type] : undefined;
}

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

/**
 * Applies a strategic merge patch to `original` (an object of `kind`) and
 * returns the result; `original` is not modified. Throws {@link PatchError}.
 */
export function applyStrategicMergePatch(original: unknown, patch: unknown, kind: string): JsonObject {
  if (!isObject(patch)) throw new PatchError('bad', 'invalid JSON document: patch must be a JSON object');
  const base = isObject(original) ? cloneJson(original) : {};
  return stripDirectives(mergeMap(base, cloneJson(patch), rootMeta(kind))) as JsonObject;
}

/** Removes leftover directives and null map values (they never reach storage). */
function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.filter((item) => !(isObject(item) && DIRECTIVE in item)).map(stripDirectives);
  }
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    if (key.startsWith('$') || v === null) continue;
    out[key] = stripDirectives(v);
  }
  return out;
}

function handleMapDirective(directive: unknown, patch: JsonObject): JsonObject {
  if (directive === 'replace') {
    delete patch[DIRECTIVE];
    return stripDirectives(patch) as JsonObject;
  }
  if (directive === 'delete') return {};
  throw new PatchError('bad', `Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
}

function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!(RETAIN_KEYS in patch)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain)) throw new PatchError('bad', 'invalid patch format of retainKeys');
  const keep = new Set(retain.map(String));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(DELETE_PRIMITIVE) || key.startsWith(SET_ORDER)) continue;
    if (!keep.has(key)) throw new PatchError('bad', 'invalid patch format of retainKeys');
  }
  for (const key of Object.keys(original)) if (!keep.has(key)) delete original[key];
}

function mergeMap(original: JsonObject, patch: JsonObject, meta: StructMeta | undefined): JsonObject {
  if (DIRECTIVE in patch) return handleMapDirective(patch[DIRECTIVE], patch);
  applyRetainKeys(original, patch);
  mergeOrderedLists(original, patch, meta);
  for (const [rawKey, patchValue] of Object.entries(patch)) {
    const isDeleteList = rawKey.startsWith(DELETE_PRIMITIVE);
    const key = isDeleteList ? rawKey.slice(DELETE_PRIMITIVE.length) : rawKey;
    if (patchValue === null) {
      delete original[key];
      continue;
    }
    if (!(key in original)) {
      if (!isDeleteList) original[key] = stripDirectives(patchValue);
      continue;
    }
    const originalValue = original[key];
    const field = meta?.[key];
    if (isObject(originalValue) && isObject(patchValue)) {
      original[key] = field?.strategy === 'replace' ? stripDirectives(patchValue) : mergeMap(originalValue, patchValue, typeMeta(field));
    } else if (Array.isArray(originalValue) && Array.isArray(patchValue)) {
      original[key] = mergeSliceHandler(originalValue, patchValue, field, isDeleteList);
    } else if (!isDeleteList) {
      original[key] = stripDirectives(patchValue);
    }
  }
  return original;
}

function mergeSliceHandler(original: unknown[], patch: unknown[], field: FieldMeta | undefined, isDeleteList: boolean): unknown[] {
  if (field?.strategy === 'merge') return mergeSlice(original, patch, field.mergeKey, typeMeta(field), isDeleteList);
  if (isDeleteList) return deleteFromSlice(original, patch);
  return stripDirectives(patch) as unknown[];
}

function isMapList(original: unknown[], patch: unknown[]): boolean {
  const sample = original.length > 0 ? original[0] : patch[0];
  return isObject(sample);
}

function mergeSlice(
  original: unknown[],
  patch: unknown[],
  mergeKey: string | undefined,
  elemMeta: StructMeta | undefined,
  isDeleteList: boolean,
): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const maps = isMapList(original, patch);
  let merged: unknown[];
  let orig = original;
  let pat = patch;
  if (!maps) {
    if (isDeleteList) return deleteFromSlice(original, patch);
    merged = dedupeScalars([...original, ...patch]);
  } else {
    if (!mergeKey) throw new PatchError('bad', 'cannot merge lists without merge key');
    [orig, pat] = mergeSliceWithSpecialElements(original, patch, mergeKey);
    merged = mergeSliceWithoutSpecialElements(orig, pat, mergeKey, elemMeta);
  }
  const [patchItems, serverOnly] = partition(merged, pat, mergeKey, maps);
  return normalizeElementOrder(patchItems, serverOnly, pat, orig, mergeKey, maps);
}

function mergeSliceWithSpecialElements(original: unknown[], patch: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const plain: unknown[] = [];
  let replace = false;
  let result = original;
  for (const item of patch) {
    if (!isObject(item) || !(DIRECTIVE in item)) {
      plain.push(item);
      continue;
    }
    const directive = item[DIRECTIVE];
    if (directive === 'delete') {
      if (!(mergeKey in item)) throw new PatchError('bad', `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
      result = result.filter((o) => !(isObject(o) && o[mergeKey] === item[mergeKey]));
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw new PatchError('bad', 'merging lists cannot yet be specified in the patch');
    } else {
      throw new PatchError('bad', `Unknown patch type: ${String(directive)} in map: ${JSON.stringify(item)}`);
    }
  }
  if (replace) return [plain.map(stripDirectives), []];
  return [result, plain];
}

function mergeSliceWithoutSpecialElements(
  original: unknown[],
  patch: unknown[],
  mergeKey: string,
  elemMeta: StructMeta | undefined,
): unknown[] {
  const result = [...original];
  for (const item of patch) {
    if (!isObject(item) || !(mergeKey in item))
      throw new PatchError('bad', `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
    const index = result.findIndex((o) => isObject(o) && o[mergeKey] === item[mergeKey]);
    if (index >= 0) result[index] = mergeMap(result[index] as JsonObject, item, elemMeta);
    else result.push(stripDirectives(item));
  }
  return result;
}

function deleteFromSlice(current: unknown[], toDelete: unknown[]): unknown[] {
  const drop = new Set(toDelete);
  return current.filter((v) => !drop.has(v));
}

function dedupeScalars(values: unknown[]): unknown[] {
  return [...new Set(values)];
}

function indexIn(list: unknown[], item: unknown, mergeKey: string | undefined, maps: boolean): number {
  if (!maps || !mergeKey) return list.indexOf(item);
  const key = isObject(item) ? item[mergeKey] : undefined;
  return list.findIndex((o) => isObject(o) && o[mergeKey] === key);
}

/** Splits merged items into those named by `by` (patch/setElementOrder) and server-only ones. */
function partition(merged: unknown[], by: unknown[], mergeKey: string | undefined, maps: boolean): [unknown[], unknown[]] {
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const item of merged) (indexIn(by, item, mergeKey, maps) >= 0 ? inPatch : serverOnly).push(item);
  return [inPatch, serverOnly];
}

function sortByOrder(items: unknown[], order: unknown[], mergeKey: string | undefined, maps: boolean): unknown[] {
  const indexed = items.map((item, position) => ({ item, position, rank: indexIn(order, item, mergeKey, maps) }));
  indexed.sort((a, b) => {
    if (a.rank >= 0 && b.rank >= 0) return a.rank - b.rank;
    if (a.rank >= 0) return -1;
    if (b.rank >= 0) return 1;
    return a.position - b.position;
  });
  return indexed.map((x) => x.item);
}

/**
 * Orders patch items by `patchOrder` and server-only items by `serverOrder`, then
 * interleaves them keeping each group's relative order (strategicpatch.mergeSortedSlice).
 */
function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string | undefined,
  maps: boolean,
): unknown[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey, maps);
  const left = sortByOrder(serverOnly, serverOrder, mergeKey, maps);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey, maps);
      const ri = indexIn(serverOrder, right[j], mergeKey, maps);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

/** Handles `$setElementOrder/<list>` together with the list it orders. */
function mergeOrderedLists(original: JsonObject, patch: JsonObject, meta: StructMeta | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw new PatchError('bad', 'invalid patch format of setElementOrder list');
    const listKey = key.slice(SET_ORDER.length);
    const originalList = Array.isArray(original[listKey]) ? (original[listKey] as unknown[]) : undefined;
    const patchList = Array.isArray(patch[listKey]) ? (patch[listKey] as unknown[]) : undefined;
    if (!originalList && !patchList) continue;
    const field = meta?.[listKey];
    let merged: unknown[];
    if (originalList && patchList) merged = mergeSliceHandler(originalList, patchList, field, false);
    else merged = (originalList ?? (stripDirectives(patchList) as unknown[])) as unknown[];
    const maps = isMapList(merged, order);
    const [patchItems, serverOnly] = partition(merged, order, field?.mergeKey, maps);
    original[listKey] = normalizeElementOrder(patchItems, serverOnly, order, originalList ?? [], field?.mergeKey, maps);
    delete patch[listKey];
  }
}
