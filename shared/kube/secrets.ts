import { type CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions, type V1Secret } from '@kubernetes/client-node';
import { StewardError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { KubeCaller } from './kube-call.js';
import { DRY_RUN_DETAIL, failedTo, KubeError, type KubeOp } from './kube-error.js';
import { type ListPage, type ListPageRequest, listMetadataPages, listPages, type MetadataOnly, sizeOfManagedFields } from './list-pages.js';
import { getJson, sendDiscardingAnswer, sendJson } from './raw-request.js';

/**
 * A Secret as a metadata-only list returns it: name, namespace, labels, annotations,
 * ownerReferences, uid, resourceVersion, creationTimestamp. NOT its data, `type` or
 * `immutable`: whatever depends on those needs {@link SecretStore.get}.
 */
export type SecretMetadata = MetadataOnly;

/** Metadata changes for {@link SecretStore.patchMetadata}: a value sets, `null` removes. */
export interface MetadataPatch {
  /** Precondition: the write fails with 409 Conflict unless the Secret still has this resourceVersion. */
  resourceVersion: string;
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
  /** `null` removes every ownerReference, so that the garbage collector never deletes the Secret for an owner's sake. */
  ownerReferences?: null;
}

/** How {@link SecretStore.list} asks for its pages. */
export interface SecretListOptions {
  labelSelector?: string;
  /** Filters on the server, e.g. `type!=helm.sh/release.v1,metadata.namespace!=kube-system`. */
  fieldSelector?: string;
  /** Items asked for by the first request. @default 250 */
  pageSize?: number;
  /**
   * Bounds memory: after the first page, each request asks for about this many bytes of Secrets
   * (between 10 and 4 × `pageSize` items), estimated from the page before. @default 16 MiB
   */
  pageBytes?: number;
  /**
   * Restarts after a continue token expired (410 Gone), signalled by `restarted` on the next
   * page; 0 throws the KubeError instead, for a caller that restarts a larger walk. @default 3
   */
  maxRestarts?: number;
  /** Words after the object in errors and retry log lines, e.g. `(read back, label app=x)`. */
  detail?: string;
}

/** Options of a write. */
export interface WriteOptions {
  /**
   * Sends it with `dryRun=All`: the API server authorises, admits and validates it, and persists
   * nothing. Errors say `(dry run)`. @default false
   */
  dryRun?: boolean;
  /**
   * Retries after a 5xx or a lost connection, when the write may have happened. Safe when a
   * repeat cannot write twice: a write guarded by a precondition fails with 409 (or 404) when
   * the first attempt did happen, and a create of a name unique to the caller with AlreadyExists,
   * which the caller must then recognise as its own. Without it, the KubeError is thrown with
   * `outcomeUnknown` and the caller re-reads. 429 and refused connections are always retried.
   * @default false for create, true for replace, patchMetadata and delete
   */
  retryUnknownOutcome?: boolean;
}

/**
 * The one way jobs read and write Secrets: a narrow seam in front of the API, with the fast
 * paths behind it (dry-run writes, creates whose echo is not read, delete by label, metadata-only
 * and byte-bounded lists). Every write is guarded: `replace` and `patchMetadata` by
 * resourceVersion (409 when stale), `delete` by optional uid/resourceVersion preconditions.
 * Failures are {@link KubeError}s naming the operation and the Secret, never its data.
 */
export interface SecretStore {
  /** Pages of Secrets in `namespace` (every namespace when undefined), memory bounded by page. */
  list(namespace: string | undefined, options?: SecretListOptions): AsyncGenerator<ListPage<V1Secret>>;
  /**
   * Pages of Secrets' metadata only (`as=PartialObjectMetadataList`): no value leaves the API
   * server, and a page of thousands of Secrets costs a few MiB. Same pagination and 410 restart
   * as {@link list}; `fieldSelector` may name `type` (`type!=helm.sh/release.v1`).
   */
  listMetadata(
    namespace: string | undefined,
    options?: { labelSelector?: string; fieldSelector?: string; pageSize?: number },
  ): AsyncGenerator<ListPage<SecretMetadata>>;
  /** The Secret, or undefined when it does not exist. */
  get(namespace: string, name: string): Promise<V1Secret | undefined>;
  /**
   * Creates a Secret and returns what the API server stored (a mutating webhook's changes
   * included); fails with AlreadyExists (409) when the name is taken. `body` may be given as the
   * JSON it is sent as ({@link SecretJson}).
   */
  create(namespace: string, body: V1Secret | SecretJson, options?: WriteOptions): Promise<V1Secret>;
  /**
   * {@link create} for a caller that does not need the Secret the API server echoes back (it
   * reads it back otherwise, or not at all): the answer is not parsed, which saves most of the
   * CPU and memory a create costs the client.
   */
  createWithoutEcho(namespace: string, body: V1Secret, options?: WriteOptions): Promise<void>;
  /** Replaces a Secret (PUT); `body.metadata.resourceVersion` is required and is the precondition. */
  replace(namespace: string, name: string, body: V1Secret, options?: WriteOptions): Promise<V1Secret>;
  /** JSON merge patch of labels and annotations only, guarded by resourceVersion. */
  patchMetadata(namespace: string, name: string, patch: MetadataPatch): Promise<V1Secret>;
  /** Deletes a Secret; false when it was already gone. Preconditions fail with 409. */
  delete(
    namespace: string,
    name: string,
    preconditions?: { uid?: string; resourceVersion?: string },
    options?: WriteOptions,
  ): Promise<boolean>;
  /**
   * Deletes every Secret of `namespace` that `labelSelector` selects with ONE `deletecollection`
   * request (retried: it is idempotent). The answer, every deleted Secret with its data, is not
   * parsed. A 403 means the Role lacks deletecollection.
   */
  deleteCollection(namespace: string, labelSelector: string): Promise<void>;
}

/**
 * A Secret to write, already serialised as the JSON of its request body (UTF-8), as a caller
 * that kept it so has it (the restore's spool): sent as these bytes, not parsed and serialised
 * again. `name` must be the body's `metadata.name` (errors and retry log lines name it).
 */
export class SecretJson {
  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
  ) {}

  /** The Secret as an object (a new one each time), for a write that changes it first. */
  toSecret(): V1Secret {
    return JSON.parse(Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('utf8')) as V1Secret;
  }
}

/** Rough bytes of a Secret, for adapting list page sizes. */
function sizeOfSecret(s: V1Secret): number {
  let n = 512 + sizeOfManagedFields(s.metadata);
  for (const v of Object.values(s.data ?? {})) n += v.length;
  for (const v of Object.values(s.metadata?.annotations ?? {})) n += v.length;
  return n;
}

/** The query parameter of a dry-run write, as the typed calls take it. */
const dryRunParam = (o: WriteOptions) => (o.dryRun ? { dryRun: 'All' } : {});

/**
 * {@link SecretStore} on the Kubernetes API through a {@link KubeCaller} (retries, error
 * conversion). Which caller decides when retrying stops: a job makes a second store with a
 * caller that keeps retrying after a shutdown request for its cleanup.
 */
export class KubeSecretStore implements SecretStore {
  /**
   * @param log warns when a metadata-only list was answered with full objects.
   * @param kubeConfig the kubeconfig `core` was made from: {@link list}, {@link create},
   *   {@link createWithoutEcho} and {@link deleteCollection} send their requests with it (see
   *   raw-request.ts): a list's and a create's answer is parsed as plain JSON, the others'
   *   dropped unparsed. Without it they go through `core` (the same requests; every answer
   *   deserialised into the typed model).
   */
  constructor(
    private readonly core: CoreV1Api,
    private readonly caller: KubeCaller,
    private readonly log?: Logger,
    private readonly kubeConfig?: KubeConfig,
  ) {}

  list(namespace: string | undefined, options: SecretListOptions = {}): AsyncGenerator<ListPage<V1Secret>> {
    const op = { verb: 'list', kind: 'Secret', namespace, detail: options.detail };
    const { labelSelector, fieldSelector } = options;
    const kc = this.kubeConfig;
    const fetchPage: (req: ListPageRequest) => Promise<SecretListPage> =
      kc === undefined
        ? (req) =>
            namespace === undefined
              ? this.core.listSecretForAllNamespaces({ limit: req.limit, _continue: req._continue, labelSelector, fieldSelector })
              : this.core.listNamespacedSecret({ namespace, limit: req.limit, _continue: req._continue, labelSelector, fieldSelector })
        : async (req) => {
            const query = new URLSearchParams({ limit: String(req.limit) });
            if (req._continue !== undefined) query.set('continue', req._continue);
            if (labelSelector !== undefined) query.set('labelSelector', labelSelector);
            if (fieldSelector !== undefined) query.set('fieldSelector', fieldSelector);
            const path = namespace === undefined ? '/api/v1/secrets' : secretsPath(namespace);
            return secretListFromJson(await getJson(kc, `${path}?${query}`), op);
          };
    return listPages<V1Secret>(this.caller, op, fetchPage, {
      pageSize: options.pageSize,
      targetPageBytes: options.pageBytes,
      maxRestarts: options.maxRestarts,
      sizeOf: sizeOfSecret,
    });
  }

  listMetadata(
    namespace: string | undefined,
    options: { labelSelector?: string; fieldSelector?: string; pageSize?: number } = {},
  ): AsyncGenerator<ListPage<SecretMetadata>> {
    const op = { verb: 'list', kind: 'Secret', namespace };
    const { labelSelector, fieldSelector } = options;
    let warned = false;
    return listMetadataPages(
      this.caller,
      op,
      (req, callOptions) =>
        namespace === undefined
          ? this.core.listSecretForAllNamespaces({ limit: req.limit, _continue: req._continue, labelSelector, fieldSelector }, callOptions)
          : this.core.listNamespacedSecret(
              { namespace, limit: req.limit, _continue: req._continue, labelSelector, fieldSelector },
              callOptions,
            ),
      {
        pageSize: options.pageSize,
        onFullList: () => {
          if (warned) return;
          warned = true;
          this.log?.warn(
            { namespace: namespace ?? '(all)' },
            'the API server answered a metadata-only list of Secrets with full Secrets (a proxy in between?): only their metadata is kept, but every value was sent and memory is higher',
          );
        },
      },
    );
  }

  async get(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.caller.call({ verb: 'get', kind: 'Secret', namespace, name }, () =>
        this.core.readNamespacedSecret({ namespace, name }),
      );
    } catch (e) {
      if (e instanceof KubeError && e.notFound) return undefined;
      throw e;
    }
  }

  create(namespace: string, body: V1Secret | SecretJson, options: WriteOptions = {}): Promise<V1Secret> {
    const kc = this.kubeConfig;
    const json = body instanceof SecretJson;
    const send: () => Promise<V1Secret> =
      kc === undefined
        ? () => this.core.createNamespacedSecret({ namespace, body: json ? body.toSecret() : body, ...dryRunParam(options) })
        : async () =>
            secretFromJson(
              await sendJson(
                kc,
                'POST',
                `${secretsPath(namespace)}${options.dryRun ? '?dryRun=All' : ''}`,
                json ? body.bytes : JSON.stringify(body),
              ),
            );
    return this.caller.call(this.writeOp('create', namespace, json ? body.name : body.metadata?.name, options), send, {
      idempotent: options.retryUnknownOutcome ?? false,
    });
  }

  async createWithoutEcho(namespace: string, body: V1Secret, options: WriteOptions = {}): Promise<void> {
    const kc = this.kubeConfig;
    const send: () => Promise<unknown> =
      kc === undefined
        ? () => this.core.createNamespacedSecret({ namespace, body, ...dryRunParam(options) })
        : () => sendDiscardingAnswer(kc, 'POST', `${secretsPath(namespace)}${options.dryRun ? '?dryRun=All' : ''}`, JSON.stringify(body));
    await this.caller.call(this.writeOp('create', namespace, body.metadata?.name, options), send, {
      idempotent: options.retryUnknownOutcome ?? false,
    });
  }

  replace(namespace: string, name: string, body: V1Secret, options: WriteOptions = {}): Promise<V1Secret> {
    if (!body.metadata?.resourceVersion) throw new Error(`replace Secret ${namespace}/${name}: a resourceVersion precondition is required`);
    return this.caller.call(
      this.writeOp('update', namespace, name, options),
      () => this.core.replaceNamespacedSecret({ namespace, name, body, ...dryRunParam(options) }),
      // Guarded by resourceVersion: a repeat after an unknown outcome fails with 409 instead of writing twice.
      { idempotent: options.retryUnknownOutcome ?? true },
    );
  }

  patchMetadata(namespace: string, name: string, patch: MetadataPatch): Promise<V1Secret> {
    const metadata: Record<string, unknown> = { resourceVersion: patch.resourceVersion };
    if (patch.labels !== undefined) metadata.labels = patch.labels;
    if (patch.annotations !== undefined) metadata.annotations = patch.annotations;
    if (patch.ownerReferences === null) metadata.ownerReferences = null;
    return this.caller.call(
      { verb: 'patch', kind: 'Secret', namespace, name },
      () =>
        this.core.patchNamespacedSecret(
          { namespace, name, body: { metadata } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      { idempotent: true },
    );
  }

  async delete(
    namespace: string,
    name: string,
    preconditions?: { uid?: string; resourceVersion?: string },
    options: WriteOptions = {},
  ): Promise<boolean> {
    try {
      await this.caller.call(
        this.writeOp('delete', namespace, name, options),
        () =>
          this.core.deleteNamespacedSecret({
            namespace,
            name,
            body: preconditions ? { preconditions } : undefined,
            ...dryRunParam(options),
          }),
        { idempotent: options.retryUnknownOutcome ?? true },
      );
      return true;
    } catch (e) {
      if (e instanceof KubeError && e.notFound) return false;
      throw e;
    }
  }

  async deleteCollection(namespace: string, labelSelector: string): Promise<void> {
    const kc = this.kubeConfig;
    const send: () => Promise<unknown> =
      kc === undefined
        ? () => this.core.deleteCollectionNamespacedSecret({ namespace, labelSelector })
        : () => sendDiscardingAnswer(kc, 'DELETE', `${secretsPath(namespace)}?labelSelector=${encodeURIComponent(labelSelector)}`);
    await this.caller.call({ verb: 'deletecollection', kind: 'Secret', namespace, detail: `(label ${labelSelector})` }, send, {
      idempotent: true,
    });
  }

  private writeOp(verb: string, namespace: string, name: string | undefined, options: WriteOptions): KubeOp {
    return { verb, kind: 'Secret', namespace, name, detail: options.dryRun ? DRY_RUN_DETAIL : undefined };
  }
}

/**
 * A Secret as the API server's JSON has it, with the fields client-node's ObjectSerializer
 * would make Dates made Dates (the only difference `V1Secret` callers could see).
 */
function secretFromJson(json: unknown): V1Secret {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new StewardError(`the API server answered with ${describeAnswer(json)} where a Secret was expected`);
  }
  const s = json as V1Secret;
  const md = s.metadata as Record<string, unknown> | undefined;
  if (md !== null && typeof md === 'object') {
    for (const k of ['creationTimestamp', 'deletionTimestamp']) if (typeof md[k] === 'string') md[k] = new Date(md[k] as string);
    if (Array.isArray(md.managedFields)) {
      for (const f of md.managedFields as Array<{ time?: unknown } | null>) if (typeof f?.time === 'string') f.time = new Date(f.time);
    }
  }
  return s;
}

/** A page of a Secret list, as {@link listPages} reads it. */
interface SecretListPage {
  items: V1Secret[];
  metadata?: { _continue?: string; resourceVersion?: string; remainingItemCount?: number };
}

/**
 * A SecretList as the API server's JSON has it, made what the typed list returns: each item as
 * {@link secretFromJson} makes it, and the list's `continue` as `_continue`. An answer that is
 * not a list (a proxy's page, a truncated body parsed by a lenient middlebox) is refused
 * rather than read as an empty one: a backup must not miss Secrets because of it.
 */
function secretListFromJson(json: unknown, op: KubeOp): SecretListPage {
  const list = json as { kind?: unknown; items?: unknown; metadata?: Record<string, unknown> } | null;
  if (list === null || typeof list !== 'object' || !Array.isArray(list.items)) {
    throw new StewardError(`${failedTo(op)}: the API server answered with ${describeAnswer(list)}, not a SecretList with items`);
  }
  if (!list.items.every((item) => item !== null && typeof item === 'object' && !Array.isArray(item))) {
    throw new StewardError(`${failedTo(op)}: an item of the answer is not an object`);
  }
  const md = list.metadata ?? {};
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const remaining = typeof md.remainingItemCount === 'number' ? md.remainingItemCount : undefined;
  return {
    items: (list.items as unknown[]).map(secretFromJson),
    metadata: {
      _continue: str(md.continue),
      resourceVersion: str(md.resourceVersion),
      ...(remaining !== undefined ? { remainingItemCount: remaining } : {}),
    },
  };
}

/** What a JSON answer is, for an error message (its kind at most, never its content). */
function describeAnswer(json: unknown): string {
  if (json === null || typeof json !== 'object') return json === null ? 'null' : `a JSON ${typeof json}`;
  if (Array.isArray(json)) return 'a JSON array';
  const kind = (json as { kind?: unknown }).kind;
  return typeof kind === 'string' && /^[A-Za-z]{1,64}$/.test(kind) ? `kind ${kind}` : 'an object without items';
}

/** The path of a namespace's Secrets, as client-node builds it. */
function secretsPath(namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
}
