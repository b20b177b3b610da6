/**
 * Label and field selectors with the grammar and semantics of
 * k8s.io/apimachinery/pkg/labels and pkg/fields.
 *
 * Label selector: comma-separated requirements, each one of
 * `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`,
 * `key notin (a,b)`, `key>N`, `key<N`. `!=` and `notin` also match objects
 * without the key. Field selector: `field=value`, `field==value`, `field!=value`
 * joined by commas; `\,` `\=` `\\` escape.
 */
import { badRequest } from './errors.js';
import type { ResourceType } from './resources.js';
import type { KubeObject } from './types.js';
import { getPath, isObject } from './types.js';

type LabelOp = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

/** One parsed label requirement. */
export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

/** A parsed label selector; matches everything when `requirements` is empty. */
export interface LabelSelector {
  requirements: LabelRequirement[];
}

const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function parseError(detail: string): never {
  throw badRequest(`unable to parse requirement: ${detail}`);
}

function checkKey(key: string): string {
  const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
  if (!QUALIFIED_NAME.test(key) || name.length > 63) {
    parseError(
      `key: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  }
  return key;
}

function checkValue(key: string, value: string): string {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    parseError(
      `values[0][${key}]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  }
  return value;
}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of input) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function parseRequirement(raw: string): LabelRequirement {
  const text = raw.trim();
  let m = /^!\s*(\S+)$/.exec(text);
  if (m) return { key: checkKey(m[1]), op: '!', values: [] };
  m = /^(\S+?)\s+(in|notin)\s*\(([^()]*)\)$/.exec(text);
  if (m) {
    const key = checkKey(m[1]);
    const values = m[3].split(',').map((v) => checkValue(key, v.trim()));
    return { key, op: m[2] as 'in' | 'notin', values };
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=)\s*([^=!<>\s,]*)$/.exec(text);
  if (m) {
    const key = checkKey(m[1]);
    return { key, op: m[2] === '!=' ? '!=' : '=', values: [checkValue(key, m[3])] };
  }
  m = /^([^=!<>\s]+)\s*([<>])\s*(\S+)$/.exec(text);
  if (m) {
    const key = checkKey(m[1]);
    if (!/^-?\d+$/.test(m[3])) parseError(`for 'Gt', 'Lt' operators, the value must be an integer`);
    return { key, op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]] };
  }
  if (/^[^=!<>\s(),]+$/.test(text)) return { key: checkKey(text), op: 'exists', values: [] };
  return parseError(`found '${text}', expected: key, '!key', 'key=value', 'key!=value', 'key in (...)' or 'key notin (...)'`);
}

/** Parses a label selector string; throws 400 BadRequest (like the real server) when malformed. */
export function parseLabelSelector(input: string | undefined | null): LabelSelector {
  if (!input || input.trim() === '') return { requirements: [] };
  return { requirements: splitTopLevel(input).map(parseRequirement) };
}

function requirementMatches(req: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.op) {
    case 'exists':
      return has;
    case '!':
      return !has;
    case '=':
      return has && value === req.values[0];
    case '!=':
      return !has || value !== req.values[0];
    case 'in':
      return has && req.values.includes(value);
    case 'notin':
      return !has || !req.values.includes(value);
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(value)) return false;
      const left = Number(value);
      const right = Number(req.values[0]);
      return req.op === 'gt' ? left > right : left < right;
    }
  }
}

/** True when `labels` satisfy every requirement. */
export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const map = labels ?? {};
  return selector.requirements.every((req) => requirementMatches(req, map));
}

/**
 * A structured metav1.LabelSelector (`matchLabels` / `matchExpressions`), as in
 * workload specs. Returns undefined for a missing selector (matches nothing).
 */
export function fromStructuredSelector(value: unknown): LabelSelector | undefined {
  if (!isObject(value)) return undefined;
  const requirements: LabelRequirement[] = [];
  if (isObject(value.matchLabels)) {
    for (const [key, v] of Object.entries(value.matchLabels)) requirements.push({ key, op: '=', values: [String(v)] });
  }
  if (Array.isArray(value.matchExpressions)) {
    for (const expr of value.matchExpressions) {
      if (!isObject(expr)) continue;
      const op = String(expr.operator);
      const values = Array.isArray(expr.values) ? expr.values.map(String) : [];
      const mapped: LabelOp = op === 'In' ? 'in' : op === 'NotIn' ? 'notin' : op === 'Exists' ? 'exists' : '!';
      requirements.push({ key: String(expr.key), op: mapped, values });
    }
  }
  return { requirements };
}

/** One parsed field requirement. */
export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** A parsed field selector; matches everything when empty. */
export interface FieldSelector {
  requirements: FieldRequirement[];
}

function splitUnescaped(input: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch === '\\' && i + 1 < input.length) {
      current += ch + input[i + 1];
      i++;
    } else if (ch === sep) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeFieldValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Parses a field selector string; throws 400 BadRequest when malformed. */
export function parseFieldSelector(input: string | undefined | null): FieldSelector {
  if (!input || input.trim() === '') return { requirements: [] };
  const requirements = splitUnescaped(input, ',').map((part): FieldRequirement => {
    const m = /^([^=!]+?)(==|=|!=)(.*)$/s.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${part}'`);
    return { field: m[1].trim(), op: m[2] === '!=' ? '!=' : '=', value: unescapeFieldValue(m[3]) };
  });
  return { requirements };
}

/** Field labels selectable per resource, beyond metadata.name / metadata.namespace. */
const EXTRA_FIELDS: Record<string, readonly string[]> = {
  '/secrets': ['type'],
  '/namespaces': ['status.phase'],
  '/pods': ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP'],
  '/events': [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  'events.k8s.io/events': [
    'regarding.kind',
    'regarding.namespace',
    'regarding.name',
    'regarding.uid',
    'regarding.apiVersion',
    'regarding.resourceVersion',
    'regarding.fieldPath',
    'reason',
    'reportingController',
    'type',
  ],
  'batch/jobs': ['status.successful'],
  'apps/replicasets': ['status.replicas'],
};

/**
 * Checks that every field in the selector is selectable for `rt`; throws 400
 * `field label not supported: X` otherwise (the real server's message).
 */
export function checkFieldSelector(rt: ResourceType, selector: FieldSelector): void {
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...(EXTRA_FIELDS[rt.key] ?? [])]);
  for (const req of selector.requirements) {
    if (!allowed.has(req.field)) throw badRequest(`field label not supported: ${req.field}`);
  }
}

function fieldValue(obj: KubeObject, field: string): string {
  const value = getPath(obj, field.split('.'));
  if (field === 'source' && isObject(obj.source)) return String(obj.source.component ?? '');
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** True when `obj` satisfies every field requirement. */
export function matchesFields(selector: FieldSelector, obj: KubeObject): boolean {
  return selector.requirements.every((req) => {
    const actual = fieldValue(obj, req.field);
    return req.op === '=' ? actual === req.value : actual !== req.value;
  });
}

/** The name pinned by `metadata.name=X` (used to authorize list/watch via resourceNames). */
export function pinnedName(selector: FieldSelector): string | undefined {
  const req = selector.requirements.find((r) => r.field === 'metadata.name' && r.op === '=');
  return req?.value;
}
