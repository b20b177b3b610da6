/**
 * RBAC authorizer with the semantics of
 * plugin/pkg/auth/authorizer/rbac (RuleAllows, VisitRulesFor): ClusterRoleBindings
 * are visited first, then RoleBindings of the request's namespace; a rule
 * allows when verb, apiGroup, resource (incl. `*` and `*\/sub`), and
 * resourceNames (empty = any; a request without a name never matches a rule
 * with resourceNames) all match. Members of `system:masters` bypass RBAC.
 * ClusterRoles with an aggregationRule get the rules of the ClusterRoles their
 * selectors match, as the aggregation controller would write them.
 */
import type { UserInfo } from './auth.js';
import type { Registry } from './registry.js';
import type { ResourceType } from './resources.js';
import { findByPlural } from './resources.js';
import { fromStructuredSelector, matchesLabels } from './selectors.js';
import type { StoredKubeObject } from './types.js';
import { isObject } from './types.js';

/** What is being asked (k8s authorizer.Attributes). */
export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** URL path, for non-resource requests. */
  path: string;
}

/** One RBAC rule that allows a request, and how the user got it. */
export interface RuleMatch {
  bindingKind: 'ClusterRoleBinding' | 'RoleBinding';
  bindingName: string;
  bindingNamespace?: string;
  roleKind: 'ClusterRole' | 'Role';
  roleName: string;
  roleNamespace?: string;
  /** Index of the rule in the role's `rules` (of the source role for aggregated ClusterRoles). */
  ruleIndex: number;
  /** The ClusterRole the rule came from when `roleName` aggregates others. */
  aggregatedFrom?: string;
}

/** Result of authorizing one request. */
export interface AuthzDecision {
  allowed: boolean;
  /** `RBAC: allowed by RoleBinding "b/ns" of Role "r" to ServiceAccount "sa/ns"`, or why bypassed. */
  reason: string;
  /** The rule the real authorizer would stop at (first match). */
  matched?: RuleMatch;
  /** Every rule that would allow the request (to find unused or redundant rules). */
  allMatches: RuleMatch[];
}

/** A normalised PolicyRule. */
export interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

interface SourcedRule {
  rule: PolicyRule;
  index: number;
  source?: string;
}

const RBAC = 'rbac.authorization.k8s.io';
const rbacResource = (plural: string) => findByPlural(RBAC, 'v1', plural) as ResourceType;

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function toRule(value: unknown): PolicyRule {
  const r = isObject(value) ? value : {};
  return {
    verbs: strings(r.verbs),
    apiGroups: strings(r.apiGroups),
    resources: strings(r.resources),
    resourceNames: strings(r.resourceNames),
    nonResourceURLs: strings(r.nonResourceURLs),
  };
}

/** rbacv1helpers.ResourceMatches. */
function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  return rule.resources.some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return rule.nonResourceURLs.some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
}

/** rbac.RuleAllows. */
export function ruleAllows(attrs: RequestAttributes, rule: PolicyRule): boolean {
  const verbOk = rule.verbs.includes('*') || rule.verbs.includes(attrs.verb);
  if (!attrs.resourceRequest) return verbOk && nonResourceURLMatches(rule, attrs.path);
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  return (
    verbOk &&
    (rule.apiGroups.includes('*') || rule.apiGroups.includes(attrs.apiGroup)) &&
    resourceMatches(rule, combined, attrs.subresource) &&
    (rule.resourceNames.length === 0 || rule.resourceNames.includes(attrs.name))
  );
}

/** `ServiceAccount "ns/name"`-style description of a binding subject. */
function describeSubject(subject: Record<string, unknown>, bindingNamespace: string): string {
  const kind = String(subject.kind);
  if (kind === 'ServiceAccount') return `${kind} "${String(subject.namespace || bindingNamespace)}/${String(subject.name)}"`;
  return `${kind} "${String(subject.name)}"`;
}

function subjectMatches(subject: unknown, user: UserInfo, bindingNamespace: string): boolean {
  if (!isObject(subject)) return false;
  switch (subject.kind) {
    case 'User':
      return subject.name === user.username;
    case 'Group':
      return user.groups.includes(String(subject.name));
    case 'ServiceAccount': {
      const ns = String(subject.namespace || bindingNamespace);
      return user.username === `system:serviceaccount:${ns}:${String(subject.name)}`;
    }
    default:
      return false;
  }
}

/** Decides requests from the Roles and bindings currently stored in the registry. */
export class RbacAuthorizer {
  constructor(private readonly registry: Registry) {}

  private objects(plural: string, namespace?: string): StoredKubeObject[] {
    return this.registry.list(rbacResource(plural), { namespace }).items.map((v) => v.obj);
  }

  private find(plural: string, namespace: string | undefined, name: string): StoredKubeObject | undefined {
    try {
      return this.registry.get(rbacResource(plural), namespace, name).obj;
    } catch {
      return undefined;
    }
  }

  /** Rules of a ClusterRole, resolving aggregation. */
  private clusterRoleRules(name: string): SourcedRule[] {
    const role = this.find('clusterroles', undefined, name);
    if (!role) return [];
    const aggregation = isObject(role.aggregationRule) ? role.aggregationRule : undefined;
    if (!aggregation) return (Array.isArray(role.rules) ? role.rules : []).map((r, index) => ({ rule: toRule(r), index }));
    const selectors = (Array.isArray(aggregation.clusterRoleSelectors) ? aggregation.clusterRoleSelectors : []).map(fromStructuredSelector);
    const out: SourcedRule[] = [];
    for (const other of this.objects('clusterroles')) {
      if (other.metadata.name === name || isObject(other.aggregationRule)) continue;
      if (!selectors.some((s) => s && s.requirements.length > 0 && matchesLabels(s, other.metadata.labels))) continue;
      (Array.isArray(other.rules) ? other.rules : []).forEach((r, index) =>
        out.push({ rule: toRule(r), index, source: other.metadata.name }),
      );
    }
    return out;
  }

  private roleRules(kind: string, namespace: string, name: string): SourcedRule[] {
    if (kind === 'ClusterRole') return this.clusterRoleRules(name);
    const role = this.find('roles', namespace, name);
    return (Array.isArray(role?.rules) ? role.rules : []).map((r, index) => ({ rule: toRule(r), index }));
  }

  /**
   * Visits every (binding, subject, rule) that applies to `user` in `namespace`
   * ('' = cluster scope only), ClusterRoleBindings first.
   */
  private visit(user: UserInfo, namespace: string, visitor: (match: RuleMatch, rule: PolicyRule, describe: () => string) => void): void {
    const bindings: [StoredKubeObject, 'ClusterRoleBinding' | 'RoleBinding'][] = this.objects('clusterrolebindings').map((b) => [
      b,
      'ClusterRoleBinding',
    ]);
    if (namespace) for (const b of this.objects('rolebindings', namespace)) bindings.push([b, 'RoleBinding']);
    for (const [binding, bindingKind] of bindings) {
      const bindingNs = binding.metadata.namespace ?? '';
      const subject = (Array.isArray(binding.subjects) ? binding.subjects : []).find((s) => subjectMatches(s, user, bindingNs));
      if (!isObject(subject)) continue;
      const ref = isObject(binding.roleRef) ? binding.roleRef : {};
      const roleKind = ref.kind === 'Role' ? 'Role' : 'ClusterRole';
      const roleName = String(ref.name ?? '');
      for (const { rule, index, source } of this.roleRules(roleKind, bindingNs, roleName)) {
        const match: RuleMatch = {
          bindingKind,
          bindingName: binding.metadata.name,
          ...(bindingKind === 'RoleBinding' ? { bindingNamespace: bindingNs } : {}),
          roleKind,
          roleName,
          ...(roleKind === 'Role' ? { roleNamespace: bindingNs } : {}),
          ruleIndex: index,
          ...(source ? { aggregatedFrom: source } : {}),
        };
        const bindingLabel = bindingKind === 'RoleBinding' ? `${binding.metadata.name}/${bindingNs}` : binding.metadata.name;
        visitor(
          match,
          rule,
          () => `${bindingKind} "${bindingLabel}" of ${roleKind} "${roleName}" to ${describeSubject(subject, bindingNs)}`,
        );
      }
    }
  }

  /** Authorizes one request. */
  authorize(attrs: RequestAttributes): AuthzDecision {
    if (attrs.user.groups.includes('system:masters')) {
      return { allowed: true, reason: 'member of system:masters (RBAC bypassed)', allMatches: [] };
    }
    const allMatches: RuleMatch[] = [];
    let reason = '';
    this.visit(attrs.user, attrs.resourceRequest ? attrs.namespace : '', (match, rule, describe) => {
      if (!ruleAllows(attrs, rule)) return;
      if (allMatches.length === 0) reason = `RBAC: allowed by ${describe()}`;
      allMatches.push(match);
    });
    return { allowed: allMatches.length > 0, reason, matched: allMatches[0], allMatches };
  }

  /** Every rule that applies to `user` in `namespace` (SelfSubjectRulesReview). */
  rulesFor(user: UserInfo, namespace: string): PolicyRule[] {
    if (user.groups.includes('system:masters')) {
      return [
        { verbs: ['*'], apiGroups: ['*'], resources: ['*'], resourceNames: [], nonResourceURLs: [] },
        { verbs: ['*'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['*'] },
      ];
    }
    const rules: PolicyRule[] = [];
    this.visit(user, namespace, (_match, rule) => rules.push(rule));
    return rules;
  }
}

/** 403 message body of the real authorization filter (forbiddenMessage). */
export function forbiddenReason(attrs: RequestAttributes): string {
  const user = attrs.user.username;
  if (!attrs.resourceRequest) return `User "${user}" cannot ${attrs.verb} path "${attrs.path}"`;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  if (attrs.namespace)
    return `User "${user}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.apiGroup}" in the namespace "${attrs.namespace}"`;
  return `User "${user}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.apiGroup}" at the cluster scope`;
}

/** Bootstrap policy a fresh cluster has (subset of kube-apiserver's bootstrappolicy). */
export function bootstrapPolicy(): object[] {
  const clusterRole = (name: string, rules: object[]) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    rules,
  });
  const clusterRoleBinding = (name: string, groups: string[]) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name },
    subjects: groups.map((g) => ({ apiGroup: RBAC, kind: 'Group', name: g })),
  });
  const discoveryUrls = [
    '/api',
    '/api/*',
    '/apis',
    '/apis/*',
    '/healthz',
    '/livez',
    '/openapi',
    '/openapi/*',
    '/readyz',
    '/version',
    '/version/',
  ];
  return [
    clusterRole('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    clusterRoleBinding('cluster-admin', ['system:masters']),
    clusterRole('system:discovery', [{ nonResourceURLs: discoveryUrls, verbs: ['get'] }]),
    clusterRoleBinding('system:discovery', ['system:authenticated']),
    clusterRole('system:public-info-viewer', [
      { nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] },
    ]),
    clusterRoleBinding('system:public-info-viewer', ['system:authenticated', 'system:unauthenticated']),
    clusterRole('system:basic-user', [
      { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
    ]),
    clusterRoleBinding('system:basic-user', ['system:authenticated']),
  ];
}
