/**
 * KubeEmulator: an in-process Kubernetes API server for tests, speaking the
 * real REST protocol over plain HTTP well enough for @kubernetes/client-node
 * and kubectl. See README.md in this folder for behaviour and known gaps.
 *
 * Request pipeline: classify (RequestInfo) -> log -> authenticate -> fault
 * injection -> 401 -> impersonation (403) -> RBAC (403) -> route -> registry.
 */

import { writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { type AdmissionAttributes, ValidatingAdmission } from './admission.js';
import type { UserInfo } from './auth.js';
import { ANONYMOUS, TokenAuthenticator } from './auth.js';
import { coreVersions, group, groupList, groupVersionPaths, resourceList, versionInfo } from './discovery.js';
import {
  badRequest,
  forbidden,
  forbiddenPath,
  invalid,
  KubeApiError,
  methodNotAllowed,
  notFoundPath,
  unauthorized,
  unsupportedMediaType,
} from './errors.js';
import type { FaultAction } from './faults.js';
import { FaultInjector } from './faults.js';
import { checkUnknownFields, fieldValidationMode, warningHeader } from './field-validation.js';
import { GarbageCollector } from './garbage-collector.js';
import { readBody, sendError, sendJson, sendStatus } from './http-util.js';
import { JobController } from './job-controller.js';
import type { KubeconfigOptions } from './kubeconfig.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { managerOf } from './managed-fields.js';
import type { OutputForm } from './negotiation.js';
import { checkOutputForm, negotiateOutput, partialObjectMetadataJson } from './negotiation.js';
import { openApiDocumentJson, openApiIndex } from './openapi.js';
import { decodeProtobufObject } from './protobuf.js';
import type { AuthzDecision, RequestAttributes } from './rbac.js';
import { bootstrapPolicy, forbiddenReason, RbacAuthorizer } from './rbac.js';
import type { ListResult, ObjectView, PropagationPolicy } from './registry.js';
import { fullJson, fullObject, PATCH_TYPES, RETURNS_DELETED_OBJECT, Registry } from './registry.js';
import type { RequestInfo } from './request-info.js';
import { requestInfo } from './request-info.js';
import type { RequestLogEntry } from './request-log.js';
import { RequestLog } from './request-log.js';
import type { ResourceType } from './resources.js';
import { findByPlural, requireKind, type Served } from './resources.js';
import type { IncludeObject } from './table.js';
import { renderTable } from './table.js';
import type { KubeObject, StoredKubeObject } from './types.js';
import { isObject } from './types.js';
import { WatchHub } from './watch.js';
import { WorkloadController } from './workload-controller.js';

/** Options of {@link KubeEmulator.start}. */
export interface EmulatorOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (ephemeral) */
  port?: number;
  /** Enforce RBAC for non-admin identities. @default true */
  rbac?: boolean;
  /** Bearer token of the admin identity (group system:masters, bypasses RBAC). @default 'emulator-admin' */
  adminToken?: string;
  /**
   * Requests without an Authorization header act as admin (kubectl sends no
   * token over plain http). When false they are `system:anonymous`
   * (group system:unauthenticated) and RBAC decides. @default true
   */
  anonymousIsAdmin?: boolean;
  /** Workload controller delay between a spec change and the status update. @default 50 */
  rolloutDelayMs?: number;
  /** Lifetime of list continue tokens; older ones get 410 Expired. @default 300000 (5 min) */
  continueTtlMs?: number;
  /**
   * How long a deleted namespace stays Terminating (creates in it: 403) before the namespace
   * controller removes its content and then the namespace. @default 0 (at once, within the DELETE)
   */
  namespaceDeletionDelayMs?: number;
  /** Clock for timestamps and token expiry. @default () => new Date() */
  now?: () => Date;
  /** Largest accepted request body; bigger ones get 413. @default 3145728 (3 MiB) */
  maxRequestBodyBytes?: number;
  /**
   * Run the garbage collector (`garbage-collector.ts`): ownerReferences cascade, dangling owners
   * delete their dependents, deletes honour `propagationPolicy`. @default true
   */
  garbageCollector?: boolean;
  /** Delay between a change and the garbage collector acting on it. @default 20 */
  gcDelayMs?: number;
  /**
   * CustomResourceDefinitions installed, by name: their resources are served (API, discovery,
   * OpenAPI) and, for `rollouts.argoproj.io`, run by the Argo Rollouts controller stand-in. Without
   * one, its group answers 404 like a cluster where it is not installed. @default []
   */
  crds?: readonly 'rollouts.argoproj.io'[];
}

/** One authorization decision made for a served request. */
export interface RbacDecisionRecord extends AuthzDecision {
  time: Date;
  user: string;
  groups: string[];
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

/** Admin identity (kubeconfig "admin" user of a kind/kubeadm cluster is in system:masters too). */
const ADMIN_USER: UserInfo = { username: 'emulator-admin', groups: ['system:masters', 'system:authenticated'] };

const NON_RESOURCE_TEXT = new Set(['/healthz', '/livez', '/readyz']);

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  info: RequestInfo;
  user: UserInfo;
  entry: RequestLogEntry;
  body?: Buffer;
}

/** See module documentation. */
export class KubeEmulator {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Fault injection. */
  readonly faults = new FaultInjector();
  /** Every request served. */
  readonly requests = new RequestLog();
  /** Deployment / StatefulSet / DaemonSet controller stand-in. */
  readonly workloads: WorkloadController<KubeEmulator>;
  /** Job controller and kubelet stand-in: off until `jobs.enable({ repoRoot })` (job-controller.ts). */
  readonly jobs: JobController;
  /** The garbage collector, undefined when started with `garbageCollector: false`. */
  readonly gc?: GarbageCollector;

  private readonly registry: Registry;
  private readonly authn = new TokenAuthenticator();
  private readonly authz: RbacAuthorizer;
  private readonly watches: WatchHub;
  private readonly sockets = new Set<Socket>();
  private readonly decisions: RbacDecisionRecord[] = [];
  private readonly now: () => Date;
  private continueTtlMs: number;
  private namespaceDeletionDelay: number;
  /** The resources served: built-in ones and those of the installed CRDs. */
  private readonly served: Served;

  private constructor(
    private readonly server: Server,
    private readonly opts: Required<Omit<EmulatorOptions, 'host' | 'port' | 'now'>>,
    now: () => Date,
  ) {
    const crds = new Set<string>(opts.crds);
    this.served = (rt) => rt.crd === undefined || crds.has(rt.crd);
    const address = server.address() as AddressInfo;
    this.url = `http://${address.address}:${address.port}`;
    this.now = now;
    this.continueTtlMs = opts.continueTtlMs;
    this.namespaceDeletionDelay = opts.namespaceDeletionDelayMs;
    this.registry = new Registry({
      now,
      continueTtlMs: () => this.continueTtlMs,
      namespaceDeletionDelayMs: () => this.namespaceDeletionDelay,
    });
    this.authz = new RbacAuthorizer(this.registry);
    const stored = (plural: string) => () =>
      this.registry.list(findByPlural('admissionregistration.k8s.io', 'v1', plural) as ResourceType).items.map((v) => v.obj);
    const admission = new ValidatingAdmission({
      policies: stored('validatingadmissionpolicies'),
      bindings: stored('validatingadmissionpolicybindings'),
    });
    this.registry.validateAdmission = (a) => {
      // Not a spread: the objects are getters that copy them only when a binding reads them.
      a.user ??= ADMIN_USER;
      admission.validate(a as AdmissionAttributes);
    };
    this.watches = new WatchHub(this.registry);
    this.workloads = new WorkloadController<KubeEmulator>(this.registry, this as KubeEmulator, now, opts.rolloutDelayMs);
    this.jobs = new JobController(this.registry, this, now);
    if (opts.garbageCollector) {
      this.registry.garbageCollection = true;
      this.gc = new GarbageCollector(this.registry, now, opts.gcDelayMs);
    }
    this.authn.add(opts.adminToken, ADMIN_USER.username, ADMIN_USER.groups);
    this.seed();
  }

  /** Starts an emulator listening on host:port (ephemeral port by default). */
  static async start(options: EmulatorOptions = {}): Promise<KubeEmulator> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const emulator = new KubeEmulator(
      server,
      {
        rbac: options.rbac ?? true,
        adminToken: options.adminToken ?? 'emulator-admin',
        anonymousIsAdmin: options.anonymousIsAdmin ?? true,
        rolloutDelayMs: options.rolloutDelayMs ?? 50,
        continueTtlMs: options.continueTtlMs ?? 5 * 60 * 1000,
        namespaceDeletionDelayMs: options.namespaceDeletionDelayMs ?? 0,
        maxRequestBodyBytes: options.maxRequestBodyBytes ?? 3 * 1024 * 1024,
        garbageCollector: options.garbageCollector ?? true,
        gcDelayMs: options.gcDelayMs ?? 20,
        crds: options.crds ?? [],
      },
      options.now ?? (() => new Date()),
    );
    server.on('connection', (socket) => {
      emulator.sockets.add(socket);
      socket.on('close', () => emulator.sockets.delete(socket));
    });
    server.on('request', (req, res) => void emulator.handle(req, res));
    return emulator;
  }

  /** Stops the server: ends watches, closes every connection, stops controller timers. */
  async stop(): Promise<void> {
    this.workloads.stop();
    this.registry.stop();
    this.jobs.stop();
    this.gc?.stop();
    this.watches.closeAll();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Continue-token lifetime; may be changed at runtime. */
  get continueTokenTtlMs(): number {
    return this.continueTtlMs;
  }

  set continueTokenTtlMs(ms: number) {
    this.continueTtlMs = ms;
  }

  /** How long a deleted namespace stays Terminating; may be changed at runtime (applies to later deletes). */
  get namespaceDeletionDelayMs(): number {
    return this.namespaceDeletionDelay;
  }

  set namespaceDeletionDelayMs(ms: number) {
    this.namespaceDeletionDelay = ms;
  }

  // ---------------------------------------------------------------- identities

  /** Registers a bearer token for `username` (`system:authenticated` is added to `groups`). */
  addToken(token: string, username: string, groups: string[] = []): void {
    this.authn.add(token, username, groups);
  }

  /** Creates and registers a token authenticating as ServiceAccount `namespace/name`. */
  serviceAccountToken(namespace: string, name: string): string {
    return this.authn.serviceAccountToken(namespace, name);
  }

  /** A kubeconfig for this server (see {@link KubeconfigOptions}). */
  kubeconfigYaml(opts: KubeconfigOptions = {}): string {
    return kubeconfigYaml(this.url, opts);
  }

  /** Writes {@link kubeconfigYaml} to `path`. */
  async writeKubeconfig(path: string, opts: KubeconfigOptions = {}): Promise<void> {
    await writeFile(path, this.kubeconfigYaml(opts), { mode: 0o600 });
  }

  /** Authorization decisions of served requests (not cleared by `requests.clear()`). */
  rbacDecisions(): RbacDecisionRecord[] {
    return [...this.decisions];
  }

  /** Forgets recorded RBAC decisions. */
  clearRbacDecisions(): void {
    this.decisions.length = 0;
  }

  // ------------------------------------------------------------ direct access

  /** The resource of a kind this emulator serves (a CRD's only when installed), else an error. */
  private servedKind(apiVersion: string | undefined, kind: string | undefined): ResourceType {
    const rt = requireKind(apiVersion, kind);
    if (!this.served(rt)) throw new Error(`emulator: ${apiVersion}/${kind} is served only with crds: ['${rt.crd}']`);
    return rt;
  }

  /** Creates an object as admin, with the API's validation; returns it (with kind/apiVersion). */
  create<T extends KubeObject>(obj: T, opts: { dryRun?: boolean } = {}): StoredKubeObject {
    const rt = this.servedKind(obj.apiVersion, obj.kind);
    return fullObject(rt, this.registry.create(rt, obj.metadata?.namespace, obj, opts));
  }

  /** The object, or undefined when it does not exist. `namespace` is ignored for cluster-scoped kinds. */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): StoredKubeObject | undefined {
    const rt = this.servedKind(apiVersion, kind);
    try {
      return fullObject(rt, this.registry.get(rt, namespace, name));
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** Objects of a kind (one namespace, or all when `namespace` is undefined), in key order. */
  list(
    apiVersion: string,
    kind: string,
    namespace?: string,
    opts: { labelSelector?: string; fieldSelector?: string } = {},
  ): StoredKubeObject[] {
    const rt = this.servedKind(apiVersion, kind);
    return this.registry.list(rt, { namespace, ...opts }).items.map((v) => fullObject(rt, v));
  }

  /** PUT semantics: replaces the object; a metadata.resourceVersion in `obj` is a precondition. */
  update<T extends KubeObject>(obj: T): StoredKubeObject {
    const rt = this.servedKind(obj.apiVersion, obj.kind);
    return fullObject(rt, this.registry.update(rt, obj.metadata?.namespace, obj.metadata?.name ?? '', obj));
  }

  /** Writes only `status` (the status subresource). */
  updateStatus<T extends KubeObject>(obj: T): StoredKubeObject {
    const rt = this.servedKind(obj.apiVersion, obj.kind);
    return fullObject(rt, this.registry.update(rt, obj.metadata?.namespace, obj.metadata?.name ?? '', obj, { subresource: 'status' }));
  }

  /** PATCH with `application/json-patch+json`, `application/merge-patch+json` or `application/strategic-merge-patch+json`. */
  patch(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    patchType: (typeof PATCH_TYPES)[number],
    patch: unknown,
  ): StoredKubeObject {
    const rt = this.servedKind(apiVersion, kind);
    return fullObject(rt, this.registry.patch(rt, namespace, name, patchType, patch));
  }

  /**
   * Deletes an object (404 KubeApiError when missing). Returns false when finalizers keep it
   * (deletionTimestamp set), which includes the garbage collector's for Orphan and Foreground.
   */
  delete(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    opts: { propagationPolicy?: PropagationPolicy; preconditions?: { uid?: string; resourceVersion?: string } } = {},
  ): boolean {
    const rt = this.servedKind(apiVersion, kind);
    return this.registry.delete(rt, namespace, name, opts).deleted;
  }

  /**
   * Creates or replaces objects as admin: an array, or multi-document YAML
   * (`kind: List` documents are expanded). Namespaces are applied first and
   * missing namespaces are created. Namespaced objects without a namespace go
   * to `default`.
   */
  async applyObjects(objs: object[] | string): Promise<void> {
    const docs = typeof objs === 'string' ? parseYamlDocuments(objs) : objs.map((o) => o as KubeObject);
    const flat = docs.flatMap((d) => (d.kind === 'List' && Array.isArray(d.items) ? (d.items as KubeObject[]) : [d]));
    const ordered = [...flat.filter((d) => d.kind === 'Namespace'), ...flat.filter((d) => d.kind !== 'Namespace')];
    for (const obj of ordered) this.applyOne(obj);
    await Promise.resolve();
  }

  private applyOne(input: KubeObject): void {
    const rt = this.servedKind(input.apiVersion, input.kind);
    const obj: KubeObject = { ...input, metadata: { ...(input.metadata ?? {}) } };
    const meta = obj.metadata as NonNullable<KubeObject['metadata']>;
    delete meta.resourceVersion;
    if (rt.namespaced) {
      meta.namespace = meta.namespace ?? 'default';
      const nsRt = findByPlural('', 'v1', 'namespaces') as ResourceType;
      if (!this.get('v1', 'Namespace', undefined, meta.namespace))
        this.registry.create(nsRt, undefined, { metadata: { name: meta.namespace } });
    }
    const exists = meta.name ? this.get(rt.apiVersion, rt.kind, meta.namespace, meta.name) : undefined;
    if (exists) this.registry.update(rt, meta.namespace, meta.name as string, obj);
    else this.registry.create(rt, meta.namespace, obj);
  }

  private seed(): void {
    const nsRt = findByPlural('', 'v1', 'namespaces') as ResourceType;
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease'])
      this.registry.create(nsRt, undefined, { metadata: { name } });
    for (const obj of bootstrapPolicy() as KubeObject[]) this.registry.create(requireKind(obj.apiVersion, obj.kind), undefined, obj);
  }

  // -------------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = (req.method ?? 'GET').toUpperCase();
    const info = requestInfo(method, url.pathname, url.searchParams);
    const entry: RequestLogEntry = {
      seq: this.faults.sequence.next(),
      time: this.now(),
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      user: '',
      groups: [],
      status: 0,
      verb: info.verb,
      resource: info.resource,
      apiGroup: info.apiGroup,
      namespace: info.namespace,
      name: info.nameFromSelector ? '' : info.name,
      subresource: info.subresource,
      accept: req.headers.accept ?? '',
      userAgent: req.headers['user-agent'] ?? '',
      dryRun: url.searchParams.getAll('dryRun').includes('All'),
      fault: false,
    };
    this.requests.add(entry);
    this.requests.track(entry, (done) => res.once('close', done));
    const originalWriteHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((code: number, ...rest: unknown[]) => {
      entry.status = code;
      return originalWriteHead(code, ...rest);
    }) as ServerResponse['writeHead'];
    try {
      const auth = this.authn.authenticate(req.headers.authorization);
      const user =
        auth.kind === 'user' ? auth.user : auth.kind === 'anonymous' ? (this.opts.anonymousIsAdmin ? ADMIN_USER : ANONYMOUS) : undefined;
      entry.user = user?.username ?? '';
      entry.groups = user?.groups ?? [];
      const action = this.faults.match(method, url.pathname, url.search.replace(/^\?/, ''), entry.seq);
      if (action) entry.fault = true;
      if (action?.loseResponse)
        return await this.serveAndLoseResponse(action, req, res, () => this.serve(req, res, url, info, user, entry, method));
      if (action && (await this.applyFault(action, req, res))) return;
      await this.serve(req, res, url, info, user, entry, method);
    } catch (err) {
      sendError(res, err);
    }
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    info: RequestInfo,
    user: UserInfo | undefined,
    entry: RequestLogEntry,
    method: string,
  ): Promise<void> {
    if (!user) throw unauthorized();
    const acting = this.impersonate(req, info, user);
    entry.user = acting.username;
    entry.groups = acting.groups;
    const ctx: RequestContext = { req, res, url, info, user: acting, entry };
    this.authorize(ctx);
    await this.route(ctx, method);
  }

  /**
   * Serves the request in full (errors included) with the answer held back, then destroys the
   * socket: the client sees its connection reset and cannot tell that the request happened.
   * The log entry keeps the status that was not delivered.
   */
  private async serveAndLoseResponse(
    action: FaultAction,
    req: IncomingMessage,
    res: ServerResponse,
    serve: () => Promise<void>,
  ): Promise<void> {
    const writeHead = res.writeHead;
    res.writeHead = ((...args: unknown[]) => {
      (writeHead as (...a: unknown[]) => unknown).apply(res, args);
      // Headers are only recorded until the first write: hold every write back.
      res.write = (() => true) as ServerResponse['write'];
      res.end = (() => res) as ServerResponse['end'];
      return res;
    }) as ServerResponse['writeHead'];
    try {
      await serve();
    } catch (err) {
      sendError(res, err);
    }
    await action.fault.spec.onFire?.(action.request);
    req.socket.destroy();
  }

  /** Applies a matching fault; true when the request was answered (or dropped) by it. */
  private async applyFault(action: FaultAction, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    await action.fault.spec.onFire?.(action.request);
    if (action.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, action.delayMs));
    if (action.drop) {
      req.socket.destroy();
      return true;
    }
    if (action.status) {
      req.resume();
      const headers: Record<string, string> = {};
      if (action.retryAfterSeconds !== undefined) headers['Retry-After'] = String(action.retryAfterSeconds);
      sendStatus(res, action.status, headers);
      return true;
    }
    return false;
  }

  /**
   * The user a request acts as, like kube-apiserver's impersonation filter: with an
   * `Impersonate-User` header (and `Impersonate-Group`s) the requester needs the verb
   * `impersonate` on `users` (or `serviceaccounts` in the account's namespace) and on `groups`,
   * each by name, or the request is refused (403) before anything else is authorized. An
   * impersonated ServiceAccount gets its groups; `system:authenticated` is always added.
   * `Impersonate-Uid` and `Impersonate-Extra-*` are not emulated (400).
   */
  private impersonate(req: IncomingMessage, info: RequestInfo, user: UserInfo): UserInfo {
    const headerList = (name: string) => {
      const v = req.headers[name];
      return v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim());
    };
    const username = headerList('impersonate-user')[0];
    const groups = headerList('impersonate-group');
    if (Object.keys(req.headers).some((h) => h === 'impersonate-uid' || h.startsWith('impersonate-extra-')))
      throw badRequest('Impersonate-Uid and Impersonate-Extra-* are not supported by the emulator');
    if (username === undefined) {
      if (groups.length > 0) throw badRequest('requested impersonation of groups without impersonating a user');
      return user;
    }
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
    const checks: Array<Pick<RequestAttributes, 'resource' | 'namespace' | 'name'>> = [
      sa ? { resource: 'serviceaccounts', namespace: sa[1], name: sa[2] } : { resource: 'users', namespace: '', name: username },
      ...groups.map((g) => ({ resource: 'groups', namespace: '', name: g })),
    ];
    for (const c of checks) {
      const attrs: RequestAttributes = {
        user,
        verb: 'impersonate',
        resourceRequest: true,
        apiGroup: '',
        subresource: '',
        path: info.path,
        ...c,
      };
      const decision = this.opts.rbac ? this.authz.authorize(attrs) : { allowed: true, reason: '', allMatches: [] };
      if (!user.groups.includes('system:masters'))
        this.decisions.push({
          ...decision,
          time: new Date(),
          user: user.username,
          groups: user.groups,
          verb: attrs.verb,
          apiGroup: '',
          resource: c.resource,
          subresource: '',
          namespace: c.namespace,
          name: c.name,
          path: info.path,
        });
      if (!decision.allowed) throw forbidden({ group: '', resource: c.resource }, c.name, forbiddenReason(attrs));
    }
    const saGroups = sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`] : [];
    return { username, groups: [...new Set([...groups, ...saGroups, 'system:authenticated'])] };
  }

  private authorize(ctx: RequestContext): void {
    if (!this.opts.rbac) return;
    const { info, user } = ctx;
    const attrs: RequestAttributes = {
      user,
      verb: info.verb,
      resourceRequest: info.resourceRequest,
      apiGroup: info.apiGroup,
      resource: info.resource,
      subresource: info.subresource,
      namespace: info.namespace,
      name: info.name,
      path: info.path,
    };
    if (user.groups.includes('system:masters')) return;
    const decision = this.authz.authorize(attrs);
    ctx.entry.authz = decision;
    this.decisions.push({
      ...decision,
      time: ctx.entry.time,
      user: user.username,
      groups: user.groups,
      verb: info.verb,
      apiGroup: info.apiGroup,
      resource: info.resource,
      subresource: info.subresource,
      namespace: info.namespace,
      name: info.name,
      path: info.path,
    });
    if (decision.allowed) return;
    const reason = forbiddenReason(attrs);
    if (!info.resourceRequest) throw forbiddenPath(reason);
    throw forbidden({ group: info.apiGroup, resource: info.resource }, info.nameFromSelector ? undefined : info.name || undefined, reason);
  }

  /**
   * A PUT that creates needs `create` too: UpdateResource wraps the create validation in
   * withAuthorization (k8s.io/apiserver/pkg/endpoints/handlers/update.go), which asks the
   * authorizer with verb create and, when denied, answers 403 with the authorizer's reason (RBAC
   * gives none: the message ends with "is forbidden: ").
   */
  private authorizeCreateOnUpdate(ctx: RequestContext): void {
    const { info, user } = ctx;
    if (!this.opts.rbac || user.groups.includes('system:masters')) return;
    const attrs: RequestAttributes = {
      user,
      verb: 'create',
      resourceRequest: true,
      apiGroup: info.apiGroup,
      resource: info.resource,
      subresource: info.subresource,
      namespace: info.namespace,
      name: info.name,
      path: info.path,
    };
    const decision = this.authz.authorize(attrs);
    this.decisions.push({ ...decision, time: ctx.entry.time, user: user.username, groups: user.groups, ...pickRequest(attrs) });
    if (!decision.allowed) throw forbidden({ group: info.apiGroup, resource: info.resource }, info.name, decision.reason);
  }

  private async route(ctx: RequestContext, method: string): Promise<void> {
    const { info, url, res } = ctx;
    if (!info.resourceRequest) return this.routeNonResource(ctx, method);
    const rt = findByPlural(info.apiGroup, info.apiVersion, info.resource);
    if (!rt || !this.served(rt)) throw notFoundPath();
    if (info.namespace && !rt.namespaced && info.resource !== 'namespaces') throw notFoundPath();
    if (rt.virtual) return this.handleReview(ctx, rt, method);
    const dryRun = url.searchParams.getAll('dryRun').includes('All');
    const namespace = rt.namespaced ? info.namespace || undefined : undefined;
    const name = info.nameFromSelector ? '' : info.name;
    if (!name) return this.handleCollection(ctx, rt, method, namespace, dryRun);
    if (info.subresource === 'scale' && rt.subresources.includes('scale'))
      return this.handleScale(ctx, rt, method, namespace, name, dryRun);
    if (info.subresource === 'log' && rt.key === '/pods') return this.handlePodLog(ctx, method, namespace ?? '', name);
    if (info.subresource && (info.subresource !== 'status' || !rt.subresources.includes('status'))) throw notFoundPath();
    const subresource = info.subresource || undefined;
    switch (method) {
      case 'GET':
      case 'HEAD': {
        const form = negotiateOutput(ctx.req.headers.accept);
        const view = this.registry.get(rt, namespace, name);
        checkOutputForm(form, rt, 'object');
        return this.respondObject(ctx, rt, 200, view, form);
      }
      case 'PUT': {
        const body = await this.decodeObject(ctx, rt);
        let created = false;
        const authorizeCreate = () => {
          created = true;
          this.authorizeCreateOnUpdate(ctx);
        };
        const view = this.registry.update(rt, namespace, name, body, {
          dryRun,
          subresource,
          user: ctx.user,
          authorizeCreate,
          manager: manager(ctx),
        });
        return this.respondObject(ctx, rt, created ? 201 : 200, view);
      }
      case 'PATCH': {
        const [patchType, patch] = await this.decodePatch(ctx);
        return this.respondObject(
          ctx,
          rt,
          200,
          this.registry.patch(rt, namespace, name, patchType, patch, { dryRun, subresource, user: ctx.user, manager: manager(ctx) }),
        );
      }
      case 'DELETE': {
        if (subresource) throw methodNotAllowed();
        const options = await this.decodeDeleteOptions(ctx);
        const result = this.registry.delete(rt, namespace, name, { dryRun, ...options, user: ctx.user });
        if (!result.deleted || RETURNS_DELETED_OBJECT.has(rt.key)) return this.respondObject(ctx, rt, 200, result.view);
        const status = {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, ...(rt.group ? { group: rt.group } : {}), kind: rt.plural, uid: result.view.obj.metadata.uid },
        };
        return sendJson(res, 200, JSON.stringify(status));
      }
      default:
        throw methodNotAllowed();
    }
  }

  /**
   * `GET pods/{name}/log`: the container's output as text/plain, kept by the Job controller
   * stand-in (pod-logs.ts); `follow=true` streams until the container ends. Like the real
   * endpoint (pkg/registry/core/pod/rest/log.go, ValidateContainerLogStatus in
   * pkg/kubelet/kubelet_pods.go): `container` may be omitted for a one-container pod, an unknown
   * container is 400, and a container that has not started is 400 "is waiting to start".
   */
  private async handlePodLog(ctx: RequestContext, method: string, namespace: string, name: string): Promise<void> {
    if (method !== 'GET') throw methodNotAllowed();
    const pod = this.registry.get(findByPlural('', 'v1', 'pods') as ResourceType, namespace, name).obj;
    const containers = (((pod.spec as Record<string, unknown>)?.containers ?? []) as Array<{ name: string }>).map((c) => c.name);
    const q = ctx.url.searchParams;
    const container = q.get('container') ?? (containers.length === 1 ? containers[0] : undefined);
    if (container === undefined)
      throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const follow = q.get('follow') === 'true' || q.get('follow') === '1';
    const { res } = ctx;
    let started = false;
    await new Promise<void>((resolve) => {
      const unsubscribe = this.jobs.logs.read(namespace, name, container, follow, (chunk) => {
        if (!started) {
          started = true;
          res.writeHead(200, { 'Content-Type': 'text/plain' });
        }
        if (chunk === null) {
          res.end();
          resolve();
        } else res.write(chunk);
      });
      if (unsubscribe === false) {
        sendError(res, badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`));
        resolve();
        return;
      }
      res.once('close', () => {
        unsubscribe();
        resolve();
      });
    });
  }

  private async handleCollection(
    ctx: RequestContext,
    rt: ResourceType,
    method: string,
    namespace: string | undefined,
    dryRun: boolean,
  ): Promise<void> {
    const q = ctx.url.searchParams;
    switch (method) {
      case 'GET':
      case 'HEAD': {
        const form = negotiateOutput(ctx.req.headers.accept);
        const watch = q.get('watch');
        if (watch === 'true' || watch === '1') {
          checkOutputForm(form, rt, 'watch');
          return this.serveWatch(ctx, rt, namespace, form);
        }
        const limit = Number(q.get('limit') ?? 0);
        const result = this.registry.list(rt, {
          namespace,
          labelSelector: q.get('labelSelector'),
          fieldSelector: q.get('fieldSelector'),
          limit: Number.isFinite(limit) ? limit : 0,
          continueToken: q.get('continue') ?? undefined,
        } as Parameters<Registry['list']>[1]);
        checkOutputForm(form, rt, 'list');
        return this.respondList(ctx, rt, result, form);
      }
      case 'POST': {
        const body = await this.decodeObject(ctx, rt);
        return this.respondObject(
          ctx,
          rt,
          201,
          this.registry.create(rt, namespace, body, { dryRun, user: ctx.user, manager: manager(ctx), owned: true }),
        );
      }
      case 'DELETE': {
        if (!rt.verbs.includes('deletecollection')) throw methodNotAllowed();
        const { propagationPolicy } = await this.decodeDeleteOptions(ctx);
        const deleted = this.registry.deleteCollection(rt, namespace, {
          propagationPolicy,
          labelSelector: q.get('labelSelector') ?? undefined,
          fieldSelector: q.get('fieldSelector') ?? undefined,
          dryRun,
          user: ctx.user,
        });
        return this.respondList(ctx, rt, { items: deleted, resourceVersion: String(this.registry.store.resourceVersion) });
      }
      default:
        throw methodNotAllowed();
    }
  }

  private serveWatch(ctx: RequestContext, rt: ResourceType, namespace: string | undefined, form: OutputForm): void {
    const q = ctx.url.searchParams;
    const includeObject = includeObjectParam(q.get('includeObject'));
    this.watches.serve(rt, ctx.res, {
      namespace,
      labelSelector: q.get('labelSelector') ?? undefined,
      fieldSelector: q.get('fieldSelector') ?? undefined,
      resourceVersion: q.get('resourceVersion') ?? undefined,
      timeoutSeconds: Number(q.get('timeoutSeconds') ?? 0) || undefined,
      allowWatchBookmarks: q.get('allowWatchBookmarks') === 'true',
      sendInitialEvents: q.get('sendInitialEvents') === 'true',
      render:
        form.as === 'Table'
          ? (view) => renderTable(rt, [view], {}, includeObject, this.now(), (v) => fullJson(rt, v))
          : form.as === 'PartialObjectMetadata'
            ? (view) => partialObjectMetadataJson(form.apiVersion, view.obj.metadata)
            : undefined,
      bookmarkType: form.as === 'PartialObjectMetadata' ? { kind: 'PartialObjectMetadata', apiVersion: form.apiVersion } : undefined,
    });
  }

  private handleScale(
    ctx: RequestContext,
    rt: ResourceType,
    method: string,
    namespace: string | undefined,
    name: string,
    dryRun: boolean,
  ): Promise<void> | void {
    const toScale = (view: ObjectView) => {
      const o = view.obj;
      const spec = isObject(o.spec) ? o.spec : {};
      const status = isObject(o.status) ? o.status : {};
      const selector =
        isObject(spec.selector) && isObject(spec.selector.matchLabels)
          ? Object.entries(spec.selector.matchLabels)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(',')
          : '';
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: {
          name: o.metadata.name,
          namespace: o.metadata.namespace,
          uid: o.metadata.uid,
          resourceVersion: o.metadata.resourceVersion,
          creationTimestamp: o.metadata.creationTimestamp,
        },
        spec: { replicas: spec.replicas ?? 1 },
        status: { replicas: status.replicas ?? 0, selector },
      };
    };
    const current = this.registry.get(rt, namespace, name);
    if (method === 'GET') return sendJson(ctx.res, 200, JSON.stringify(toScale(current)));
    if (method !== 'PUT' && method !== 'PATCH') throw methodNotAllowed();
    return (async () => {
      let replicas: unknown;
      if (method === 'PUT') replicas = (await this.decodeObject(ctx, undefined)).spec;
      else {
        const [, patch] = await this.decodePatch(ctx);
        replicas = isObject(patch) ? patch.spec : undefined;
      }
      const wanted = isObject(replicas) ? replicas.replicas : undefined;
      if (typeof wanted !== 'number') throw badRequest('spec.replicas is required');
      const updated = this.registry.patch(
        rt,
        namespace,
        name,
        'application/merge-patch+json',
        { spec: { replicas: wanted } },
        { dryRun, subresource: 'scale', user: ctx.user },
      );
      sendJson(ctx.res, 200, JSON.stringify(toScale(updated)));
    })();
  }

  /** SelfSubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview. */
  private async handleReview(ctx: RequestContext, rt: ResourceType, method: string): Promise<void> {
    if (method !== 'POST') throw methodNotAllowed();
    const body = await this.decodeObject(ctx, rt);
    const spec = isObject(body.spec) ? body.spec : {};
    const user = ctx.user;
    let status: Record<string, unknown>;
    if (rt.kind === 'SelfSubjectAccessReview') {
      const ra = isObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
      const nra = isObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : {};
      const attrs: RequestAttributes = {
        user,
        verb: String((ra ?? nra).verb ?? ''),
        resourceRequest: ra !== undefined,
        apiGroup: String(ra?.group ?? ''),
        resource: String(ra?.resource ?? ''),
        subresource: String(ra?.subresource ?? ''),
        namespace: String(ra?.namespace ?? ''),
        name: String(ra?.name ?? ''),
        path: String(nra.path ?? ''),
      };
      const decision = this.opts.rbac ? this.authz.authorize(attrs) : { allowed: true, reason: '', allMatches: [] };
      status = decision.allowed ? { allowed: true, ...(decision.reason ? { reason: decision.reason } : {}) } : { allowed: false };
    } else if (rt.kind === 'SelfSubjectRulesReview') {
      const rules = this.authz.rulesFor(user, String(spec.namespace ?? ''));
      status = {
        resourceRules: rules
          .filter((r) => r.resources.length > 0)
          .map((r) => ({
            verbs: r.verbs,
            apiGroups: r.apiGroups,
            resources: r.resources,
            ...(r.resourceNames.length ? { resourceNames: r.resourceNames } : {}),
          })),
        nonResourceRules: rules
          .filter((r) => r.nonResourceURLs.length > 0)
          .map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs })),
        incomplete: false,
      };
    } else {
      status = { userInfo: { username: user.username, groups: user.groups } };
    }
    const response = { kind: rt.kind, apiVersion: rt.apiVersion, metadata: { creationTimestamp: null }, spec, status };
    sendJson(ctx.res, 201, JSON.stringify(response));
  }

  private routeNonResource(ctx: RequestContext, method: string): void {
    const { res, info, req } = ctx;
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed();
    const path = info.path.replace(/\/$/, '') || '/';
    const host = req.headers.host ?? '127.0.0.1';
    if (path === '/version') return sendJson(res, 200, JSON.stringify(versionInfo()));
    if (NON_RESOURCE_TEXT.has(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (path === '/api') return sendJson(res, 200, JSON.stringify(coreVersions(host)));
    if (path === '/apis') return sendJson(res, 200, JSON.stringify(groupList(this.served)));
    if (path === '/openapi/v3') return sendJson(res, 200, JSON.stringify(openApiIndex(groupVersionPaths(this.served))));
    if (path === '/openapi/v2') {
      // An empty gnostic OpenAPI v2 Document in protobuf (zero bytes). kubectl only fetches v2
      // to validate kinds that v3 does not know, notably `kind: List`; with no v2 models it
      // skips client-side validation of the items, which are still validated server-side
      // (fieldValidation=Strict) when created one by one. A real server publishes full v2 models.
      res.writeHead(200, { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'Content-Length': '0' });
      res.end();
      return;
    }
    if (path.startsWith('/openapi/v3/')) {
      const gv = path.slice('/openapi/v3/'.length);
      const doc = groupVersionPaths(this.served).includes(gv) ? openApiDocumentJson(gv) : undefined;
      if (doc) return sendJson(res, 200, doc.json);
      throw notFoundPath();
    }
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'api' && parts.length === 2) {
      const list = resourceList('', parts[1], this.served);
      if (list) return sendJson(res, 200, JSON.stringify(list));
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = group(parts[1], this.served);
      if (g) return sendJson(res, 200, JSON.stringify(g));
    }
    if (parts[0] === 'apis' && parts.length === 3) {
      const list = resourceList(parts[1], parts[2], this.served);
      if (list) return sendJson(res, 200, JSON.stringify(list));
    }
    throw notFoundPath();
  }

  // ----------------------------------------------------------- body decoding

  private async body(ctx: RequestContext): Promise<Buffer> {
    ctx.body ??= await readBody(ctx.req, this.opts.maxRequestBodyBytes);
    return ctx.body;
  }

  /** Decodes a JSON (or YAML) object body and applies field validation. */
  private async decodeObject(ctx: RequestContext, rt: ResourceType | undefined): Promise<KubeObject> {
    const contentType = (ctx.req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
    const raw = (await this.body(ctx)).toString('utf8');
    let parsed: unknown;
    try {
      if (contentType === 'application/json' || contentType === '' || contentType === '*/*') parsed = JSON.parse(raw);
      else if (contentType === 'application/yaml') parsed = parseYaml(raw);
      else if (contentType === 'application/vnd.kubernetes.protobuf') {
        parsed = decodeProtobufObject(await this.body(ctx));
        if (parsed === undefined) throw unsupportedMediaType(contentType, ['application/json', 'application/yaml']);
      } else throw unsupportedMediaType(contentType, ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
    } catch (err) {
      if (err instanceof KubeApiError) throw err;
      throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
    }
    if (!isObject(parsed)) throw badRequest('the body of the request must be a JSON object');
    if (rt && !rt.virtual) {
      const mode = fieldValidationMode(ctx.url.searchParams.get('fieldValidation'));
      const unknown = checkUnknownFields(rt, parsed as KubeObject, mode);
      if (unknown.length > 0) ctx.res.setHeader('Warning', warningHeader(unknown));
    }
    return parsed as KubeObject;
  }

  private async decodePatch(ctx: RequestContext): Promise<[string, unknown]> {
    const contentType = (ctx.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!(PATCH_TYPES as readonly string[]).includes(contentType)) {
      await this.body(ctx);
      throw unsupportedMediaType(contentType, [...PATCH_TYPES, 'application/apply-patch+yaml']);
    }
    fieldValidationMode(ctx.url.searchParams.get('fieldValidation'));
    const raw = (await this.body(ctx)).toString('utf8');
    try {
      return [contentType, JSON.parse(raw)];
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message}`);
    }
  }

  /**
   * DeleteOptions from the body (or the `propagationPolicy` / `orphanDependents` query parameters),
   * checked like apimachinery's ValidateDeleteOptions.
   */
  private async decodeDeleteOptions(
    ctx: RequestContext,
  ): Promise<{ preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: PropagationPolicy }> {
    const raw = (await this.body(ctx)).toString('utf8').trim();
    let parsed: unknown = {};
    try {
      if (raw) parsed = JSON.parse(raw) as unknown;
    } catch {
      throw badRequest('the DeleteOptions body could not be decoded');
    }
    const body = isObject(parsed) ? parsed : {};
    const q = ctx.url.searchParams;
    const policy = body.propagationPolicy ?? q.get('propagationPolicy') ?? undefined;
    const orphanQuery = q.get('orphanDependents');
    const orphan = body.orphanDependents ?? (orphanQuery === null ? undefined : orphanQuery === 'true');
    if (policy !== undefined && orphan !== undefined) {
      throw invalid('DeleteOptions', 'meta.k8s.io', '', [
        {
          reason: 'FieldValueInvalid',
          field: 'propagationPolicy',
          message: 'Invalid value: "null": orphanDependents and deletionPropagation cannot be both set',
        },
      ]);
    }
    if (policy !== undefined && !PROPAGATION_POLICIES.includes(policy as PropagationPolicy)) {
      throw invalid('DeleteOptions', 'meta.k8s.io', '', [
        {
          reason: 'FieldValueNotSupported',
          field: 'propagationPolicy',
          message: `Unsupported value: "${String(policy)}": supported values: "Foreground", "Background", "Orphan", "nil"`,
        },
      ]);
    }
    const pre = isObject(body.preconditions) ? body.preconditions : undefined;
    const propagationPolicy =
      (policy as PropagationPolicy | undefined) ?? (orphan === undefined ? undefined : orphan ? 'Orphan' : 'Background');
    return {
      ...(pre ? { preconditions: { uid: pre.uid as string | undefined, resourceVersion: pre.resourceVersion as string | undefined } } : {}),
      ...(propagationPolicy ? { propagationPolicy } : {}),
    };
  }

  // ----------------------------------------------------------- responses

  /** Answers one object; `form` (negotiated for GETs) may ask for a Table row or its metadata only. */
  private respondObject(ctx: RequestContext, rt: ResourceType, code: number, view: ObjectView, form: OutputForm = RESOURCE_FORM): void {
    if (form.as === 'PartialObjectMetadata') return sendJson(ctx.res, code, partialObjectMetadataJson(form.apiVersion, view.obj.metadata));
    if (form.as === 'Table' && ctx.req.method === 'GET') {
      const table = renderTable(
        rt,
        [view],
        { resourceVersion: view.obj.metadata.resourceVersion },
        includeObjectParam(ctx.url.searchParams.get('includeObject')),
        this.now(),
        (v) => fullJson(rt, v),
      );
      return sendJson(ctx.res, code, table);
    }
    sendJson(ctx.res, code, fullJson(rt, view));
  }

  /** Answers a list; `form` (negotiated for GETs) may ask for a Table or a PartialObjectMetadataList. */
  private respondList(ctx: RequestContext, rt: ResourceType, result: ListResult, form: OutputForm = RESOURCE_FORM): void {
    const meta: Record<string, unknown> = { resourceVersion: result.resourceVersion };
    if (result.continue) meta.continue = result.continue;
    if (result.remainingItemCount !== undefined) meta.remainingItemCount = result.remainingItemCount;
    if (form.as === 'PartialObjectMetadataList') {
      // Items are built by appending to a nil slice: an empty list has `"items":null`, as from the real server.
      const items =
        result.items.length === 0
          ? 'null'
          : `[${result.items.map((v) => partialObjectMetadataJson(form.apiVersion, v.obj.metadata)).join(',')}]`;
      const head = JSON.stringify({ kind: 'PartialObjectMetadataList', apiVersion: form.apiVersion, metadata: meta });
      return sendJson(ctx.res, 200, `${head.slice(0, -1)},"items":${items}}`);
    }
    if (form.as === 'Table' && ctx.req.method === 'GET') {
      const table = renderTable(rt, result.items, meta, includeObjectParam(ctx.url.searchParams.get('includeObject')), this.now(), (v) =>
        fullJson(rt, v),
      );
      return sendJson(ctx.res, 200, table);
    }
    const head = JSON.stringify({ kind: rt.listKind, apiVersion: rt.apiVersion, metadata: meta });
    sendJson(ctx.res, 200, `${head.slice(0, -1)},"items":[${result.items.map((v) => v.json).join(',')}]}`);
  }
}

const RESOURCE_FORM: OutputForm = { as: 'resource' };

const PROPAGATION_POLICIES: readonly PropagationPolicy[] = ['Foreground', 'Background', 'Orphan'];

function includeObjectParam(value: string | null): IncludeObject {
  return value === 'None' || value === 'Object' ? value : 'Metadata';
}

function parseYamlDocuments(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`emulator: invalid YAML: ${doc.errors[0].message}`);
      return doc.toJS() as unknown;
    })
    .filter((d): d is KubeObject => isObject(d));
}

function pickRequest(attrs: RequestAttributes) {
  const { verb, apiGroup, resource, subresource, namespace, name, path } = attrs;
  return { verb, apiGroup, resource, subresource, namespace, name, path };
}

/** The field manager of a write: `fieldManager`, else the User-Agent's first part (managed-fields.ts). */
function manager(ctx: RequestContext): string {
  return managerOf(ctx.url.searchParams.get('fieldManager'), ctx.req.headers['user-agent']);
}
