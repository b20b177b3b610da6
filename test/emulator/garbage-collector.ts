/**
 * A stand-in for kube-controller-manager's garbage collector
 * (pkg/controller/garbagecollector: graph_builder.go keeps the owner/dependent graph from
 * watch events, garbagecollector.go acts on it), reduced to the emulator's resources.
 *
 * Asynchronous like the real one: a change is acted on `delayMs` after it is stored.
 * - attemptToDelete: an object whose owners are all absent (not found, or found with another
 *   uid: the owner was recreated) is deleted, with the propagation its own finalizers ask for,
 *   Background otherwise. With at least one existing owner, references to absent owners and to
 *   owners being deleted in the foreground are removed from it instead. An owner of a kind the
 *   emulator does not serve (a CRD: ExternalSecret, SealedSecret) cannot be looked up: like the
 *   real collector, whose REST mapping fails, the dependent is left alone. A namespaced owner is
 *   looked up in the dependent's namespace (a cross-namespace reference is absent); a
 *   cluster-scoped dependent naming a namespaced owner is left alone.
 * - Foreground (`foregroundDeletion` finalizer on an owner being deleted): its dependents are
 *   deleted (in the foreground themselves when they have dependents); the finalizer is removed
 *   once no dependent with `blockOwnerDeletion: true` is left.
 * - Orphan (`orphan` finalizer): the owner's reference is removed from every dependent, then the
 *   finalizer.
 * The registry adds these finalizers on DELETE (`propagationPolicy`, see registry.ts). Writes of
 * the collector count as the admin's (admission policies still see them).
 */
import { KubeApiError } from './errors.js';
import type { PropagationPolicy, Registry } from './registry.js';
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from './registry.js';
import type { ResourceType } from './resources.js';
import { findByKind, RESOURCES, storageKey } from './resources.js';
import type { StoreEvent } from './store.js';
import { objectKey } from './store.js';
import type { OwnerReference, StoredKubeObject } from './types.js';

/** One deletion or orphaning the collector did, for tests to inspect. */
export interface GcAction {
  action: 'delete' | 'remove-owner-references' | 'remove-finalizer';
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  /** delete: the propagation policy used; remove-owner-references: the uids removed; remove-finalizer: the finalizer. */
  detail: string;
  time: Date;
}

interface Node {
  rt: ResourceType;
  namespace: string;
  name: string;
  owners: OwnerReference[];
}

/** Attempts per queued object before an error is given up (the real collector retries with backoff forever). */
const MAX_ATTEMPTS = 5;

/** See the module documentation. */
export class GarbageCollector {
  /** Delay between a change and the collector acting on it. May be changed at any time. */
  delayMs: number;
  /** Everything the collector did, oldest first. */
  readonly actions: GcAction[] = [];

  private readonly nodes = new Map<string, Node>();
  /** owner uid -> uids of objects naming it in ownerReferences. */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly queue = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];
  private readonly unsubscribers: (() => void)[] = [];

  constructor(
    private readonly registry: Registry,
    private readonly now: () => Date,
    delayMs: number,
  ) {
    this.delayMs = delayMs;
    for (const rt of RESOURCES) {
      if (rt.virtual || rt.storageOf) continue;
      this.unsubscribers.push(registry.store.subscribe(storageKey(rt), (ev) => this.observe(rt, ev)));
    }
  }

  /** Resolves once nothing is queued (each change acted on, and what that changed too). */
  idle(): Promise<void> {
    if (this.timer === undefined && this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops watching and cancels the pending pass. */
  stop(): void {
    for (const u of this.unsubscribers) u();
    this.unsubscribers.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.clear();
    this.notifyIdle();
  }

  /** graph_builder.go processGraphChanges: keep the graph, enqueue what the change may affect. */
  private observe(rt: ResourceType, ev: StoreEvent): void {
    const obj = ev.entry.obj;
    const uid = obj.metadata.uid;
    const previous = this.nodes.get(uid);
    for (const ref of previous?.owners ?? []) this.dependents.get(ref.uid)?.delete(uid);
    if (ev.type === 'DELETED') {
      this.nodes.delete(uid);
      // Its dependents may now be dangling; its owners may be waiting for it (foreground).
      for (const dependent of this.dependents.get(uid) ?? []) this.enqueue(dependent);
      for (const ref of previous?.owners ?? []) this.enqueue(ref.uid);
      return;
    }
    const owners = obj.metadata.ownerReferences ?? [];
    this.nodes.set(uid, { rt, namespace: ev.entry.namespace, name: ev.entry.name, owners });
    for (const ref of owners) {
      let set = this.dependents.get(ref.uid);
      if (!set) this.dependents.set(ref.uid, (set = new Set()));
      set.add(uid);
    }
    if (owners.length > 0 || obj.metadata.deletionTimestamp) this.enqueue(uid);
    // A reference removed or unblocked may release an owner waiting in the foreground.
    for (const ref of previous?.owners ?? []) this.enqueue(ref.uid);
  }

  private enqueue(uid: string): void {
    if (!this.queue.has(uid)) this.queue.set(uid, 0);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.unsubscribers.length === 0) return;
    this.timer = setTimeout(() => this.pass(), this.delayMs);
    this.timer.unref();
  }

  private pass(): void {
    this.timer = undefined;
    const batch = [...this.queue];
    this.queue.clear();
    for (const [uid, attempts] of batch) {
      try {
        this.process(uid);
      } catch (err) {
        // Conflicts, admission denials: retried like the real work queue, a few times here.
        if (!(err instanceof KubeApiError) || attempts + 1 >= MAX_ATTEMPTS) continue;
        this.queue.set(uid, attempts + 1);
      }
    }
    if (this.queue.size > 0) this.schedule();
    else this.notifyIdle();
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private current(uid: string): { node: Node; obj: StoredKubeObject } | undefined {
    const node = this.nodes.get(uid);
    if (!node) return undefined;
    const entry = this.registry.store.get(storageKey(node.rt), objectKey(node.rt.namespaced ? node.namespace : '', node.name));
    return entry && entry.obj.metadata.uid === uid ? { node, obj: entry.obj } : undefined;
  }

  private process(uid: string): void {
    const found = this.current(uid);
    if (!found) return;
    const { node, obj } = found;
    const finalizers = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp) {
      if (finalizers.includes(ORPHAN_FINALIZER)) return this.orphanDependents(node, obj);
      if (finalizers.includes(FOREGROUND_FINALIZER)) return this.processDeletingDependents(node, obj);
      // "being deleted" is a one-way trip: the collector waits for the final deletion.
      return;
    }
    if (node.owners.length > 0) this.attemptToDelete(node, obj);
  }

  /** garbagecollector.go attemptToDeleteItem, with classifyReferences and isDangling. */
  private attemptToDelete(node: Node, obj: StoredKubeObject): void {
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of node.owners) {
      const ownerRt = findByKind(ref.apiVersion, ref.kind);
      // Unknown kind (REST mapping fails) or a cluster-scoped dependent naming a namespaced owner: left alone.
      if (!ownerRt || (ownerRt.namespaced && !node.rt.namespaced)) return;
      const owner = this.registry.store.get(storageKey(ownerRt), objectKey(ownerRt.namespaced ? node.namespace : '', ref.name))?.obj;
      if (!owner || owner.metadata.uid !== ref.uid) dangling.push(ref);
      else if (owner.metadata.deletionTimestamp && (owner.metadata.finalizers ?? []).includes(FOREGROUND_FINALIZER)) waiting.push(ref);
      else solid.push(ref);
    }
    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return;
      this.removeOwnerReferences(node, obj, new Set([...dangling, ...waiting].map((r) => r.uid)));
      return;
    }
    const finalizers = obj.metadata.finalizers ?? [];
    let policy: PropagationPolicy;
    if (waiting.length > 0 && (this.dependents.get(obj.metadata.uid)?.size ?? 0) > 0) policy = 'Foreground';
    else if (finalizers.includes(ORPHAN_FINALIZER)) policy = 'Orphan';
    else if (finalizers.includes(FOREGROUND_FINALIZER)) policy = 'Foreground';
    else policy = 'Background';
    this.registry.delete(node.rt, node.namespace, node.name, {
      propagationPolicy: policy,
      preconditions: { uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
    });
    this.record('delete', node, obj, policy);
  }

  /** garbagecollector.go processDeletingDependentsItem. */
  private processDeletingDependents(node: Node, obj: StoredKubeObject): void {
    const uid = obj.metadata.uid;
    const blocking = [...(this.dependents.get(uid) ?? [])].filter((d) =>
      (this.nodes.get(d)?.owners ?? []).some((r) => r.uid === uid && r.blockOwnerDeletion === true),
    );
    // Every dependent is deleted (attemptToDelete sees this owner as waiting); only blocking ones are waited for.
    for (const d of this.dependents.get(uid) ?? []) {
      const dep = this.current(d);
      if (dep && !dep.obj.metadata.deletionTimestamp) this.attemptToDelete(dep.node, dep.obj);
    }
    if (blocking.length === 0) this.removeFinalizer(node, obj, FOREGROUND_FINALIZER);
  }

  /** garbagecollector.go attemptToOrphanWorker: references removed from the dependents, then the finalizer. */
  private orphanDependents(node: Node, obj: StoredKubeObject): void {
    const uid = obj.metadata.uid;
    for (const d of [...(this.dependents.get(uid) ?? [])]) {
      const dep = this.current(d);
      if (dep) this.removeOwnerReferences(dep.node, dep.obj, new Set([uid]));
    }
    this.removeFinalizer(node, obj, ORPHAN_FINALIZER);
  }

  private removeOwnerReferences(node: Node, obj: StoredKubeObject, uids: Set<string>): void {
    const kept = (obj.metadata.ownerReferences ?? []).filter((r) => !uids.has(r.uid));
    this.registry.patch(node.rt, node.namespace, node.name, 'application/merge-patch+json', {
      metadata: { uid: obj.metadata.uid, ownerReferences: kept.length > 0 ? kept : null },
    });
    this.record('remove-owner-references', node, obj, [...uids].join(','));
  }

  private removeFinalizer(node: Node, obj: StoredKubeObject, finalizer: string): void {
    const kept = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    this.registry.patch(node.rt, node.namespace, node.name, 'application/merge-patch+json', {
      metadata: { uid: obj.metadata.uid, finalizers: kept.length > 0 ? kept : null },
    });
    this.record('remove-finalizer', node, obj, finalizer);
  }

  private record(action: GcAction['action'], node: Node, obj: StoredKubeObject, detail: string): void {
    this.actions.push({
      action,
      apiVersion: node.rt.apiVersion,
      kind: node.rt.kind,
      namespace: node.namespace,
      name: node.name,
      uid: obj.metadata.uid,
      detail,
      time: this.now(),
    });
  }
}
