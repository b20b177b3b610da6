/**
 * Evaluates a rendered ValidatingAdmissionPolicy against an admission request, the way the API
 * server decides it: the request must match `matchConstraints.resourceRules` (group, version,
 * resource, operation) and every `matchConditions` expression; then each `validations`
 * expression that is false denies it with its message. The CEL expressions run on
 * @marcbachmann/cel-js, which implements the CEL core language (not the Kubernetes CEL
 * libraries; the policies here use none of them). The API emulator does not run admission
 * policies, so this is how the tests check what a policy admits.
 */
import { parse } from '@marcbachmann/cel-js';
import type { ManifestObject } from './render.js';

/** One admission request, as CEL sees it (`request`, `object`, `oldObject`). */
export interface AdmissionRequest {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  username: string;
  /** `group/version/resource`, e.g. `/v1/secrets` for core Secrets. */
  resource: { group: string; version: string; resource: string };
  /** The object sent (null for DELETE). */
  object: Record<string, unknown> | null;
  /** The existing object (null for CREATE). */
  oldObject: Record<string, unknown> | null;
}

export type AdmissionDecision = { applies: false } | { applies: true; allowed: boolean; messages: string[] };

interface PolicySpec {
  matchConstraints?: { resourceRules?: { apiGroups?: string[]; apiVersions?: string[]; resources?: string[]; operations?: string[] }[] };
  matchConditions?: { name: string; expression: string }[];
  validations?: { expression: string; message?: string }[];
}

const anyOf = (list: string[] | undefined, value: string) => (list ?? []).some((x) => x === '*' || x === value);

/** Every CEL expression of a policy (match conditions and validations), to compile them all. */
export function expressionsOf(policy: ManifestObject): string[] {
  const spec = policy.spec as PolicySpec;
  return [...(spec.matchConditions ?? []).map((c) => c.expression), ...(spec.validations ?? []).map((v) => v.expression)];
}

/** Compiles an expression; throws with the CEL parser's message when it is not valid CEL. */
export function compile(expression: string): (context: Record<string, unknown>) => unknown {
  return parse(expression);
}

/** What the API server would do with `req` under `policy` (bound with validationActions Deny). */
export function admit(policy: ManifestObject, req: AdmissionRequest): AdmissionDecision {
  const spec = policy.spec as PolicySpec;
  const r = req.resource;
  const matches = (spec.matchConstraints?.resourceRules ?? []).some(
    (rule) =>
      anyOf(rule.apiGroups, r.group) &&
      anyOf(rule.apiVersions, r.version) &&
      anyOf(rule.resources, r.resource) &&
      anyOf(rule.operations, req.operation),
  );
  if (!matches) return { applies: false };
  const context = {
    request: { operation: req.operation, userInfo: { username: req.username }, resource: r },
    object: req.object,
    oldObject: req.oldObject,
  };
  if (!(spec.matchConditions ?? []).every((c) => compile(c.expression)(context) === true)) return { applies: false };
  const messages = (spec.validations ?? []).filter((v) => compile(v.expression)(context) !== true).map((v) => v.message ?? v.expression);
  return { applies: true, allowed: messages.length === 0, messages };
}
