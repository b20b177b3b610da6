/**
 * RFC 6902 JSON Patch (`application/json-patch+json`) with RFC 6901 pointers:
 * add, remove, replace, move, copy, test. Errors are {@link PatchError}s whose
 * `kind` tells the server whether to answer 400 (malformed) or 422 (failed).
 */
import { cloneJson, deepEqual, isObject } from './types.js';

/** A patch that is malformed (`bad`) or cannot be applied (`failed`). */
export class PatchError extends Error {
  constructor(
    readonly kind: 'bad' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'PatchError';
  }
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError('failed', `JSON pointer must start with "/": ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

/** Walks to the parent of the pointer's last segment. */
function resolveParent(doc: unknown, segments: string[], pointer: string): { parent: Container; key: string } {
  let current = doc;
  for (const segment of segments.slice(0, -1)) {
    if (Array.isArray(current)) current = current[arrayIndex(current, segment, pointer, false)];
    else if (isObject(current) && Object.hasOwn(current, segment)) current = current[segment];
    else throw new PatchError('failed', `doc is missing path: "${pointer}": missing value`);
  }
  if (!Array.isArray(current) && !isObject(current)) throw new PatchError('failed', `doc is missing path: "${pointer}": missing value`);
  return { parent: current, key: segments[segments.length - 1] };
}

function arrayIndex(arr: unknown[], segment: string, pointer: string, forInsert: boolean): number {
  if (segment === '-' && forInsert) return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(segment)) throw new PatchError('failed', `invalid array index in "${pointer}"`);
  const index = Number(segment);
  if (index > arr.length || (!forInsert && index === arr.length)) {
    throw new PatchError('failed', `unable to access invalid index: ${index}: invalid index referenced`);
  }
  return index;
}

function getValue(doc: unknown, pointer: string): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) return doc;
  const { parent, key } = resolveParent(doc, segments, pointer);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, pointer, false)];
  if (!Object.hasOwn(parent, key)) throw new PatchError('failed', `doc is missing key: ${pointer}: missing value`);
  return parent[key];
}

function addValue(doc: unknown, pointer: string, value: unknown): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) return value;
  const { parent, key } = resolveParent(doc, segments, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, true), 0, value);
  else parent[key] = value;
  return doc;
}

function removeValue(doc: unknown, pointer: string): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) throw new PatchError('failed', 'cannot remove the whole document');
  const { parent, key } = resolveParent(doc, segments, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, false), 1);
  else if (Object.hasOwn(parent, key)) delete parent[key];
  else throw new PatchError('failed', `Unable to remove nonexistent key: ${key}: missing value`);
  return doc;
}

function replaceValue(doc: unknown, pointer: string, value: unknown): unknown {
  const segments = parsePointer(pointer);
  if (segments.length === 0) return value;
  const { parent, key } = resolveParent(doc, segments, pointer);
  if (Array.isArray(parent)) parent[arrayIndex(parent, key, pointer, false)] = value;
  else if (Object.hasOwn(parent, key)) parent[key] = value;
  else throw new PatchError('failed', `replace operation does not apply: doc is missing key: ${pointer}: missing value`);
  return doc;
}

function toOperations(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) throw new PatchError('bad', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return patch.map((op) => {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new PatchError('bad', 'invalid JSON Patch operation: op and path are required');
    }
    return op as unknown as Operation;
  });
}

function applyOne(doc: unknown, op: Operation): unknown {
  switch (op.op) {
    case 'add':
      return addValue(doc, op.path, cloneJson(op.value));
    case 'remove':
      return removeValue(doc, op.path);
    case 'replace':
      return replaceValue(doc, op.path, cloneJson(op.value));
    case 'move': {
      const value = getValue(doc, op.from ?? '');
      return addValue(removeValue(doc, op.from ?? ''), op.path, value);
    }
    case 'copy':
      return addValue(doc, op.path, cloneJson(getValue(doc, op.from ?? '')));
    case 'test': {
      let actual: unknown;
      try {
        actual = getValue(doc, op.path);
      } catch {
        actual = undefined;
      }
      if (!deepEqual(actual, op.value)) throw new PatchError('failed', `testing value ${op.path} failed: test failed`);
      return doc;
    }
    default:
      throw new PatchError('bad', `Unexpected kind: ${op.op}`);
  }
}

/** Applies a JSON Patch to a deep copy of `doc` and returns the result. */
export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  const ops = toOperations(patch);
  let result = cloneJson(doc);
  for (const op of ops) result = applyOne(result, op);
  return result;
}
