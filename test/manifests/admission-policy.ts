/**
 * Evaluates a rendered ValidatingAdmissionPolicy against one admission request outside any API
 * server, with the evaluator the API emulator enforces policies with (test/emulator/admission.ts:
 * matchConstraints, matchConditions, variables, validations, failurePolicy; the CEL on
 * @marcbachmann/cel-js, which implements the CEL core language, not the Kubernetes CEL
 * libraries). The tests use it for tables of requests; the end-to-end tests load the same
 * policies into the emulator, which enforces them on every request.
 */
import { type AdmissionAttributes, evaluatePolicy, policyExpressions } from '../emulator/admission.js';
import type { ManifestObject } from './render.js';

export { compile } from '../emulator/admission.js';

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

/** Every CEL expression of a policy (match conditions, variables, validations), to compile them all. */
export function expressionsOf(policy: ManifestObject): string[] {
  return policyExpressions(policy).map((e) => e.expression);
}

/** What the API server would do with `req` under `policy` (bound with validationActions Deny). */
export function admit(policy: ManifestObject, req: AdmissionRequest): AdmissionDecision {
  const meta = (req.object ?? req.oldObject)?.metadata as { name?: string; namespace?: string } | undefined;
  const attributes: AdmissionAttributes = {
    operation: req.operation,
    user: { username: req.username, groups: ['system:authenticated'] },
    resource: req.resource,
    subresource: '',
    kind: { group: req.resource.group, version: req.resource.version, kind: String((req.object ?? req.oldObject)?.kind ?? '') },
    name: meta?.name ?? '',
    namespace: meta?.namespace ?? '',
    object: req.object,
    oldObject: req.oldObject,
    dryRun: false,
  };
  const result = evaluatePolicy(policy, attributes);
  if (!result.matched) return { applies: false };
  return { applies: true, allowed: result.failures.length === 0, messages: result.failures.map((f) => f.message) };
}
