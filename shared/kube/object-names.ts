/**
 * Kubernetes object naming rules (apimachinery's validation: DNS-1123 labels and subdomains,
 * ConfigMap/Secret data keys, qualified names of labels and annotations), checked offline.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** A DNS-1123 label: namespaces, and most names that become part of a DNS name. */
export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/** A DNS-1123 subdomain: the names of most objects, Secrets included. */
export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** Problems with a Secret data key, as the API phrases its rule. */
export function dataKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'is empty';
  if (key.length > 253) return 'is longer than 253 characters';
  if (!DATA_KEY.test(key)) return "may contain only letters, digits, '-', '_' and '.'";
  if (key === '.' || key === '..' || key.startsWith('..')) return "must not be '.' or '..' or start with '..'";
  return undefined;
}

/** Problems with a label or annotation key (an optional DNS-subdomain prefix, then a name), as the API phrases its rule. */
export function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return 'has a prefix that is not a DNS subdomain';
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name))
    return 'is not a qualified name (at most 63 letters, digits, -, _ or ., starting and ending with a letter or digit)';
  return undefined;
}
