/**
 * In-memory object storage ("etcd") for the emulator.
 *
 * One {@link Collection} per storage key (`group/plural`), holding immutable
 * {@link StoredEntry} records keyed by `namespace/name` (`/name` for
 * cluster-scoped objects, so keys sort like etcd keys). Each entry keeps its
 * JSON serialisation, made once on write, so lists and watches only concatenate
 * strings. A single cluster-wide counter provides resourceVersions. A bounded
 * per-collection event history lets watches resume from a resourceVersion.
 *
 * Contract: entries and the objects inside them are never mutated after they are
 * stored; writers build a new object and call {@link ObjectStore.put}.
 */
import type { StoredKubeObject } from './types.js';

/** One stored object version. */
export interface StoredEntry {
  /** `namespace/name`, or `/name` when cluster-scoped. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** The object (storage representation, without kind/apiVersion). Never mutate. */
  readonly obj: StoredKubeObject;
  /** `JSON.stringify(obj)`, made once at write time. */
  readonly json: string;
  /** resourceVersion of this version, as a number. */
  readonly rv: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change recorded in a collection's history and fanned out to listeners. */
export interface StoreEvent {
  readonly type: WatchEventType;
  readonly rv: number;
  /** The new version (ADDED/MODIFIED) or the final version, stamped with the deletion rv (DELETED). */
  readonly entry: StoredEntry;
  /** The version before the change (MODIFIED/DELETED). */
  readonly previous?: StoredEntry;
}

export type StoreListener = (event: StoreEvent) => void;

/** Storage key of an object. */
export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

const METADATA_ORDER = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];

/** Reorders keys like the Go structs serialise: metadata first, status last, metadata fields in ObjectMeta order. */
export function canonicalize(obj: StoredKubeObject): StoredKubeObject {
  const meta: Record<string, unknown> = {};
  for (const key of METADATA_ORDER) if (obj.metadata[key] !== undefined) meta[key] = obj.metadata[key];
  for (const [key, value] of Object.entries(obj.metadata)) if (!(key in meta) && value !== undefined) meta[key] = value;
  for (const key of ['labels', 'annotations']) if (isStringMap(meta[key])) meta[key] = sortKeys(meta[key]);
  const out: Record<string, unknown> = { metadata: meta };
  for (const [key, value] of Object.entries(obj)) {
    if (key !== 'metadata' && key !== 'status' && key !== 'kind' && key !== 'apiVersion' && value !== undefined) out[key] = value;
  }
  if (obj.status !== undefined) out.status = obj.status;
  for (const key of ['data', 'binaryData']) if (isStringMap(out[key])) out[key] = sortKeys(out[key]);
  return out as StoredKubeObject;
}

function isStringMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Go's encoding/json writes map keys sorted; so does the emulator for string maps. */
function sortKeys(map: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(map).sort()) out[key] = map[key];
  return out;
}

/**
 * Objects of one storage key, their keys kept in etcd order, and an event history.
 *
 * The order is kept as the keys come and go, per namespace (a sorted array each) and across
 * namespaces (sorted by `namespace/`, which is how the full keys `namespace/name` compare, as
 * names hold no `/`), so a list after a write costs a binary search, not a sort of every key.
 * etcd keeps its keys in a B-tree (`treeIndex`, server/storage/mvcc/index.go), and so does the
 * API server's watch cache, which serves lists (the BtreeWatchCache feature gate: beta and on
 * in Kubernetes 1.32, GA in 1.33): neither sorts on a list.
 */
export class Collection {
  readonly entries = new Map<string, StoredEntry>();
  readonly listeners = new Set<StoreListener>();
  /** Each namespace's keys, sorted. */
  private readonly byNamespace = new Map<string, string[]>();
  /** The namespaces holding keys, in key order; rebuilt only when a namespace comes or goes. */
  private namespaceOrder: string[] | undefined;
  private history: StoreEvent[] = [];
  /** Events with rv <= compactedRv are gone from history. */
  private compactedRv = 0;

  constructor(private readonly historyLimit: number) {}

  /** All keys in etcd order. */
  sortedKeys(): readonly string[] {
    return this.namespaces().flatMap((ns) => this.byNamespace.get(ns) as string[]);
  }

  /** Entries in key order, optionally restricted to one namespace (O(k) for k entries). */
  sortedEntries(namespace?: string): StoredEntry[] {
    const keys = namespace === undefined ? this.sortedKeys() : (this.byNamespace.get(namespace) ?? []);
    return keys.map((key) => this.entries.get(key) as StoredEntry);
  }

  /** Records that `key` (of `namespace`) is now stored; it was not before. */
  added(key: string, namespace: string): void {
    let keys = this.byNamespace.get(namespace);
    if (keys === undefined) {
      keys = [];
      this.byNamespace.set(namespace, keys);
      this.namespaceOrder = undefined;
    }
    keys.splice(lowerBound(keys, key), 0, key);
  }

  /** Records that `key` (of `namespace`) is no longer stored. */
  removed(key: string, namespace: string): void {
    const keys = this.byNamespace.get(namespace);
    if (keys === undefined) return;
    const i = lowerBound(keys, key);
    if (keys[i] === key) keys.splice(i, 1);
    if (keys.length === 0) {
      this.byNamespace.delete(namespace);
      this.namespaceOrder = undefined;
    }
  }

  private namespaces(): string[] {
    this.namespaceOrder ??= [...this.byNamespace.keys()].sort((a, b) => {
      const x = `${a}/`;
      const y = `${b}/`;
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return this.namespaceOrder;
  }

  /** Records an event, keeping at most ~2x historyLimit events. */
  record(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit * 2) {
      const dropped = this.history.length - this.historyLimit;
      this.compactedRv = this.history[dropped - 1].rv;
      this.history = this.history.slice(dropped);
    }
    for (const listener of [...this.listeners]) listener(event);
  }

  /** Events newer than `rv`, or undefined when history no longer reaches back that far. */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid].rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  /** Oldest resourceVersion a watch can still start from. */
  get oldestWatchableRv(): number {
    return this.compactedRv;
  }
}

function lowerBound(keys: readonly string[], target: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The whole cluster state: collections plus the global resourceVersion counter. */
export class ObjectStore {
  private rv = 1;
  private readonly collections = new Map<string, Collection>();

  constructor(private readonly historyLimit = 10_000) {}

  /** Current (latest issued) resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  collection(storage: string): Collection {
    let c = this.collections.get(storage);
    if (!c) {
      c = new Collection(this.historyLimit);
      this.collections.set(storage, c);
    }
    return c;
  }

  get(storage: string, key: string): StoredEntry | undefined {
    return this.collections.get(storage)?.entries.get(key);
  }

  /**
   * Stores a new version of an object: assigns the next resourceVersion,
   * serialises once, records an ADDED or MODIFIED event.
   */
  put(storage: string, obj: StoredKubeObject): StoredEntry {
    const c = this.collection(storage);
    const rv = ++this.rv;
    const stamped = canonicalize({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } });
    const entry = makeEntry(stamped, rv);
    const previous = c.entries.get(entry.key);
    c.entries.set(entry.key, entry);
    if (!previous) c.added(entry.key, entry.namespace);
    c.record({ type: previous ? 'MODIFIED' : 'ADDED', rv, entry, previous });
    return entry;
  }

  /** Removes an object; the DELETED event carries the last state stamped with a new resourceVersion. */
  remove(storage: string, key: string): StoredEntry | undefined {
    const c = this.collections.get(storage);
    const previous = c?.entries.get(key);
    if (!c || !previous) return undefined;
    const rv = ++this.rv;
    const finalObj = { ...previous.obj, metadata: { ...previous.obj.metadata, resourceVersion: String(rv) } };
    const entry = makeEntry(finalObj, rv);
    c.entries.delete(key);
    c.removed(key, previous.namespace);
    c.record({ type: 'DELETED', rv, entry, previous });
    return entry;
  }

  /** Subscribes to changes of one collection; returns the unsubscribe function. */
  subscribe(storage: string, listener: StoreListener): () => void {
    const c = this.collection(storage);
    c.listeners.add(listener);
    return () => c.listeners.delete(listener);
  }

  /** Storage keys with at least one object ever stored. */
  storageKeys(): string[] {
    return [...this.collections.keys()];
  }
}

function makeEntry(obj: StoredKubeObject, rv: number): StoredEntry {
  const namespace = obj.metadata.namespace ?? '';
  return { key: objectKey(namespace, obj.metadata.name), namespace, name: obj.metadata.name, obj, json: JSON.stringify(obj), rv };
}
