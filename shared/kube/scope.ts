import { booleanSetting, customSetting, type SettingsOf, settingLabel, ValueError } from '../config/options.js';
import type { ConfigProblem } from '../errors/index.js';
import { isDnsLabel } from './object-names.js';

/**
 * Where an installation may work: the whole cluster (the default installation, manifests/base:
 * ClusterRoles), or only the namespaces an operator listed (manifests/overlays/namespaced: a
 * Role and RoleBinding in each of them, no ClusterRole touching Secrets). With a namespace list
 * a job lists and reads one namespace at a time and never asks for all namespaces, so that it
 * needs no cluster-wide right; a 403 in a listed namespace stays an error (the installation is
 * misbound), never a namespace quietly left out.
 */
export type Scope = { kind: 'cluster' } | { kind: 'namespaces'; namespaces: readonly string[] };

export const scopeSettings = {
  scopeNamespaces: customSetting({
    description:
      'The namespaces this installation works in, comma-separated (the namespaced installation, manifests/overlays/namespaced). The job then lists and reads Secrets and workloads one namespace at a time, only there, and a namespace given to it otherwise (--namespace, --map-namespace) must be one of them. Default: cluster-wide.',
    valueName: 'NAMESPACE,...',
    group: 'Kubernetes access',
    parse: (raw: string): string[] => {
      const names = raw
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '');
      if (names.length === 0 || !names.every(isDnsLabel)) throw new ValueError('comma-separated namespace names, e.g. payments,web');
      return [...new Set(names)];
    },
  }),
} as const;

export type ScopeSettings = SettingsOf<typeof scopeSettings>;

const SCOPE_LABEL = settingLabel('scopeNamespaces', scopeSettings.scopeNamespaces);

export function scopeOf(s: ScopeSettings): Scope {
  return s.scopeNamespaces === undefined ? { kind: 'cluster' } : { kind: 'namespaces', namespaces: s.scopeNamespaces };
}

/** `cluster-wide`, or `namespaces payments, web`: how status and logs name a scope. */
export function describeScope(scope: Scope): string {
  return scope.kind === 'cluster' ? 'cluster-wide' : `namespaces ${scope.namespaces.join(', ')}`;
}

/** True when `namespace` is one the scope covers. */
export function inScope(scope: Scope, namespace: string): boolean {
  return scope.kind === 'cluster' || scope.namespaces.includes(namespace);
}

/**
 * The namespaces a job lists: its own filter (`--namespace`) when given, else those of the
 * scope; empty means every namespace (one cluster-wide list), which only a cluster-wide scope
 * yields.
 */
export function namespacesToList(filter: readonly string[], scope: Scope): string[] {
  if (filter.length > 0) return [...filter];
  return scope.kind === 'cluster' ? [] : [...scope.namespaces];
}

/**
 * Problems for namespaces a job was asked to work in that the scope does not cover: such a
 * namespace would only meet a 403, so the run refuses to start and says which setting to change.
 * `what` names where they came from, e.g. `--namespace / SECRET_STEWARD_NAMESPACE`.
 */
export function outOfScopeProblems(scope: Scope, namespaces: readonly string[], what: string): ConfigProblem[] {
  if (scope.kind === 'cluster') return [];
  const outside = [...new Set(namespaces.filter((n) => !scope.namespaces.includes(n)))];
  if (outside.length === 0) return [];
  return [
    {
      setting: what,
      message: `${outside.length === 1 ? 'namespace' : 'namespaces'} ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} outside ${SCOPE_LABEL} (${scope.namespaces.join(', ')}): the installation has no rights there; add ${outside.length === 1 ? 'it' : 'them'} to the scope and bind the job's Role there (docs/installation-namespaced.md)`,
    },
  ];
}

/**
 * `-A, --all-namespaces` of a command that takes `-n`: every namespace (of --scope-namespaces when
 * given), which is what the command does without `-n`; spelled out for kubectl habits and for
 * scripts that say what they mean. Unlike kubectl, which lets -A win over -n, both together are a
 * configuration error: a rotation or a restore must not quietly widen to every namespace.
 */
export function allNamespacesSetting<const G extends string>(group: G) {
  return booleanSetting({
    short: 'A',
    description: 'Every namespace (of --scope-namespaces when given), as without --namespace; not with --namespace.',
    default: false,
    group,
  });
}

/** The problem when `-A` and `-n` are both given. */
export function allNamespacesProblems(s: { allNamespaces: boolean; namespace: readonly string[] }, label: string): ConfigProblem[] {
  return s.allNamespaces && s.namespace.length > 0 ? [{ setting: label, message: 'not with --namespace (-A is every namespace)' }] : [];
}
