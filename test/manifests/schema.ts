/**
 * Validates rendered objects against the upstream Kubernetes OpenAPI schemas, in two passes:
 *
 * 1. `kubernetes-models` (JSON-schema validators generated from the Kubernetes 1.34 OpenAPI
 *    document): types, enums, required fields and formats such as quantities and int32.
 * 2. Unknown fields, which those schemas allow (they have no `additionalProperties: false`)
 *    but the API server refuses under `kubectl apply`'s default strict field validation: each
 *    field is looked up in the generated models of `@kubernetes/client-node` (also built from
 *    the upstream OpenAPI document). This is what catches `readOnlyRootFileSystem`.
 */
import * as k8s from '@kubernetes/client-node';
import { describeObject, type ManifestObject } from './render.js';

/** One problem, with the JSON path inside the object. */
export interface SchemaProblem {
  path: string;
  message: string;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** `kubernetes-models` module for an apiVersion: `v1` -> `kubernetes-models/v1`. */
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return mod[kind] as ModelClass | undefined;
}

/** Errors from `kubernetes-models`: `data/spec/x must be string, data/spec/y must ...`. */
function splitModelErrors(message: string): SchemaProblem[] {
  return message.split(/, (?=data[/ ])/).map((part) => {
    const m = /^data(\S*) (.*)$/s.exec(part.trim());
    return m ? { path: m[1].replaceAll('/', '.').replace(/^\./, '') || '(root)', message: m[2] } : { path: '(root)', message: part.trim() };
  });
}

type AttributeType = { baseName: string; type: string };
type GeneratedModel = { getAttributeTypeMap(): AttributeType[] };

const LEAF_TYPES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

function generatedModel(typeName: string): GeneratedModel | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[typeName] as Partial<GeneratedModel> | undefined;
  return typeof candidate?.getAttributeTypeMap === 'function' ? (candidate as GeneratedModel) : undefined;
}

/** Fields of `value` not in the schema of `typeName` (a client-node model name), recursively. */
export function unknownFields(value: unknown, typeName: string, path = ''): SchemaProblem[] {
  if (value === null || value === undefined || LEAF_TYPES.has(typeName)) return [];
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1], `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1], `${path}.${k}`)) : [];
  }
  const model = generatedModel(typeName);
  if (model === undefined) return [{ path: path || '(root)', message: `no schema known for type ${typeName}` }];
  if (typeof value !== 'object' || Array.isArray(value)) return []; // wrong types are pass 1's business
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const problems: SchemaProblem[] = [];
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    const type = attributes.get(key);
    if (type === undefined) problems.push({ path: childPath, message: `unknown field "${key}"` });
    else problems.push(...unknownFields(child, type, childPath));
  }
  return problems;
}

/** client-node's model name for an object: `batch/v1` CronJob -> `V1CronJob`. */
function generatedTypeName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop() ?? '';
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return kind === 'Event' && apiVersion === 'v1' ? 'CoreV1Event' : name;
}

/**
 * Every schema problem of one object; empty when it is valid. An apiVersion/kind the
 * schemas do not know is itself a problem (a typo there would make the API refuse it).
 */
export async function validateObject(obj: ManifestObject): Promise<SchemaProblem[]> {
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    return [{ path: '(root)', message: 'apiVersion and kind are required' }];
  }
  const Model = await modelFor(obj.apiVersion, obj.kind);
  if (Model === undefined) return [{ path: '(root)', message: `no schema for ${obj.apiVersion} ${obj.kind}` }];
  const problems: SchemaProblem[] = [];
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(...splitModelErrors((e as Error).message));
  }
  problems.push(...unknownFields(obj, generatedTypeName(obj.apiVersion, obj.kind)));
  return problems;
}

/** `CronJob secret-steward/x: spec.schedule must be string` lines for an assertion message. */
export function formatProblems(obj: ManifestObject, problems: readonly SchemaProblem[]): string {
  return problems.map((p) => `${describeObject(obj)}: ${p.path}: ${p.message}`).join('\n');
}
