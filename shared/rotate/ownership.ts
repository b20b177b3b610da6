/**
 * Secrets that belong to someone else. Rotating them would fight their controller (which
 * rewrites them) or break what they store, so they are skipped with a reason, whatever
 * policy annotation they carry. The rules follow the markers each tool sets (REFERENCE.md §5).
 */

/** The parts of a Secret the rules look at. */
export interface OwnedObject {
  type?: string;
  metadata?: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>;
  };
}

interface Rule {
  /** Who manages it, e.g. `External Secrets`. */
  manager: string;
  /** The marker found, e.g. `label reconcile.external-secrets.io/managed`; undefined when absent. */
  match: (s: Required<NonNullable<OwnedObject['metadata']>> & { type: string }) => string | undefined;
}

const has = (m: Record<string, string>, key: string) => Object.hasOwn(m, key);

const RULES: readonly Rule[] = [
  {
    manager: 'Kubernetes (service-account token)',
    match: (s) => (s.type === 'kubernetes.io/service-account-token' ? `type ${s.type}` : undefined),
  },
  {
    manager: 'Kubernetes (bootstrap token)',
    match: (s) => (s.type === 'bootstrap.kubernetes.io/token' ? `type ${s.type}` : undefined),
  },
  {
    manager: 'Helm (release storage)',
    match: (s) => (s.type === 'helm.sh/release.v1' ? `type ${s.type}` : s.labels.owner === 'helm' ? 'label owner=helm' : undefined),
  },
  {
    manager: 'External Secrets',
    match: (s) =>
      has(s.labels, 'reconcile.external-secrets.io/managed')
        ? 'label reconcile.external-secrets.io/managed'
        : has(s.annotations, 'reconcile.external-secrets.io/data-hash')
          ? 'annotation reconcile.external-secrets.io/data-hash'
          : s.ownerReferences.some((o) => o.kind === 'ExternalSecret')
            ? 'ownerReference kind ExternalSecret'
            : undefined,
  },
  {
    manager: 'Vault Secrets Operator',
    match: (s) =>
      s.labels['app.kubernetes.io/managed-by'] === 'hashicorp-vso' ? 'label app.kubernetes.io/managed-by=hashicorp-vso' : undefined,
  },
  {
    manager: 'sealed-secrets',
    match: (s) =>
      s.ownerReferences.some((o) => o.kind === 'SealedSecret')
        ? 'ownerReference kind SealedSecret'
        : has(s.annotations, 'sealedsecrets.bitnami.com/managed')
          ? 'annotation sealedsecrets.bitnami.com/managed'
          : has(s.labels, 'sealedsecrets.bitnami.com/sealed-secrets-key')
            ? 'label sealedsecrets.bitnami.com/sealed-secrets-key'
            : undefined,
  },
  {
    manager: 'cert-manager',
    match: (s) =>
      has(s.annotations, 'cert-manager.io/certificate-name')
        ? 'annotation cert-manager.io/certificate-name'
        : has(s.labels, 'controller.cert-manager.io/fao')
          ? 'label controller.cert-manager.io/fao'
          : undefined,
  },
  {
    manager: 'mittwald kubernetes-secret-generator',
    match: (s) => {
      const key = Object.keys(s.annotations).find((k) => k.startsWith('secret-generator.v1.mittwald.de/'));
      return key === undefined ? undefined : `annotation ${key}`;
    },
  },
  {
    manager: 'Reloader opt-out',
    match: (s) =>
      (s.annotations['reloader.stakater.com/ignore'] ?? '').toLowerCase() === 'true'
        ? 'annotation reloader.stakater.com/ignore=true'
        : undefined,
  },
  {
    manager: 'a controller',
    match: (s) => {
      const owner = s.ownerReferences.find((o) => o.controller === true);
      return owner === undefined ? undefined : `controller ownerReference ${owner.kind ?? '?'}/${owner.name ?? '?'}`;
    },
  },
];

/**
 * Why this Secret must not be rotated by us, e.g.
 * `managed by External Secrets (label reconcile.external-secrets.io/managed)`; undefined when
 * nothing marks it as someone else's.
 */
export function foreignManager(secret: OwnedObject): string | undefined {
  const view = {
    type: secret.type ?? '',
    labels: secret.metadata?.labels ?? {},
    annotations: secret.metadata?.annotations ?? {},
    ownerReferences: secret.metadata?.ownerReferences ?? [],
  };
  for (const rule of RULES) {
    const marker = rule.match(view);
    if (marker !== undefined) return `managed by ${rule.manager} (${marker})`;
  }
  return undefined;
}
