/**
 * ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) as kube-apiserver runs it, for what
 * the tests need. Every create, update, patch and delete that reaches the registry, of any
 * identity (system:masters included: the real plugin exempts no user), is matched against every
 * stored policy and each of its bindings, and denied with the Status the real server sends:
 *
 *   403 Forbidden (a validation with `reason: Forbidden`; 401/413 for Unauthorized and
 *   RequestEntityTooLarge, 422 Invalid otherwise), message
 *   `<resource>.<group> "<name>" is forbidden: ValidatingAdmissionPolicy '<policy>' with binding
 *   '<binding>' denied request: <message>`, and that last part as `details.causes[0].message`.
 *
 * Upstream: k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go (the message,
 * `reasonToCode`, the first denial wins), policy/generic/plugin.go (policies never apply to the
 * admissionregistration policy resources themselves), admission/errors.go (`NewForbidden`: the
 * `is forbidden` prefix and the name of the object). PATCH is admitted as UPDATE, on the object
 * after the patch and the defaults were applied; DELETE has `object` null and `oldObject` the
 * stored object; `request` carries operation, userInfo, resource, subResource, kind, name,
 * namespace and dryRun.
 *
 * Evaluated: `matchConstraints.resourceRules` and `excludeResourceRules` (groups, versions,
 * resources with the `*`, `x/*` and `*\/sub` forms, operations, resourceNames), the binding's
 * `matchResources` rules, `matchConditions`, `variables` (lazily, like the real server),
 * `validations` (`message`, `messageExpression`, `reason`) and `failurePolicy` (an expression
 * that errs or is not a bool denies under Fail, the default, and is skipped under Ignore).
 * Not evaluated: `paramKind`/`paramRef`, `auditAnnotations`, the `Warn` and `Audit` actions (only
 * `Deny` bindings deny), the `authorizer` and `namespaceObject` variables; a policy or binding
 * using namespace or object selectors is refused with 500, so that a test never passes by
 * accident. The CEL runs on @marcbachmann/cel-js, the CEL core language with optional types: it
 * has none of the Kubernetes CEL libraries, and it evaluates objects as plain JSON, so it also
 * accepts expressions the real server's type checker warns about (iterating the fields of a
 * struct such as a Container, comparing absent fields). Policies meant for a real cluster must
 * keep to what both accept; see manifests/base/rotate/admission-policy.yaml.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { UserInfo } from './auth.js';
import { KubeApiError, qualified, type StatusCause } from './errors.js';
import { isObject, type JsonObject } from './types.js';

/** What a policy sees of one request (the admission.Attributes the emulator has). */
export interface AdmissionAttributes {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  user: UserInfo;
  resource: { group: string; version: string; resource: string };
  /** '' for the main resource. */
  subresource: string;
  kind: { group: string; version: string; kind: string };
  name: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  /** The object as it would be stored, with kind and apiVersion (null for DELETE). */
  object: JsonObject | null;
  /** The stored object (null for CREATE). */
  oldObject: JsonObject | null;
  dryRun: boolean;
}

/** One validation that failed, with the reason its Status carries. */
export interface PolicyFailure {
  message: string;
  reason: string;
}

/** The outcome of one policy (with one binding) for one request. */
export type PolicyEvaluation = { matched: false } | { matched: true; failures: PolicyFailure[] };

interface RuleWithOperations {
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  operations?: string[];
  resourceNames?: string[];
  scope?: string;
}

interface MatchResources {
  resourceRules?: RuleWithOperations[];
  excludeResourceRules?: RuleWithOperations[];
  namespaceSelector?: unknown;
  objectSelector?: unknown;
}

interface PolicySpec {
  failurePolicy?: 'Fail' | 'Ignore';
  matchConstraints?: MatchResources;
  matchConditions?: { name: string; expression: string }[];
  variables?: { name: string; expression: string }[];
  validations?: { expression: string; message?: string; messageExpression?: string; reason?: string }[];
  paramKind?: unknown;
}

interface BindingSpec {
  policyName?: string;
  validationActions?: string[];
  matchResources?: MatchResources;
  paramRef?: unknown;
}

/** A stored policy or binding: what the evaluator reads of it. */
export interface PolicyObject {
  metadata: { name: string };
  spec?: unknown;
}

const env = new Environment({ unlistedVariablesAreDyn: true, enableOptionalTypes: true });
const compiled = new Map<string, (context: Record<string, unknown>) => unknown>();

/** Compiles a CEL expression (cached); throws with the parser's message when it is not valid CEL. */
export function compile(expression: string): (context: Record<string, unknown>) => unknown {
  let fn = compiled.get(expression);
  if (fn === undefined) {
    const parsed = env.parse(expression);
    fn = (context) => parsed(context);
    compiled.set(expression, fn);
  }
  return fn;
}

/** Every CEL expression of a policy, with the field that holds it (`spec.validations[0].expression`). */
export function policyExpressions(policy: PolicyObject): Array<{ field: string; expression: string }> {
  const spec = (policy.spec ?? {}) as PolicySpec;
  return [
    ...(spec.matchConditions ?? []).map((c, i) => ({ field: `spec.matchConditions[${i}].expression`, expression: c.expression })),
    ...(spec.variables ?? []).map((v, i) => ({ field: `spec.variables[${i}].expression`, expression: v.expression })),
    ...(spec.validations ?? []).flatMap((v, i) => [
      { field: `spec.validations[${i}].expression`, expression: v.expression },
      ...(v.messageExpression ? [{ field: `spec.validations[${i}].messageExpression`, expression: v.messageExpression }] : []),
    ]),
  ];
}

/** The 422 causes of a policy whose expressions do not compile (the real server compiles them on write). */
export function validatePolicyObject(policy: PolicyObject): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const { field, expression } of policyExpressions(policy)) {
    try {
      compile(expression);
    } catch (e) {
      causes.push({
        reason: 'FieldValueInvalid',
        field,
        message: `Invalid value: ${JSON.stringify(expression)}: compilation failed: ${(e as Error).message}`,
      });
    }
  }
  return causes;
}

const anyOf = (list: string[] | undefined, value: string) => (list ?? []).some((x) => x === '*' || x === value);

/** `resources` entries as the real matcher reads them: `x`, `*`, `x/*`, `*\/sub`, `*\/*`. */
function resourceMatches(list: string[] | undefined, resource: string, subresource: string): boolean {
  const wanted = subresource ? `${resource}/${subresource}` : resource;
  return (list ?? []).some((r) => {
    if (r === '*/*' || r === wanted) return true;
    if (r === '*') return subresource === '';
    const [res, sub] = r.split('/');
    return sub !== undefined && (res === '*' || res === resource) && (sub === '*' || sub === subresource) && subresource !== '';
  });
}

function ruleMatches(rule: RuleWithOperations, a: AdmissionAttributes): boolean {
  if (!anyOf(rule.apiGroups, a.resource.group) || !anyOf(rule.apiVersions, a.resource.version)) return false;
  if (!anyOf(rule.operations, a.operation)) return false;
  if (!resourceMatches(rule.resources, a.resource.resource, a.subresource)) return false;
  if (rule.resourceNames !== undefined && rule.resourceNames.length > 0 && !rule.resourceNames.includes(a.name)) return false;
  const scope = rule.scope ?? '*';
  return scope === '*' || (scope === 'Namespaced') === (a.namespace !== '');
}

function selectorIsEmpty(selector: unknown): boolean {
  if (selector === undefined || selector === null) return true;
  if (!isObject(selector)) return false;
  const labels = isObject(selector.matchLabels) ? Object.keys(selector.matchLabels) : [];
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  return labels.length === 0 && expressions.length === 0;
}

function notEmulated(what: string): KubeApiError {
  return new KubeApiError(500, 'InternalError', `Internal error occurred: emulator: ${what} is not emulated`);
}

/** Whether `match` (a policy's matchConstraints or a binding's matchResources) selects the request. */
function matchResources(match: MatchResources | undefined, a: AdmissionAttributes, owner: string, required: boolean): boolean {
  if (match === undefined) return !required;
  if (!selectorIsEmpty(match.namespaceSelector) || !selectorIsEmpty(match.objectSelector))
    throw notEmulated(`the namespaceSelector/objectSelector of ${owner}`);
  const rules = match.resourceRules;
  if (rules !== undefined && rules.length > 0 && !rules.some((r) => ruleMatches(r, a))) return false;
  if ((rules === undefined || rules.length === 0) && required) return false;
  return !(match.excludeResourceRules ?? []).some((r) => ruleMatches(r, a));
}

/** The CEL `request` variable (an admission/v1 AdmissionRequest). */
function requestOf(a: AdmissionAttributes): JsonObject {
  return {
    operation: a.operation,
    userInfo: { username: a.user.username, groups: a.user.groups },
    resource: a.resource,
    subResource: a.subresource,
    requestResource: a.resource,
    requestSubResource: a.subresource,
    kind: a.kind,
    requestKind: a.kind,
    name: a.name,
    namespace: a.namespace,
    dryRun: a.dryRun,
  };
}

/** The evaluation context: `variables.x` is computed on first use, as the real server does. */
function contextOf(spec: PolicySpec, a: AdmissionAttributes): Record<string, unknown> {
  const context: Record<string, unknown> = { request: requestOf(a), object: a.object, oldObject: a.oldObject, params: null };
  const variables: Record<string, unknown> = {};
  for (const v of spec.variables ?? []) {
    let done = false;
    let value: unknown;
    Object.defineProperty(variables, v.name, {
      enumerable: true,
      get: () => {
        if (!done) {
          value = compile(v.expression)(context);
          done = true;
        }
        return value;
      },
    });
  }
  context.variables = variables;
  return context;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * What `policy` decides about a request (the binding's own match rules are checked by the
 * caller): not matched, or matched with the validations that failed.
 */
export function evaluatePolicy(policy: PolicyObject, a: AdmissionAttributes): PolicyEvaluation {
  const spec = (policy.spec ?? {}) as PolicySpec;
  if (spec.paramKind !== undefined) throw notEmulated(`paramKind (ValidatingAdmissionPolicy ${policy.metadata.name})`);
  if (!matchResources(spec.matchConstraints, a, `ValidatingAdmissionPolicy ${policy.metadata.name}`, true)) return { matched: false };
  const ignore = spec.failurePolicy === 'Ignore';
  const context = contextOf(spec, a);
  for (const c of spec.matchConditions ?? []) {
    let result: unknown;
    try {
      result = compile(c.expression)(context);
    } catch (e) {
      if (ignore) return { matched: false };
      return {
        matched: true,
        failures: [{ message: `failed to evaluate match condition '${c.name}': ${errorText(e)}`, reason: 'Invalid' }],
      };
    }
    if (result !== true) return { matched: false };
  }
  const failures: PolicyFailure[] = [];
  for (const v of spec.validations ?? []) {
    let result: unknown;
    try {
      result = compile(v.expression)(context);
    } catch (e) {
      result = e;
    }
    if (result === true) continue;
    if (typeof result !== 'boolean') {
      if (!ignore)
        failures.push({ message: `expression '${v.expression}' resulted in error: ${errorText(result)}`, reason: v.reason ?? 'Invalid' });
      continue;
    }
    let message = v.message ?? `failed expression: ${v.expression.trim()}`;
    if (v.messageExpression) {
      try {
        const m = compile(v.messageExpression)(context);
        if (typeof m === 'string' && m.trim() !== '') message = m;
      } catch {
        // The real server falls back to `message` too.
      }
    }
    failures.push({ message, reason: v.reason ?? 'Invalid' });
  }
  return { matched: true, failures };
}

/** `reasonToCode` of the upstream dispatcher. */
function codeOf(reason: string): number {
  if (reason === 'Forbidden') return 403;
  if (reason === 'Unauthorized') return 401;
  if (reason === 'RequestEntityTooLarge') return 413;
  return 422;
}

/** Resources no API-based policy applies to (policy/generic/plugin.go `admissionResources`). */
const EXEMPT = new Set([
  'validatingadmissionpolicies',
  'validatingadmissionpolicybindings',
  'mutatingadmissionpolicies',
  'mutatingadmissionpolicybindings',
]);

/** The policies and bindings in force, read from the store on every request. */
export interface PolicySource {
  policies(): PolicyObject[];
  bindings(): PolicyObject[];
}

/** Runs every stored policy on each write; throws the real server's Status on the first denial. */
export class ValidatingAdmission {
  constructor(private readonly source: PolicySource) {}

  validate(a: AdmissionAttributes): void {
    if (a.resource.group === 'admissionregistration.k8s.io' && EXEMPT.has(a.resource.resource)) return;
    const bindings = this.source.bindings();
    if (bindings.length === 0) return;
    const policies = new Map(this.source.policies().map((p) => [p.metadata.name, p]));
    for (const binding of [...bindings].sort((x, y) => x.metadata.name.localeCompare(y.metadata.name))) {
      const spec = (binding.spec ?? {}) as BindingSpec;
      const policy = spec.policyName === undefined ? undefined : policies.get(spec.policyName);
      if (policy === undefined || !(spec.validationActions ?? []).includes('Deny')) continue;
      if (spec.paramRef !== undefined) throw notEmulated(`paramRef (ValidatingAdmissionPolicyBinding ${binding.metadata.name})`);
      if (!matchResources(spec.matchResources, a, `ValidatingAdmissionPolicyBinding ${binding.metadata.name}`, false)) continue;
      const result = evaluatePolicy(policy, a);
      if (!result.matched || result.failures.length === 0) continue;
      const failure = result.failures[0];
      throw denial(a, policy.metadata.name, binding.metadata.name, failure);
    }
  }
}

/** The Status of a denied request, as dispatcher.go builds it from admission.NewForbidden. */
export function denial(a: AdmissionAttributes, policy: string, binding: string, failure: PolicyFailure): KubeApiError {
  const message = `ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: ${failure.message}`;
  const meta = (a.object ?? a.oldObject)?.metadata as { name?: string; generateName?: string } | undefined;
  const name = a.name || meta?.name || meta?.generateName || 'Unknown';
  const gr = { group: a.resource.group, resource: a.resource.resource };
  return new KubeApiError(codeOf(failure.reason), failure.reason, `${qualified(gr)} "${name}" is forbidden: ${message}`, {
    name,
    group: gr.group,
    kind: gr.resource,
    causes: [{ message }],
  });
}
