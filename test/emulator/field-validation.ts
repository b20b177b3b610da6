/**
 * Server-side field validation (`fieldValidation=Strict|Warn|Ignore`, default
 * Warn) for what the emulator knows the schema of: top-level fields per kind
 * and ObjectMeta fields. Unknown fields are dropped (as decoding into Go
 * structs would), reported as warnings, or rejected with 400 in Strict mode.
 */
import { badRequest } from './errors.js';
import type { ResourceType } from './resources.js';
import type { KubeObject } from './types.js';
import { isObject } from './types.js';

const COMMON = ['apiVersion', 'kind', 'metadata'];
const WITH_SPEC = [...COMMON, 'spec', 'status'];

const TOP_LEVEL: Record<string, string[]> = {
  '/secrets': [...COMMON, 'data', 'stringData', 'type', 'immutable'],
  '/configmaps': [...COMMON, 'data', 'binaryData', 'immutable'],
  '/serviceaccounts': [...COMMON, 'secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  '/events': [
    ...COMMON,
    'involvedObject',
    'reason',
    'message',
    'source',
    'firstTimestamp',
    'lastTimestamp',
    'count',
    'type',
    'eventTime',
    'series',
    'action',
    'related',
    'reportingComponent',
    'reportingInstance',
  ],
  'events.k8s.io/events': [
    ...COMMON,
    'eventTime',
    'series',
    'reportingController',
    'reportingInstance',
    'action',
    'reason',
    'regarding',
    'related',
    'note',
    'type',
    'deprecatedSource',
    'deprecatedFirstTimestamp',
    'deprecatedLastTimestamp',
    'deprecatedCount',
  ],
  'rbac.authorization.k8s.io/roles': [...COMMON, 'rules'],
  'rbac.authorization.k8s.io/clusterroles': [...COMMON, 'rules', 'aggregationRule'],
  'rbac.authorization.k8s.io/rolebindings': [...COMMON, 'subjects', 'roleRef'],
  'rbac.authorization.k8s.io/clusterrolebindings': [...COMMON, 'subjects', 'roleRef'],
};

const META_FIELDS = new Set([
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
]);

export type FieldValidationMode = 'Strict' | 'Warn' | 'Ignore';

/** Parses the `fieldValidation` query parameter (400 for an unknown value, like the real server). */
export function fieldValidationMode(value: string | null): FieldValidationMode {
  if (value === null || value === '') return 'Warn';
  if (value === 'Strict' || value === 'Warn' || value === 'Ignore') return value;
  throw badRequest(`fieldValidation parameter unsupported: ${value}. Must be one of: Ignore, Warn, Strict`);
}

/**
 * Removes fields unknown for `rt` from `body` (in place) and returns their paths;
 * throws 400 `strict decoding error: unknown field "x"` in Strict mode.
 */
export function checkUnknownFields(rt: ResourceType, body: KubeObject, mode: FieldValidationMode): string[] {
  const allowed = new Set(TOP_LEVEL[rt.key] ?? WITH_SPEC);
  const unknown: string[] = [];
  for (const key of Object.keys(body)) {
    if (!allowed.has(key)) {
      unknown.push(key);
      delete body[key];
    }
  }
  if (isObject(body.metadata)) {
    for (const key of Object.keys(body.metadata)) {
      if (!META_FIELDS.has(key)) {
        unknown.push(`metadata.${key}`);
        delete body.metadata[key];
      }
    }
  }
  if (unknown.length > 0 && mode === 'Strict') {
    throw badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
  }
  return mode === 'Ignore' ? [] : unknown;
}

/** `Warning` header value for unknown fields. */
export function warningHeader(fields: string[]): string {
  return fields.map((f) => `299 - ${JSON.stringify(`unknown field "${f}"`)}`).join(', ');
}
