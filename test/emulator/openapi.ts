/**
 * OpenAPI v3 documents (`/openapi/v3`, `/openapi/v3/<api|apis/g>/<v>`), enough
 * for kubectl 1.32:
 *  - every kind has a component schema with `x-kubernetes-group-version-kind`
 *    and a proper ObjectMeta; other fields are permissive
 *    (`x-kubernetes-preserve-unknown-fields`);
 *  - every PUT/PATCH/POST operation declares the `fieldValidation` query
 *    parameter, so `kubectl create/apply` (validation on) use server-side field
 *    validation and send `fieldValidation=Strict`;
 *  - PATCH operations do NOT list `application/strategic-merge-patch+json`:
 *    kubectl's client-side apply then computes its three-way strategic merge
 *    patch from its compiled-in Go types (as it does for a real cluster's
 *    built-in kinds) instead of from these permissive schemas, so the patches
 *    it sends carry the real merge keys and directives. The server accepts
 *    strategic merge patches regardless.
 * `/openapi/v2` is an empty protobuf Document: kubectl fetches it only to validate kinds v3
 * lacks (`kind: List`), then skips client-side checks of the items and relies on the
 * server-side strict validation of each item.
 */
import { createHash } from 'node:crypto';
import type { ResourceType } from './resources.js';
import { RESOURCES } from './resources.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

function schemaName(rt: ResourceType): string {
  const pkg =
    rt.group === '' ? 'core' : rt.group.replace('.k8s.io', '').replace('rbac.authorization', 'rbac').replace('.authorization', '');
  return `io.k8s.api.${pkg.split('.')[0]}.${rt.version}.${rt.kind}`;
}

function gvk(rt: ResourceType) {
  return { group: rt.group, kind: rt.kind, version: rt.version };
}

const stringSchema = { type: 'string' };
const stringMap = { type: 'object', additionalProperties: { type: 'string', default: '' } };

function commonSchemas(): Record<string, unknown> {
  return {
    [`${META}.ObjectMeta`]: {
      description: 'ObjectMeta is metadata that all persisted resources must have.',
      type: 'object',
      properties: {
        annotations: stringMap,
        creationTimestamp: { $ref: `#/components/schemas/${META}.Time` },
        deletionGracePeriodSeconds: { type: 'integer', format: 'int64' },
        deletionTimestamp: { $ref: `#/components/schemas/${META}.Time` },
        finalizers: {
          type: 'array',
          items: { type: 'string', default: '' },
          'x-kubernetes-list-type': 'set',
          'x-kubernetes-patch-strategy': 'merge',
        },
        generateName: stringSchema,
        generation: { type: 'integer', format: 'int64' },
        labels: stringMap,
        managedFields: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        name: stringSchema,
        namespace: stringSchema,
        ownerReferences: {
          type: 'array',
          items: { $ref: `#/components/schemas/${META}.OwnerReference` },
          'x-kubernetes-list-map-keys': ['uid'],
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-patch-merge-key': 'uid',
          'x-kubernetes-patch-strategy': 'merge',
        },
        resourceVersion: stringSchema,
        selfLink: stringSchema,
        uid: stringSchema,
      },
    },
    [`${META}.OwnerReference`]: {
      type: 'object',
      required: ['apiVersion', 'kind', 'name', 'uid'],
      properties: {
        apiVersion: stringSchema,
        blockOwnerDeletion: { type: 'boolean' },
        controller: { type: 'boolean' },
        kind: stringSchema,
        name: stringSchema,
        uid: stringSchema,
      },
      'x-kubernetes-map-type': 'atomic',
    },
    [`${META}.Time`]: { type: 'string', format: 'date-time' },
    [`${META}.Status`]: {
      type: 'object',
      properties: {
        apiVersion: stringSchema,
        code: { type: 'integer' },
        details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        kind: stringSchema,
        message: stringSchema,
        metadata: { type: 'object' },
        reason: stringSchema,
        status: stringSchema,
      },
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'Status', version: 'v1' }],
    },
  };
}

function kindSchema(rt: ResourceType): unknown {
  return {
    description: `${rt.kind} (emulator schema: fields other than metadata are not checked client-side).`,
    type: 'object',
    properties: {
      apiVersion: stringSchema,
      kind: stringSchema,
      metadata: { default: {}, allOf: [{ $ref: `#/components/schemas/${META}.ObjectMeta` }] },
    },
    'x-kubernetes-preserve-unknown-fields': true,
    'x-kubernetes-group-version-kind': [gvk(rt)],
  };
}

function listSchema(rt: ResourceType): unknown {
  return {
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: stringSchema,
      items: { type: 'array', items: { $ref: `#/components/schemas/${schemaName(rt)}` } },
      kind: stringSchema,
      metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
    'x-kubernetes-group-version-kind': [{ group: rt.group, kind: rt.listKind, version: rt.version }],
  };
}

function queryParam(name: string, type = 'string') {
  return { name, in: 'query', schema: { type, uniqueItems: true } };
}

const WRITE_PARAMS = [queryParam('dryRun'), queryParam('fieldManager'), queryParam('fieldValidation')];
const PATCH_CONTENT = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];

function jsonContent(ref: string) {
  return { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } };
}

function operation(rt: ResourceType, action: string, params: unknown[], body?: Record<string, unknown>) {
  const op: Record<string, unknown> = {
    operationId: `${action}${rt.kind}`,
    parameters: params,
    responses: { '200': { description: 'OK', content: jsonContent(schemaName(rt)) } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(rt),
  };
  if (body) op.requestBody = { content: body, required: true };
  return op;
}

function pathsFor(rt: ResourceType): Record<string, unknown> {
  const prefix = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  const base = rt.namespaced ? `${prefix}/namespaces/{namespace}/${rt.plural}` : `${prefix}/${rt.plural}`;
  const objectBody = jsonContent(schemaName(rt));
  const patchBody = Object.fromEntries(
    PATCH_CONTENT.map((ct) => [ct, { schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }]),
  );
  if (rt.verbs.length === 1 && rt.verbs[0] === 'create') {
    return { [base]: { post: operation(rt, 'post', WRITE_PARAMS, objectBody) } };
  }
  const paths: Record<string, unknown> = {
    [base]: {
      get: operation(rt, 'list', [
        queryParam('labelSelector'),
        queryParam('fieldSelector'),
        queryParam('limit', 'integer'),
        queryParam('continue'),
        queryParam('watch', 'boolean'),
      ]),
      post: operation(rt, 'post', WRITE_PARAMS, objectBody),
    },
    [`${base}/{name}`]: {
      get: operation(rt, 'get', []),
      put: operation(rt, 'put', WRITE_PARAMS, objectBody),
      patch: operation(rt, 'patch', [...WRITE_PARAMS, queryParam('force', 'boolean')], patchBody),
      delete: operation(rt, 'delete', [queryParam('dryRun')]),
    },
  };
  for (const sub of rt.subresources.filter((s) => s === 'status')) {
    paths[`${base}/{name}/${sub}`] = {
      get: operation(rt, 'get', []),
      put: operation(rt, 'put', WRITE_PARAMS, objectBody),
      patch: operation(rt, 'patch', [...WRITE_PARAMS, queryParam('force', 'boolean')], patchBody),
    };
  }
  return paths;
}

/** The OpenAPI v3 document of one group/version path (`api/v1`, `apis/apps/v1`). */
export function openApiDocument(gvPath: string): object | undefined {
  const resources = RESOURCES.filter((r) => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`) === gvPath);
  if (resources.length === 0) return undefined;
  const schemas: Record<string, unknown> = commonSchemas();
  let paths: Record<string, unknown> = {};
  for (const rt of resources) {
    schemas[schemaName(rt)] = kindSchema(rt);
    if (!rt.virtual) schemas[`${schemaName(rt)}List`] = listSchema(rt);
    paths = { ...paths, ...pathsFor(rt) };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } };
}

const cache = new Map<string, { json: string; hash: string }>();

/** Serialised document and its hash (cached: documents are static). */
export function openApiDocumentJson(gvPath: string): { json: string; hash: string } | undefined {
  const cached = cache.get(gvPath);
  if (cached) return cached;
  const doc = openApiDocument(gvPath);
  if (!doc) return undefined;
  const json = JSON.stringify(doc);
  const entry = { json, hash: createHash('sha512').update(json).digest('hex').toUpperCase() };
  cache.set(gvPath, entry);
  return entry;
}

/** `/openapi/v3`: the index of group/version documents. */
export function openApiIndex(gvPaths: string[]): object {
  const paths: Record<string, unknown> = {};
  for (const p of gvPaths) {
    const doc = openApiDocumentJson(p);
    if (doc) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${doc.hash}` };
  }
  return { paths };
}
