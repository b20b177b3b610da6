/**
 * The API machinery between HTTP and storage: create / update / patch / delete
 * / get / list with kube-apiserver's semantics (system metadata, defaulting,
 * validation, generation, optimistic concurrency, dry-run, finalizers,
 * namespace lifecycle, no-op updates that keep the resourceVersion,
 * consistent paginated lists). Used by the HTTP server and by the direct
 * (in-process) API of {@link KubeEmulator}; it knows nothing about identities.
 */
import { randomUUID } from 'node:crypto';
import type { AdmissionAttributes } from './admission.js';
import type { UserInfo } from './auth.js';
import { applyDefaults, defaultJobSelector } from './defaults.js';
import { alreadyExists, badRequest, conflict, expired, forbidden, internalError, invalid, KubeApiError, notFound } from './errors.js';
import { eventCoreToV1, eventV1ToCore } from './events.js';
import { applyJsonPatch, PatchError } from './json-patch.js';
import { trackWrite } from './managed-fields.js';
import { applyMergePatch } from './merge-patch.js';
import { CONTINUE_EXPIRED_MESSAGE, ContinueTokens } from './pagination.js';
import type { ResourceType } from './resources.js';
import { findByPlural, RESOURCES, storageKey } from './resources.js';
import type { FieldSelector, LabelSelector } from './selectors.js';
import { checkFieldSelector, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { StoredEntry } from './store.js';
import { canonicalize, ObjectStore, objectKey } from './store.js';
import { applyStrategicMergePatch } from './strategic-merge-patch.js';
import type { KubeObject, ObjectMeta, StoredKubeObject } from './types.js';
import { cloneJson, deepEqual, isObject } from './types.js';
import { isValidBase64, validateObject } from './validation.js';

/** Patch content types the server accepts. */
export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

export interface RegistryOptions {
  /** Clock for timestamps and continue-token expiry. */
  now: () => Date;
  /** Continue-token lifetime, read on each list. */
  continueTtlMs: () => number;
  /**
   * How long a deleted namespace stays Terminating before the namespace controller empties and
   * removes it, read on each namespace delete; 0: at once, within the DELETE.
   */
  namespaceDeletionDelayMs?: () => number;
}

/** Options shared by writes. */
export interface WriteOptions {
  /** `dryRun=All`: validate and answer, persist nothing. */
  dryRun?: boolean;
  /** `status` to write the status subresource. */
  subresource?: string;
  /** Who asks, for admission policies; undefined for the emulator's own and direct (admin) writes. */
  user?: UserInfo;
  /**
   * Called when a PUT turns into a create (AllowCreateOnUpdate), after validation and before
   * admission: authorizes the verb `create` as well (throws 403), as UpdateResource's
   * withAuthorization does (k8s.io/apiserver/pkg/endpoints/handlers/update.go).
   */
  authorizeCreate?: () => void;
  /** The field manager of the write (see managed-fields.ts); `emulator` when not given. */
  manager?: string;
  /**
   * The body is the caller's to give away (decoded from a request, used for nothing else): a
   * create stores it without copying it first.
   */
  owned?: boolean;
}

/** Body of a DELETE (meta/v1 DeleteOptions), the parts honoured. */
export interface DeleteOptions extends WriteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  /** DeleteOptions.propagationPolicy; the legacy `orphanDependents` maps to Orphan (true) or Background (false). */
  propagationPolicy?: PropagationPolicy;
}

/** metav1.DeletionPropagation. */
export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';

/** Finalizers the garbage collector honours (metav1.FinalizerOrphanDependents, FinalizerDeleteDependents). */
export const ORPHAN_FINALIZER = 'orphan';
export const FOREGROUND_FINALIZER = 'foregroundDeletion';

/**
 * Resources whose strategy's DefaultGarbageCollectionPolicy is OrphanDependents: batch/v1 Jobs
 * (pkg/registry/batch/job/strategy.go, "for backwards compatibility"); every other resource served
 * here deletes its dependents in the background by default.
 */
const ORPHAN_BY_DEFAULT = new Set(['batch/jobs']);

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continueToken?: string;
}

/** One object as a resource presents it (events.k8s.io views are converted). */
export interface ObjectView {
  readonly obj: StoredKubeObject;
  /** JSON of `obj` without kind/apiVersion. */
  readonly json: string;
  readonly rv: number;
}

export interface ListResult {
  items: ObjectView[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** Result of a delete: the final object and whether it is gone (false: finalizers keep it). */
export interface DeleteResult {
  view: ObjectView;
  deleted: boolean;
}

/** Resources whose PUT creates a missing object (AllowCreateOnUpdate in their strategies). */
const CREATE_ON_UPDATE = new Set([
  'coordination.k8s.io/leases',
  '/events',
  'events.k8s.io/events',
  '/serviceaccounts',
  'rbac.authorization.k8s.io/roles',
  'rbac.authorization.k8s.io/rolebindings',
  'rbac.authorization.k8s.io/clusterroles',
  'rbac.authorization.k8s.io/clusterrolebindings',
]);

/** Resources whose DELETE answers the deleted object instead of a Status (ReturnDeletedObject). */
export const RETURNS_DELETED_OBJECT = new Set(['/pods', '/namespaces', '/services', '/persistentvolumeclaims']);

const GENERATE_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  let out = '';
  for (let i = 0; i < 5; i++) out += GENERATE_NAME_CHARS[Math.floor(Math.random() * GENERATE_NAME_CHARS.length)];
  return out;
}

/** RFC 3339 with second precision, like metav1.Time. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function groupResource(rt: ResourceType) {
  return { group: rt.group, resource: rt.plural };
}

/** Stored (core) representation -> the resource's representation. */
function toResourceShape(rt: ResourceType, obj: StoredKubeObject): StoredKubeObject {
  return rt.key === 'events.k8s.io/events' ? (eventCoreToV1(obj) as StoredKubeObject) : obj;
}

/** Resource representation -> stored representation. */
function toStorageShape(rt: ResourceType, obj: KubeObject): KubeObject {
  return rt.key === 'events.k8s.io/events' ? eventV1ToCore(obj) : obj;
}

/** `{"kind":..,"apiVersion":..,` + rest: the full JSON of an object view. */
export function fullJson(rt: ResourceType, view: ObjectView): string {
  const head = `{"kind":${JSON.stringify(rt.kind)},"apiVersion":${JSON.stringify(rt.apiVersion)}`;
  return view.json === '{}' ? `${head}}` : `${head},${view.json.slice(1)}`;
}

/** The object with kind/apiVersion, as a fresh copy callers may mutate. */
export function fullObject(rt: ResourceType, view: ObjectView): StoredKubeObject {
  return JSON.parse(fullJson(rt, view)) as StoredKubeObject;
}

/** Storage-layer operations with API-server semantics. */
export class Registry {
  readonly store = new ObjectStore();
  private readonly continueTokens: ContinueTokens;
  private readonly namespaceTimers = new Set<NodeJS.Timeout>();
  /**
   * Validating admission (ValidatingAdmissionPolicies): called with every create, update, patch
   * and delete, after defaulting and validation and before anything is stored (dry runs too);
   * throws to deny. `user` is undefined for writes without an identity (direct API, controllers).
   */
  validateAdmission?: (attributes: Omit<AdmissionAttributes, 'user'> & { user: UserInfo | undefined }) => void;
  /**
   * A garbage collector runs: deletes add its finalizers (`orphan`, `foregroundDeletion`) as the
   * propagation policy asks, as kube-apiserver does only when the garbage collector is enabled.
   */
  garbageCollection = false;

  constructor(private readonly opts: RegistryOptions) {
    this.continueTokens = new ContinueTokens(opts.continueTtlMs, () => opts.now().getTime());
  }

  /** View of a stored entry for `rt`. */
  view(rt: ResourceType, entry: StoredEntry): ObjectView {
    if (!rt.storageOf) return entry;
    const obj = toResourceShape(rt, entry.obj);
    return { obj, json: JSON.stringify(obj), rv: entry.rv };
  }

  private entry(rt: ResourceType, namespace: string | undefined, name: string): StoredEntry | undefined {
    return this.store.get(storageKey(rt), objectKey(rt.namespaced ? namespace : '', name));
  }

  /** GET: the object or 404. */
  get(rt: ResourceType, namespace: string | undefined, name: string): ObjectView {
    const entry = this.entry(rt, namespace, name);
    if (!entry) throw notFound(groupResource(rt), name);
    return this.view(rt, entry);
  }

  /** LIST with selectors and pagination; `namespace` undefined lists across namespaces. */
  list(rt: ResourceType, options: ListOptions = {}): ListResult {
    const labelSel = parseLabelSelector(options.labelSelector);
    const fieldSel = parseFieldSelector(options.fieldSelector);
    checkFieldSelector(rt, fieldSel);
    const limit = options.limit && options.limit > 0 ? Math.floor(options.limit) : 0;
    const filtered = labelSel.requirements.length > 0 || fieldSel.requirements.length > 0;
    if (options.continueToken) return this.continueList(rt, options, options.continueToken, labelSel, fieldSel, limit, filtered);
    const rv = this.store.resourceVersion;
    const all = this.store.collection(storageKey(rt)).sortedEntries(rt.namespaced ? options.namespace : undefined);
    const matching = filtered ? all.filter((e) => this.matches(rt, e, labelSel, fieldSel)) : all;
    return this.page(rt, matching, 0, rv, limit, filtered, undefined);
  }

  private matches(rt: ResourceType, entry: StoredEntry, labelSel: LabelSelector, fieldSel: FieldSelector): boolean {
    if (!matchesLabels(labelSel, entry.obj.metadata.labels)) return false;
    if (fieldSel.requirements.length === 0) return true;
    return matchesFields(fieldSel, rt.storageOf ? toResourceShape(rt, entry.obj) : entry.obj);
  }

  private page(
    rt: ResourceType,
    items: StoredEntry[],
    offset: number,
    rv: number,
    limit: number,
    filtered: boolean,
    snapshotId: string | undefined,
  ): ListResult {
    const end = limit > 0 ? Math.min(items.length, offset + limit) : items.length;
    const pageItems = items.slice(offset, end).map((e) => this.view(rt, e));
    const result: ListResult = { items: pageItems, resourceVersion: String(rv) };
    if (end < items.length) {
      const id = snapshotId ?? this.continueTokens.createSnapshot(items, rv);
      result.continue = this.continueTokens.issue(id, rv, end, items[end - 1].key);
      if (!filtered) result.remainingItemCount = items.length - end;
    } else if (snapshotId) {
      this.continueTokens.release(snapshotId);
    }
    return result;
  }

  private continueList(
    rt: ResourceType,
    options: ListOptions,
    token: string,
    labelSel: LabelSelector,
    fieldSel: FieldSelector,
    limit: number,
    filtered: boolean,
  ): ListResult {
    const resolved = this.continueTokens.resolve(token);
    if (resolved.kind === 'ok') {
      const snapshotId = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { id: string }).id;
      return this.page(rt, resolved.items, resolved.offset, resolved.rv, limit, filtered, snapshotId);
    }
    // Too old: answer 410 with a token continuing (inconsistently) from the current state.
    const rest = this.store
      .collection(storageKey(rt))
      .sortedEntries(rt.namespaced ? options.namespace : undefined)
      .filter((e) => e.key > resolved.start && this.matches(rt, e, labelSel, fieldSel));
    const err = expired(CONTINUE_EXPIRED_MESSAGE);
    if (rest.length > 0) {
      const id = this.continueTokens.createSnapshot(rest, this.store.resourceVersion);
      err.status.metadata.continue = this.continueTokens.issue(id, this.store.resourceVersion, 0, resolved.start);
    }
    throw err;
  }

  /** POST: creates the object (name from body or generateName) in `namespace`. */
  create(rt: ResourceType, namespace: string | undefined, body: KubeObject, opts: WriteOptions = {}): ObjectView {
    checkTypeMeta(rt, body);
    const obj = toStorageShape(rt, opts.owned === true ? body : cloneJson(body)) as KubeObject;
    const meta = prepareMeta(obj);
    if (rt.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace ?? meta.namespace;
      if (!meta.namespace) throw badRequest('an empty namespace may not be set during creation');
    } else {
      delete meta.namespace;
    }
    if (meta.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (rt.namespaced && meta.namespace) this.checkNamespaceAcceptsCreate(rt, meta.namespace, meta.name);
    const incomingManagedFields = meta.managedFields;
    const prepared = this.admit(rt, obj, undefined);
    this.trackManagedFields(rt, undefined, prepared, incomingManagedFields, opts);
    // As kube-apiserver's generic Store.Create: strategy validation, then the validating
    // admission chain, then storage, which is where an existing name is refused (409).
    opts.authorizeCreate?.();
    this.runAdmission(rt, 'CREATE', prepared, undefined, opts);
    if (meta.name && this.entry(rt, meta.namespace, meta.name)) throw alreadyExists(groupResource(rt), meta.name);
    if (opts.dryRun) return viewOf(rt, prepared);
    const entry = this.store.put(storageKey(rt), prepared);
    if (rt.key === '/namespaces') this.afterNamespaceCreated(entry.name);
    return this.view(rt, entry);
  }

  /** PUT: replaces the object (status preserved unless `subresource: 'status'`). */
  update(rt: ResourceType, namespace: string | undefined, name: string, body: KubeObject, opts: WriteOptions = {}): ObjectView {
    checkTypeMeta(rt, body);
    const candidate = toStorageShape(rt, cloneJson(body)) as KubeObject;
    const meta = prepareMeta(candidate);
    if (meta.name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    if (rt.namespaced && meta.namespace && namespace && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.name = name;
    const existing = this.entry(rt, namespace, name);
    if (!existing) {
      if (!CREATE_ON_UPDATE.has(rt.key) || opts.subresource) throw notFound(groupResource(rt), name);
      delete meta.resourceVersion;
      return this.create(rt, namespace, { ...toResourceShape(rt, candidate as StoredKubeObject), metadata: meta }, opts);
    }
    return this.replace(rt, existing, candidate, opts);
  }

  /** PATCH with one of {@link PATCH_TYPES}; resourceVersion in the patch is a precondition. */
  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    patchType: string,
    patch: unknown,
    opts: WriteOptions = {},
  ): ObjectView {
    const existing = this.entry(rt, namespace, name);
    if (!existing) throw notFound(groupResource(rt), name);
    const current = fullObject(rt, this.view(rt, existing));
    let patched: unknown;
    try {
      if (patchType === 'application/json-patch+json') patched = applyJsonPatch(current, patch);
      else if (patchType === 'application/merge-patch+json') patched = applyMergePatch(current, patch);
      else patched = applyStrategicMergePatch(current, patch, rt.kind);
    } catch (err) {
      if (err instanceof PatchError) {
        throw err.kind === 'bad' ? badRequest(err.message) : new KubeApiError(422, 'Invalid', err.message, {});
      }
      throw err;
    }
    if (!isObject(patched)) throw badRequest('the patched object is not a JSON object');
    const candidate = toStorageShape(rt, patched) as KubeObject;
    const meta = prepareMeta(candidate);
    if (meta.name !== name) throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    return this.replace(rt, existing, candidate, opts);
  }

  /** Shared tail of PUT and PATCH. `candidate` is in storage shape. */
  private replace(rt: ResourceType, existing: StoredEntry, candidate: KubeObject, opts: WriteOptions): ObjectView {
    const meta = candidate.metadata as ObjectMeta;
    const old = existing.obj;
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) throw conflict(groupResource(rt), old.metadata.name);
    if (meta.uid && meta.uid !== old.metadata.uid) {
      throw conflict(
        groupResource(rt),
        old.metadata.name,
        `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    let next: KubeObject;
    if (opts.subresource === 'status') {
      next = { ...cloneJson(old), status: candidate.status };
      // The Deployment status strategy keeps annotation changes (the controller writes its revision annotation this way).
      if (rt.key === 'apps/deployments') (next.metadata as ObjectMeta).annotations = meta.annotations;
    } else {
      next = { ...candidate, metadata: { ...meta, namespace: old.metadata.namespace } };
      if (rt.subresources.includes('status')) next.status = cloneJson(old.status);
    }
    const nextMeta = next.metadata as ObjectMeta;
    if (old.metadata.deletionTimestamp) {
      const added = (nextMeta.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid(rt.kind, rt.group, old.metadata.name, [
          {
            reason: 'FieldValueForbidden',
            field: 'metadata.finalizers',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
          },
        ]);
      }
    }
    const prepared = this.admit(rt, next, old, opts.subresource === 'status');
    prepared.metadata.resourceVersion = old.metadata.resourceVersion;
    this.trackManagedFields(rt, old, prepared, opts.subresource === 'status' ? undefined : meta.managedFields, opts);
    this.runAdmission(rt, 'UPDATE', prepared, old, opts);
    if (deepEqual(prepared, old)) return this.view(rt, existing); // no-op: keeps its resourceVersion, like etcd
    if (opts.dryRun) return viewOf(rt, prepared);
    if (prepared.metadata.deletionTimestamp && (prepared.metadata.finalizers ?? []).length === 0) {
      const removed = this.store.remove(storageKey(rt), existing.key) as StoredEntry;
      return this.view(rt, removed);
    }
    return this.view(rt, this.store.put(storageKey(rt), prepared));
  }

  /** DELETE one object. Objects with finalizers get a deletionTimestamp and stay. */
  delete(rt: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): DeleteResult {
    const existing = this.entry(rt, namespace, name);
    if (!existing) throw notFound(groupResource(rt), name);
    checkPreconditions(rt, existing.obj, opts.preconditions);
    this.runAdmission(rt, 'DELETE', undefined, existing.obj, opts);
    if (opts.dryRun) return { view: this.view(rt, existing), deleted: true };
    if (rt.key === '/namespaces') return { view: this.deleteNamespace(existing), deleted: false };
    const current = existing.obj.metadata.finalizers ?? [];
    const finalizers = this.garbageCollection ? gcFinalizers(rt, current, opts.propagationPolicy) : current;
    if (finalizers.length > 0) {
      if (existing.obj.metadata.deletionTimestamp) {
        if (deepEqual(finalizers, current)) return { view: this.view(rt, existing), deleted: false };
        // A second delete may change the propagation policy of an object being deleted.
        const updated = cloneJson(existing.obj);
        updated.metadata.finalizers = finalizers;
        return { view: this.view(rt, this.store.put(storageKey(rt), updated)), deleted: false };
      }
      const marked = cloneJson(existing.obj);
      marked.metadata.deletionTimestamp = rfc3339(this.opts.now());
      marked.metadata.deletionGracePeriodSeconds = 0;
      marked.metadata.finalizers = finalizers;
      if (rt.hasGeneration) marked.metadata.generation = (marked.metadata.generation ?? 0) + 1;
      return { view: this.view(rt, this.store.put(storageKey(rt), marked)), deleted: false };
    }
    return { view: this.view(rt, this.store.remove(storageKey(rt), existing.key) as StoredEntry), deleted: true };
  }

  /** DELETE on a collection: deletes every matching object (each admitted as a DELETE), returns them. */
  deleteCollection(
    rt: ResourceType,
    namespace: string | undefined,
    options: ListOptions & WriteOptions & Pick<DeleteOptions, 'propagationPolicy'>,
  ): ObjectView[] {
    const { items } = this.list(rt, { namespace, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector });
    return items.map(
      (item) =>
        this.delete(rt, namespace, item.obj.metadata.name, {
          dryRun: options.dryRun,
          user: options.user,
          propagationPolicy: options.propagationPolicy,
        }).view,
    );
  }

  /** Sets `metadata.managedFields` of `next` for this write (managed-fields.ts). */
  private trackManagedFields(
    rt: ResourceType,
    old: StoredKubeObject | undefined,
    next: StoredKubeObject,
    incoming: unknown,
    opts: WriteOptions,
  ): void {
    const tracked = trackWrite({
      old,
      next,
      incoming,
      manager: opts.manager ?? 'emulator',
      apiVersion: rt.apiVersion,
      subresource: opts.subresource ?? '',
      time: rfc3339(this.opts.now()),
    });
    if (tracked) next.metadata.managedFields = tracked;
    else delete next.metadata.managedFields;
  }

  /** Hands one write to {@link validateAdmission}, objects in the resource's shape with kind and apiVersion. */
  private runAdmission(
    rt: ResourceType,
    operation: 'CREATE' | 'UPDATE' | 'DELETE',
    object: StoredKubeObject | undefined,
    oldObject: StoredKubeObject | undefined,
    opts: WriteOptions,
  ): void {
    if (this.validateAdmission === undefined) return;
    const full = (o: StoredKubeObject | undefined) =>
      o === undefined ? null : { kind: rt.kind, apiVersion: rt.apiVersion, ...cloneJson(toResourceShape(rt, o)) };
    // Copied only when a policy binding matches and reads them: most writes meet no binding.
    let copies: { object: StoredKubeObject | null; oldObject: StoredKubeObject | null } | undefined;
    const copied = () => {
      copies ??= { object: full(object), oldObject: full(oldObject) };
      return copies;
    };
    const meta = (object ?? oldObject)?.metadata;
    this.validateAdmission({
      operation,
      user: opts.user,
      resource: { group: rt.group, version: rt.version, resource: rt.plural },
      subresource: opts.subresource ?? '',
      kind: { group: rt.group, version: rt.version, kind: rt.kind },
      name: meta?.name ?? '',
      namespace: rt.namespaced ? (meta?.namespace ?? '') : '',
      get object() {
        return copied().object;
      },
      get oldObject() {
        return copied().oldObject;
      },
      dryRun: opts.dryRun === true,
    });
  }

  /**
   * Validates and completes, in place, an object about to be stored: stringData merge,
   * defaults, system metadata, generation, validation (422). Both callers pass a copy of
   * their own (of the request body, the patch result or the stored object).
   */
  private admit(rt: ResourceType, obj: KubeObject, old: StoredKubeObject | undefined, statusWrite = false): StoredKubeObject {
    const meta = obj.metadata as ObjectMeta;
    checkMicroTimes(rt, obj);
    if (rt.key === '/secrets') mergeStringData(obj);
    if (!old && rt.subresources.includes('status')) obj.status = initialStatus(rt);
    applyDefaults(rt, obj);
    const now = rfc3339(this.opts.now());
    meta.uid = old?.metadata.uid ?? randomUUID();
    meta.creationTimestamp = old?.metadata.creationTimestamp ?? now;
    if (old?.metadata.deletionTimestamp) {
      meta.deletionTimestamp = old.metadata.deletionTimestamp;
      meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    delete meta.managedFields;
    delete meta.selfLink;
    if (rt.key === 'batch/jobs' && !old) defaultJobSelector(obj, meta.uid);
    if (rt.hasGeneration) meta.generation = statusWrite && old ? old.metadata.generation : nextGeneration(rt, obj, old);
    else delete meta.generation;
    if (rt.key === 'apps/daemonsets') setTemplateGeneration(obj, old);
    const causes = validateObject(rt, rt.storageOf ? toResourceShape(rt, obj as StoredKubeObject) : obj, old);
    if (causes.length > 0) throw invalid(rt.kind, rt.group, meta.name ?? meta.generateName ?? '', causes);
    return obj as StoredKubeObject;
  }

  /**
   * NamespaceLifecycle on a create: 404 when the namespace does not exist, 403 with the cause
   * NamespaceTerminating (StatusCause.Type, `reason` in JSON) while it is being deleted
   * (k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go). Updates, patches
   * and deletes in it are not refused.
   */
  private checkNamespaceAcceptsCreate(rt: ResourceType, namespace: string, name: string | undefined): void {
    const ns = this.entry(RESOURCE_NAMESPACES, undefined, namespace);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, namespace);
    if ((ns.obj.status as { phase?: string } | undefined)?.phase !== 'Terminating') return;
    const err = forbidden(groupResource(rt), name, `unable to create new content in namespace ${namespace} because it is being terminated`);
    err.status.details = {
      ...err.status.details,
      causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
    };
    throw err;
  }

  private afterNamespaceCreated(namespace: string): void {
    const sa = RESOURCES.find((r) => r.key === '/serviceaccounts') as ResourceType;
    if (!this.entry(sa, namespace, 'default')) this.create(sa, namespace, { metadata: { name: 'default' } });
  }

  /**
   * Deletes a namespace as the namespace registry and controller do: the namespace is marked
   * (deletionTimestamp, `status.phase: Terminating`) and answered so; after
   * {@link RegistryOptions.namespaceDeletionDelayMs} everything in it is removed, then the
   * namespace itself. Deleting a namespace that is already Terminating answers it unchanged.
   */
  private deleteNamespace(ns: StoredEntry): ObjectView {
    if (ns.obj.metadata.deletionTimestamp) return this.view(RESOURCE_NAMESPACES, ns);
    const terminating = cloneJson(ns.obj);
    terminating.metadata.deletionTimestamp = rfc3339(this.opts.now());
    terminating.metadata.deletionGracePeriodSeconds = 0;
    terminating.status = { ...(terminating.status ?? {}), phase: 'Terminating' };
    const delayMs = this.opts.namespaceDeletionDelayMs?.() ?? 0;
    if (delayMs <= 0) {
      this.store.put('/namespaces', terminating);
      return this.finishNamespaceDeletion(ns.name) ?? this.view(RESOURCE_NAMESPACES, ns);
    }
    const marked = this.store.put('/namespaces', terminating);
    const timer = setTimeout(() => {
      this.namespaceTimers.delete(timer);
      this.finishNamespaceDeletion(ns.name);
    }, delayMs);
    this.namespaceTimers.add(timer);
    return this.view(RESOURCE_NAMESPACES, marked);
  }

  /** The namespace controller's part: removes everything in the namespace, then the namespace. */
  private finishNamespaceDeletion(name: string): ObjectView | undefined {
    for (const storage of this.store.storageKeys()) {
      if (storage === '/namespaces') continue;
      const collection = this.store.collection(storage);
      for (const entry of collection.sortedEntries(name)) this.store.remove(storage, entry.key);
    }
    const removed = this.store.remove('/namespaces', objectKey('', name));
    return removed ? this.view(RESOURCE_NAMESPACES, removed) : undefined;
  }

  /** Stops the namespace controller's pending deletions (the emulator is stopping). */
  stop(): void {
    for (const timer of this.namespaceTimers) clearTimeout(timer);
    this.namespaceTimers.clear();
  }
}

const RESOURCE_NAMESPACES = findByPlural('', 'v1', 'namespaces') as ResourceType;

function viewOf(rt: ResourceType, obj: StoredKubeObject): ObjectView {
  const shaped = canonicalize(toResourceShape(rt, obj));
  return { obj: shaped, json: JSON.stringify(shaped), rv: Number(obj.metadata.resourceVersion ?? 0) };
}

function checkTypeMeta(rt: ResourceType, body: KubeObject): void {
  if (!isObject(body)) throw badRequest('the request body must be a JSON object');
  if (body.apiVersion !== undefined && body.apiVersion !== rt.apiVersion) {
    throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${rt.apiVersion})`);
  }
  if (body.kind !== undefined && body.kind !== rt.kind) {
    throw badRequest(
      `${String(body.kind)} in version "${rt.version}" cannot be handled as a ${rt.kind}: the kind in the data does not match`,
    );
  }
}

function prepareMeta(obj: KubeObject): ObjectMeta {
  if (obj.metadata !== undefined && !isObject(obj.metadata)) throw badRequest('metadata must be an object');
  obj.metadata = (obj.metadata ?? {}) as ObjectMeta;
  delete obj.kind;
  delete obj.apiVersion;
  return obj.metadata;
}

/**
 * The finalizers a delete leaves on an object when a garbage collector runs, as the generic
 * registry's deletionFinalizersForGarbageCollection: Orphan adds `orphan`, Foreground adds
 * `foregroundDeletion` (each removing the other), Background removes both; without a policy the
 * object keeps the one it has, or gets the resource's default (`orphan` for batch/v1 Jobs).
 */
function gcFinalizers(rt: ResourceType, current: string[], policy: PropagationPolicy | undefined): string[] {
  const others = current.filter((f) => f !== ORPHAN_FINALIZER && f !== FOREGROUND_FINALIZER);
  if (policy === 'Orphan') return [...others, ORPHAN_FINALIZER];
  if (policy === 'Foreground') return [...others, FOREGROUND_FINALIZER];
  if (policy === 'Background') return others;
  if (current.length !== others.length) return current;
  return ORPHAN_BY_DEFAULT.has(rt.key) ? [...others, ORPHAN_FINALIZER] : current;
}

function checkPreconditions(rt: ResourceType, obj: StoredKubeObject, pre: DeleteOptions['preconditions']): void {
  if (!pre) return;
  const gr = groupResource(rt);
  if (pre.uid && pre.uid !== obj.metadata.uid) {
    throw conflict(gr, obj.metadata.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
  }
  if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
    throw conflict(
      gr,
      obj.metadata.name,
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
    );
  }
}

/** Secret `data` values must be base64; `stringData` is folded into `data` and dropped. */
function mergeStringData(obj: KubeObject): void {
  const data = isObject(obj.data) ? (obj.data as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string' || !isValidBase64(value)) {
      throw badRequest(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${firstBadBase64Byte(String(value))}`,
      );
    }
    data[key] = Buffer.from(value, 'base64').toString('base64');
  }
  if (isObject(obj.stringData)) {
    for (const [key, value] of Object.entries(obj.stringData)) data[key] = Buffer.from(String(value), 'utf8').toString('base64');
  }
  delete obj.stringData;
  if (Object.keys(data).length > 0) obj.data = data;
  else delete obj.data;
}

/** metav1.MicroTime fields per storage key (stored shape). */
const MICRO_TIME_FIELDS: Record<string, string[][]> = {
  'coordination.k8s.io/leases': [
    ['spec', 'acquireTime'],
    ['spec', 'renewTime'],
  ],
  '/events': [['eventTime'], ['series', 'lastObservedTime']],
};

const RFC3339_MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

/**
 * MicroTime fields must have exactly six fractional digits: the real decoder
 * parses them with layout "2006-01-02T15:04:05.000000Z07:00" and answers 400
 * otherwise (a JavaScript Date's toISOString() has three).
 */
function checkMicroTimes(rt: ResourceType, obj: KubeObject): void {
  for (const path of MICRO_TIME_FIELDS[storageKey(rt)] ?? []) {
    let value: unknown = obj;
    for (const p of path) value = isObject(value) ? value[p] : undefined;
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !RFC3339_MICRO.test(value)) {
      const rest = typeof value === 'string' ? value.slice(19) : String(value);
      throw badRequest(
        `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: parsing time "${String(value)}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${rest}" as ".000000"`,
      );
    }
  }
}

function firstBadBase64Byte(value: string): number {
  const index = value.search(/[^A-Za-z0-9+/=\r\n]/);
  return index >= 0 ? index : value.length - (value.length % 4);
}

function initialStatus(rt: ResourceType): Record<string, unknown> {
  if (rt.key === '/namespaces') return { phase: 'Active' };
  if (rt.key === '/pods') return { phase: 'Pending', qosClass: 'BestEffort' };
  return {};
}

/** Annotation the real server writes on DaemonSets from their (internal) spec.templateGeneration. */
export const DAEMONSET_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation';

/**
 * As kube-apiserver: the DaemonSet strategy (pkg/registry/apps/daemonset/strategy.go) sets
 * templateGeneration to 1 on create and +1 when spec.template changes, ignoring what the client
 * sent, and the apps/v1 conversion (pkg/apis/apps/v1/conversion.go) writes it as this annotation,
 * before validating admission sees the object.
 */
function setTemplateGeneration(obj: KubeObject, old: StoredKubeObject | undefined): void {
  const previous = Number(old?.metadata.annotations?.[DAEMONSET_TEMPLATE_GENERATION] ?? 1) || 1;
  const spec = (obj.spec ?? {}) as { template?: unknown };
  const changed = old !== undefined && !deepEqual(spec.template, (old.spec as { template?: unknown } | undefined)?.template);
  const value = old === undefined ? 1 : changed ? previous + 1 : previous;
  obj.metadata = { ...obj.metadata, annotations: { ...(obj.metadata?.annotations ?? {}), [DAEMONSET_TEMPLATE_GENERATION]: String(value) } };
}

/** metadata.generation: 1 on create; +1 when spec (Deployments: also annotations) changes. */
function nextGeneration(rt: ResourceType, obj: KubeObject, old: StoredKubeObject | undefined): number {
  if (!old) return 1;
  const previous = old.metadata.generation ?? 1;
  const specChanged = !deepEqual(obj.spec, old.spec);
  const annotationsChanged = rt.key === 'apps/deployments' && !deepEqual(obj.metadata?.annotations ?? {}, old.metadata.annotations ?? {});
  return specChanged || annotationsChanged ? previous + 1 : previous;
}
