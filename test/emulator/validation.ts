/**
 * Validation with kube-apiserver's rules and messages (pkg/apis/core/validation
 * and friends) for what the emulator's users are likely to hit: object names,
 * labels/annotations, Secret and ConfigMap contents and immutability, Secret
 * types, workload selectors and pod templates, Jobs/CronJobs, RBAC bindings,
 * events.k8s.io Events. Returns `StatusCause`s; the caller turns them into a
 * 422 Invalid Status.
 */
import { type PolicyObject, validatePolicyObject } from './admission.js';
import type { StatusCause } from './errors.js';
import type { ResourceType } from './resources.js';
import { fromStructuredSelector, matchesLabels } from './selectors.js';
import type { KubeObject } from './types.js';
import { deepEqual, isObject } from './types.js';

/** Maximum total size of a Secret's or ConfigMap's data (core.MaxSecretSize). */
export const MAX_SECRET_SIZE = 1024 * 1024;
const MAX_ANNOTATIONS_SIZE = 256 * 1024;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const CONFIG_KEY_MSG =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const IMMUTABLE_WHEN_SET = 'field is immutable when `immutable` is set';

/** Renders a bad value like Go's `%#v` does for the common cases. */
function goValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function invalidValue(field: string, value: unknown, detail: string): StatusCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${goValue(value)}${detail ? `: ${detail}` : ''}`, field };
}

export function required(field: string, detail = ''): StatusCause {
  return { reason: 'FieldValueRequired', message: detail ? `Required value: ${detail}` : 'Required value', field };
}

export function forbiddenField(field: string, detail: string): StatusCause {
  return { reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field };
}

export function tooLong(field: string, max: number): StatusCause {
  return { reason: 'FieldValueTooLong', message: `Too long: must have at most ${max} bytes`, field };
}

function notSupported(field: string, value: unknown, supported: string[]): StatusCause {
  const list = supported.map((s) => JSON.stringify(s)).join(', ');
  return { reason: 'FieldValueNotSupported', message: `Unsupported value: ${goValue(value)}: supported values: ${list}`, field };
}

function duplicate(field: string, value: unknown): StatusCause {
  return { reason: 'FieldValueDuplicate', message: `Duplicate value: ${goValue(value)}`, field };
}

/** Errors for a DNS-1123 label (namespaces, container names). */
export function dns1123LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(value)) errs.push(LABEL_MSG);
  return errs;
}

/** Errors for a DNS-1123 subdomain (most object names). */
export function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(value)) errs.push(SUBDOMAIN_MSG);
  return errs;
}

function dns1035LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!DNS1035_LABEL.test(value)) errs.push(DNS1035_MSG);
  return errs;
}

/** RBAC objects allow any path segment (`system:aggregate-to-view` is valid). */
function pathSegmentErrors(value: string): string[] {
  if (value === '.' || value === '..') return [`may not be '${value}'`];
  for (const bad of ['/', '%']) if (value.includes(bad)) return [`may not contain '${bad}'`];
  return [];
}

/** Name rule per resource, as the real validators choose it. */
function nameErrors(rt: ResourceType, name: string): string[] {
  switch (rt.key) {
    case '/namespaces':
      return dns1123LabelErrors(name);
    case '/services':
      return dns1035LabelErrors(name);
    case 'rbac.authorization.k8s.io/roles':
    case 'rbac.authorization.k8s.io/rolebindings':
    case 'rbac.authorization.k8s.io/clusterroles':
    case 'rbac.authorization.k8s.io/clusterrolebindings':
      return pathSegmentErrors(name);
    case 'batch/cronjobs': {
      const errs = dns1123SubdomainErrors(name);
      if (name.length > 52) errs.push('must be no more than 52 characters');
      return errs;
    }
    default:
      return dns1123SubdomainErrors(name);
  }
}

/** Errors for a config-map/secret data key (IsConfigMapKey). */
export function configKeyErrors(key: string): string[] {
  const errs: string[] = [];
  if (key.length > 253) errs.push('must be no more than 253 characters');
  if (!CONFIG_KEY.test(key)) errs.push(CONFIG_KEY_MSG);
  if (key === '.') errs.push("must not be '.'");
  else if (key === '..') errs.push("must not be '..'");
  else if (key.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

function qualifiedNameErrors(key: string): string[] {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const errs: string[] = [];
  if (slash >= 0 && (prefix.length === 0 || dns1123SubdomainErrors(prefix).length > 0)) {
    errs.push(`prefix part ${prefix.length === 0 ? 'must be non-empty' : SUBDOMAIN_MSG}`);
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  else if (!QUALIFIED_NAME_PART.test(name)) errs.push(QUALIFIED_NAME_MSG);
  return errs;
}

function stringMap(value: unknown): Record<string, string> {
  return isObject(value) ? (value as Record<string, string>) : {};
}

function validateMetadata(rt: ResourceType, obj: KubeObject, namespaceRequired: boolean): StatusCause[] {
  const meta = obj.metadata ?? {};
  const causes: StatusCause[] = [];
  const name = meta.name ?? '';
  if (!name) causes.push(required('metadata.name', 'name or generateName is required'));
  else for (const msg of nameErrors(rt, name)) causes.push(invalidValue('metadata.name', name, msg));
  if (namespaceRequired && !meta.namespace) causes.push(required('metadata.namespace'));
  for (const [key, value] of Object.entries(stringMap(meta.labels))) {
    for (const msg of qualifiedNameErrors(key)) causes.push(invalidValue('metadata.labels', key, msg));
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      causes.push(invalidValue('metadata.labels', value, value.length > 63 ? 'must be no more than 63 characters' : LABEL_VALUE_MSG));
    }
  }
  let annotationBytes = 0;
  for (const [key, value] of Object.entries(stringMap(meta.annotations))) {
    for (const msg of qualifiedNameErrors(key.toLowerCase())) causes.push(invalidValue('metadata.annotations', key, msg));
    annotationBytes += Buffer.byteLength(key) + Buffer.byteLength(String(value));
  }
  if (annotationBytes > MAX_ANNOTATIONS_SIZE) causes.push(tooLong('metadata.annotations', MAX_ANNOTATIONS_SIZE));
  // apimachinery pkg/api/validation/objectmeta.go ValidateFinalizers: qualified names, not both GC finalizers.
  const finalizers = Array.isArray(meta.finalizers) ? meta.finalizers.map(String) : [];
  for (const f of finalizers) for (const msg of qualifiedNameErrors(f)) causes.push(invalidValue('metadata.finalizers', f, msg));
  if (finalizers.includes('orphan') && finalizers.includes('foregroundDeletion')) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.finalizers',
      message: `Invalid value: []string{${finalizers.map((f) => JSON.stringify(f)).join(', ')}}: finalizer orphan and foregroundDeletion cannot be both set`,
    });
  }
  return causes;
}

/** Decoded byte length of every `data` entry (values are base64, already checked). */
function dataBytes(data: Record<string, string>): number {
  let total = 0;
  for (const value of Object.values(data)) total += Buffer.byteLength(value, 'base64');
  return total;
}

function validateSecret(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const data = stringMap(obj.data);
  for (const key of Object.keys(data)) {
    for (const msg of configKeyErrors(key)) causes.push(invalidValue(`data[${key}]`, key, msg));
  }
  if (dataBytes(data) > MAX_SECRET_SIZE) causes.push(tooLong('data', MAX_SECRET_SIZE));
  const has = (key: string) => Object.hasOwn(data, key);
  const decoded = (key: string) => Buffer.from(data[key] ?? '', 'base64').toString('utf8');
  switch (obj.type) {
    case 'kubernetes.io/service-account-token':
      if (!stringMap(obj.metadata?.annotations)['kubernetes.io/service-account.name']) {
        causes.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
      }
      break;
    case 'kubernetes.io/dockercfg':
      if (!data['.dockercfg']) causes.push(required('data[.dockercfg]'));
      else if (!isJsonObjectText(decoded('.dockercfg')))
        causes.push(invalidValue('data[.dockercfg]', '<secret contents redacted>', 'invalid character in JSON'));
      break;
    case 'kubernetes.io/dockerconfigjson':
      if (!has('.dockerconfigjson')) causes.push(required('data[.dockerconfigjson]'));
      else if (!isJsonObjectText(decoded('.dockerconfigjson')))
        causes.push(invalidValue('data[.dockerconfigjson]', '<secret contents redacted>', 'invalid character in JSON'));
      break;
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) causes.push(required('data[username]'), required('data[password]'));
      break;
    case 'kubernetes.io/ssh-auth':
      if (!data['ssh-privatekey']) causes.push(required('data[ssh-privatekey]'));
      break;
    case 'kubernetes.io/tls':
      if (!has('tls.crt')) causes.push(required('data[tls.crt]'));
      if (!has('tls.key')) causes.push(required('data[tls.key]'));
      break;
    default:
      break;
  }
  return causes;
}

function isJsonObjectText(text: string): boolean {
  try {
    return isObject(JSON.parse(text));
  } catch {
    return false;
  }
}

function validateImmutableData(obj: KubeObject, old: KubeObject, dataFields: string[]): StatusCause[] {
  const causes: StatusCause[] = [];
  if (old.immutable !== true) return causes;
  if (obj.immutable !== true) causes.push(forbiddenField('immutable', IMMUTABLE_WHEN_SET));
  for (const field of dataFields) {
    if (!deepEqual(obj[field] ?? {}, old[field] ?? {})) causes.push(forbiddenField(field, IMMUTABLE_WHEN_SET));
  }
  return causes;
}

function validateSecretUpdate(obj: KubeObject, old: KubeObject): StatusCause[] {
  const causes = validateImmutableData(obj, old, ['data']);
  if (obj.type !== old.type) causes.push(invalidValue('type', obj.type, 'field is immutable'));
  return causes;
}

function validateConfigMap(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const data = stringMap(obj.data);
  const binary = stringMap(obj.binaryData);
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    for (const msg of configKeyErrors(key)) causes.push(invalidValue(`data[${key}]`, key, msg));
    total += Buffer.byteLength(String(value));
  }
  for (const [key, value] of Object.entries(binary)) {
    for (const msg of configKeyErrors(key)) causes.push(invalidValue(`binaryData[${key}]`, key, msg));
    if (Object.hasOwn(data, key)) causes.push(invalidValue(`binaryData[${key}]`, key, 'duplicate of key present in data'));
    total += Buffer.byteLength(String(value), 'base64');
  }
  if (total > MAX_SECRET_SIZE) causes.push(tooLong('[]', MAX_SECRET_SIZE));
  return causes;
}

function validateContainers(list: unknown, path: string, requiredList: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!Array.isArray(list) || list.length === 0) {
    if (requiredList) causes.push(required(path));
    return causes;
  }
  const seen = new Set<string>();
  list.forEach((c, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(c)) return;
    const name = typeof c.name === 'string' ? c.name : '';
    if (!name) causes.push(required(`${p}.name`));
    else {
      for (const msg of dns1123LabelErrors(name)) causes.push(invalidValue(`${p}.name`, name, msg));
      if (seen.has(name)) causes.push(duplicate(`${p}.name`, name));
      seen.add(name);
    }
    if (!c.image) causes.push(required(`${p}.image`));
  });
  return causes;
}

function validatePodSpec(spec: unknown, path: string, allowedRestart?: string[]): StatusCause[] {
  if (!isObject(spec)) return [required(path)];
  const causes = [
    ...validateContainers(spec.containers, `${path}.containers`, true),
    ...validateContainers(spec.initContainers, `${path}.initContainers`, false),
  ];
  if (allowedRestart && !allowedRestart.includes(String(spec.restartPolicy ?? ''))) {
    causes.push(
      spec.restartPolicy
        ? notSupported(`${path}.restartPolicy`, spec.restartPolicy, allowedRestart)
        : required(`${path}.restartPolicy`, `valid values: ${allowedRestart.map((v) => JSON.stringify(v)).join(', ')}`),
    );
  }
  return causes;
}

/** Deployment/StatefulSet/DaemonSet/ReplicaSet: selector present, matching the template, pod spec sane. */
function validateWorkload(obj: KubeObject): StatusCause[] {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  if (!spec) return [required('spec')];
  const causes: StatusCause[] = [];
  const selector = fromStructuredSelector(spec.selector);
  const template = isObject(spec.template) ? spec.template : undefined;
  const labels = stringMap(isObject(template?.metadata) ? template.metadata.labels : undefined);
  if (!selector || selector.requirements.length === 0) {
    causes.push(required('spec.selector'));
  } else if (!matchesLabels(selector, labels)) {
    causes.push(invalidValue('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  if (typeof spec.replicas === 'number' && spec.replicas < 0)
    causes.push(invalidValue('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  causes.push(...validatePodSpec(template?.spec, 'spec.template.spec', ['Always']));
  return causes;
}

function validateWorkloadUpdate(obj: KubeObject, old: KubeObject): StatusCause[] {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const oldSpec = isObject(old.spec) ? old.spec : {};
  if (!deepEqual(spec.selector, oldSpec.selector)) return [invalidValue('spec.selector', spec.selector, 'field is immutable')];
  return [];
}

function validateJobSpec(spec: unknown, path: string): StatusCause[] {
  if (!isObject(spec)) return [required(path)];
  const template = isObject(spec.template) ? spec.template : undefined;
  const causes = validatePodSpec(template?.spec, `${path}.template.spec`, ['OnFailure', 'Never']);
  const podSpec = isObject(template?.spec) ? template.spec : {};
  if (isObject(spec.podFailurePolicy) && podSpec.restartPolicy !== undefined && podSpec.restartPolicy !== 'Never') {
    causes.push(
      invalidValue(
        `${path}.template.spec.restartPolicy`,
        podSpec.restartPolicy,
        'only "Never" is supported when podFailurePolicy is specified',
      ),
    );
  }
  for (const field of ['backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished', 'parallelism', 'completions']) {
    const value = spec[field];
    if (typeof value === 'number' && value < 0) causes.push(invalidValue(`${path}.${field}`, value, 'must be greater than or equal to 0'));
  }
  return causes;
}

function validateJobUpdate(obj: KubeObject, old: KubeObject): StatusCause[] {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const oldSpec = isObject(old.spec) ? old.spec : {};
  const causes: StatusCause[] = [];
  if (!deepEqual(spec.template, oldSpec.template)) causes.push(invalidValue('spec.template', spec.template, 'field is immutable'));
  if (!deepEqual(spec.selector, oldSpec.selector)) causes.push(invalidValue('spec.selector', spec.selector, 'field is immutable'));
  if (!deepEqual(spec.completions, oldSpec.completions))
    causes.push(invalidValue('spec.completions', spec.completions, 'field is immutable'));
  return causes;
}

const CRON_FIELDS: [string, number, number, Record<string, number>?][] = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12, { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 }],
  ['day of week', 0, 6, { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 }],
];

function cronFieldError(field: string, [label, min, max, names]: (typeof CRON_FIELDS)[number]): string | undefined {
  for (const part of field.split(',')) {
    const [range, step] = part.split('/');
    if (step !== undefined && !/^\d+$/.test(step)) return `failed to parse int from ${step}`;
    if (range === '*' || range === '?') continue;
    for (const bound of range.split('-')) {
      const value =
        names && Object.hasOwn(names, bound.toLowerCase()) ? names[bound.toLowerCase()] : /^\d+$/.test(bound) ? Number(bound) : NaN;
      if (Number.isNaN(value)) return `failed to parse int from ${bound}`;
      if (value < min || value > (label === 'day of week' ? 7 : max)) return `end of range (${value}) above maximum (${max}): ${part}`;
    }
  }
  return undefined;
}

/** Standard 5-field cron or a descriptor, as robfig/cron's standard parser accepts. */
export function cronScheduleError(schedule: string): string | undefined {
  const trimmed = schedule.trim();
  if (trimmed.startsWith('@')) {
    if (['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'].includes(trimmed)) return undefined;
    if (/^@every \S+$/.test(trimmed)) return undefined;
    return `unrecognized descriptor: ${trimmed}`;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
  for (let i = 0; i < 5; i++) {
    const err = cronFieldError(fields[i], CRON_FIELDS[i]);
    if (err) return err;
  }
  return undefined;
}

function timeZoneError(tz: string): string | undefined {
  if (tz === 'Local') return 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `unknown time zone ${tz}`;
  }
}

function validateCronJob(obj: KubeObject): StatusCause[] {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  if (!spec) return [required('spec')];
  const causes: StatusCause[] = [];
  const schedule = typeof spec.schedule === 'string' ? spec.schedule : '';
  if (!schedule) causes.push(required('spec.schedule'));
  else if (schedule.includes('TZ'))
    causes.push(invalidValue('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
  else {
    const err = cronScheduleError(schedule);
    if (err) causes.push(invalidValue('spec.schedule', schedule, err));
  }
  if (typeof spec.timeZone === 'string') {
    const err = timeZoneError(spec.timeZone);
    if (err) causes.push(invalidValue('spec.timeZone', spec.timeZone, err));
  }
  const policy = spec.concurrencyPolicy;
  if (policy !== undefined && !['Allow', 'Forbid', 'Replace'].includes(String(policy))) {
    causes.push(notSupported('spec.concurrencyPolicy', policy, ['Allow', 'Forbid', 'Replace']));
  }
  const jobTemplate = isObject(spec.jobTemplate) ? spec.jobTemplate : undefined;
  causes.push(...validateJobSpec(jobTemplate?.spec, 'spec.jobTemplate.spec'));
  return causes;
}

function validateRoleRef(obj: KubeObject, namespaced: boolean): StatusCause[] {
  const ref = isObject(obj.roleRef) ? obj.roleRef : undefined;
  const causes: StatusCause[] = [];
  if (!ref) return [required('roleRef')];
  if (ref.apiGroup !== 'rbac.authorization.k8s.io')
    causes.push(notSupported('roleRef.apiGroup', ref.apiGroup ?? '', ['rbac.authorization.k8s.io']));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(String(ref.kind))) causes.push(notSupported('roleRef.kind', ref.kind ?? '', kinds));
  if (!ref.name) causes.push(required('roleRef.name'));
  const subjects = Array.isArray(obj.subjects) ? obj.subjects : [];
  subjects.forEach((s, i) => {
    if (!isObject(s)) return;
    if (!['ServiceAccount', 'User', 'Group'].includes(String(s.kind)))
      causes.push(notSupported(`subjects[${i}].kind`, s.kind ?? '', ['ServiceAccount', 'User', 'Group']));
    if (!s.name) causes.push(required(`subjects[${i}].name`));
    if (s.kind === 'ServiceAccount' && !namespaced && !s.namespace) causes.push(required(`subjects[${i}].namespace`));
  });
  return causes;
}

function validateRules(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const rules = Array.isArray(obj.rules) ? obj.rules : [];
  rules.forEach((r, i) => {
    if (!isObject(r)) return;
    if (!Array.isArray(r.verbs) || r.verbs.length === 0)
      causes.push(required(`rules[${i}].verbs`, 'verbs must contain at least one value'));
    const hasNonResource = Array.isArray(r.nonResourceURLs) && r.nonResourceURLs.length > 0;
    const hasResources = Array.isArray(r.resources) && r.resources.length > 0;
    if (!hasNonResource && !hasResources)
      causes.push(required(`rules[${i}].resources`, 'resource rules must supply at least one api group'));
  });
  return causes;
}

function validateEventsV1(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!obj.eventTime) causes.push(required('eventTime'));
  if (!obj.reportingController) causes.push(required('reportingController'));
  if (!obj.reportingInstance) causes.push(required('reportingInstance'));
  if (!obj.action) causes.push(required('action'));
  if (!obj.reason) causes.push(required('reason'));
  if (obj.type !== 'Normal' && obj.type !== 'Warning') causes.push(notSupported('type', obj.type ?? '', ['Normal', 'Warning']));
  if (typeof obj.note === 'string' && Buffer.byteLength(obj.note) > 1024) causes.push(tooLong('note', 1024));
  return causes;
}

function validateLease(obj: KubeObject): StatusCause[] {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const causes: StatusCause[] = [];
  if (typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds <= 0)
    causes.push(invalidValue('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'));
  if (typeof spec.leaseTransitions === 'number' && spec.leaseTransitions < 0)
    causes.push(invalidValue('spec.leaseTransitions', spec.leaseTransitions, 'must be greater than or equal to 0'));
  return causes;
}

/** Kind-specific create-time checks. `obj` is already defaulted. */
function validateKind(rt: ResourceType, obj: KubeObject): StatusCause[] {
  switch (rt.key) {
    case '/secrets':
      return validateSecret(obj);
    case '/configmaps':
      return validateConfigMap(obj);
    case '/pods':
      return validatePodSpec(obj.spec, 'spec');
    case 'apps/deployments':
    case 'apps/statefulsets':
    case 'apps/daemonsets':
    case 'apps/replicasets':
      return validateWorkload(obj);
    case 'batch/jobs':
      return validateJobSpec(obj.spec, 'spec');
    case 'batch/cronjobs':
      return validateCronJob(obj);
    case 'rbac.authorization.k8s.io/rolebindings':
      return validateRoleRef(obj, true);
    case 'rbac.authorization.k8s.io/clusterrolebindings':
      return validateRoleRef(obj, false);
    case 'rbac.authorization.k8s.io/roles':
    case 'rbac.authorization.k8s.io/clusterroles':
      return validateRules(obj);
    case 'events.k8s.io/events':
      return validateEventsV1(obj);
    case 'coordination.k8s.io/leases':
      return validateLease(obj);
    case 'admissionregistration.k8s.io/validatingadmissionpolicies':
      return validatePolicyObject(obj as PolicyObject);
    default:
      return [];
  }
}

/** Kind-specific update-only checks (immutability). */
function validateKindUpdate(rt: ResourceType, obj: KubeObject, old: KubeObject): StatusCause[] {
  switch (rt.key) {
    case '/secrets':
      return validateSecretUpdate(obj, old);
    case '/configmaps':
      return validateImmutableData(obj, old, ['data', 'binaryData']);
    case 'apps/deployments':
    case 'apps/statefulsets':
    case 'apps/daemonsets':
    case 'apps/replicasets':
      return validateWorkloadUpdate(obj, old);
    case 'batch/jobs':
      return validateJobUpdate(obj, old);
    case 'rbac.authorization.k8s.io/rolebindings':
    case 'rbac.authorization.k8s.io/clusterrolebindings':
      return deepEqual(obj.roleRef, old.roleRef) ? [] : [invalidValue('roleRef', obj.roleRef, 'cannot change roleRef')];
    default:
      return [];
  }
}

/**
 * All validation errors for an object about to be stored. `old` is the stored
 * version for updates. Runs on the defaulted, stringData-merged object.
 */
export function validateObject(rt: ResourceType, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const causes = [...validateMetadata(rt, obj, rt.namespaced), ...validateKind(rt, obj)];
  if (old) causes.push(...validateKindUpdate(rt, obj, old));
  return causes;
}

/** Go's base64.StdEncoding acceptance (\r and \n are ignored, padding required). */
export function isValidBase64(value: string): boolean {
  const s = value.includes('\n') || value.includes('\r') ? value.replace(/[\r\n]/g, '') : value;
  if (s.length % 4 !== 0) return false;
  let end = s.length;
  if (end > 0 && s.charCodeAt(end - 1) === EQUALS) end--;
  if (end > 0 && s.charCodeAt(end - 1) === EQUALS) end--;
  // A loop over a table rather than a regular expression: a large Secret's create checks megabytes.
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || BASE64_ALPHABET[c] === 0) return false;
  }
  return true;
}

const EQUALS = 0x3d;
const BASE64_ALPHABET = (() => {
  const t = new Uint8Array(128);
  for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') t[ch.charCodeAt(0)] = 1;
  return t;
})();
