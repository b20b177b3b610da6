import { isDnsSubdomain } from '../kube/object-names.js';
import { Annotations } from './metadata.js';
import { parseVersionedName } from './names.js';

/**
 * The opt-in of a Secret that rotation policies read besides their own: a `tls` generator's
 * issuer, a postgresql backend's admin credential. rotate may read most Secrets of the cluster;
 * without the opt-in, whoever may write a policy on one Secret could make rotate sign a CA
 * with another Secret's key, or hand another Secret's admin password to a host of their choice
 * (a confused deputy). So the referenced Secret must name who may use it, and for what:
 *
 * ```yaml
 * metadata:
 *   name: internal-ca
 *   annotations:
 *     secret-steward.io/allow-references: "api-tls:issuer, mesh-intermediate:issuer-ca"
 * ```
 *
 * The value is a list of `<secret>:<use>` entries separated by commas or white space; `<secret>`
 * is the name of the referring Secret (the one carrying the policy) in the same namespace, or
 * `*` for every Secret of the namespace; a versioned Secret (`api-tls-v3`) is also named by its
 * base name (`api-tls`), which every version shares. Uses:
 *
 * - `issuer`: a `tls` generator may sign leaf certificates with the CA kept in this Secret;
 * - `issuer-ca`: it may also sign sub-CAs (`ca: true`), which get pathLenConstraint 0
 *   (implies `issuer`);
 * - `admin`: a backend may log in with the credential kept in this Secret (postgresql's
 *   `adminSecretRef`).
 *
 * A malformed annotation allows nothing. Templates read only their own Secret's keys, so they
 * need no opt-in.
 */

export const REFERENCE_USES = ['issuer', 'issuer-ca', 'admin'] as const;
/** What a policy reads another Secret for. */
export type ReferenceUse = (typeof REFERENCE_USES)[number];

/** What each use lets a policy do, in words for errors and docs. */
export const REFERENCE_USE_MEANING: Record<ReferenceUse, string> = {
  issuer: 'sign certificates with its CA',
  'issuer-ca': 'sign sub-CA certificates (ca: true) with its CA',
  admin: 'log in to a backend with its credential',
};

/** Uses that a grant of each use also allows. */
const IMPLIED: Record<ReferenceUse, readonly ReferenceUse[]> = { issuer: [], 'issuer-ca': ['issuer'], admin: [] };

/** A Secret that a plug-in reads for a policy, declared by the plug-in (`references`). */
export interface SecretReference {
  /** The referenced Secret's name (same namespace as the policy). */
  secret: string;
  use: ReferenceUse;
  /** Where the policy names it, relative to the plug-in's spec (`['issuer', 'secret']`). */
  path: ReadonlyArray<string | number>;
}

/** One entry of the annotation: `secret` is a Secret name or `*`. */
export interface ReferenceGrant {
  secret: string;
  use: ReferenceUse;
}

const ENTRY = /^([^:\s]+):([^:\s]+)$/;

/** Parses the annotation's value; every malformed entry is a problem. */
export function parseAllowReferences(text: string): { grants: ReferenceGrant[] } | { problems: string[] } {
  const entries = text
    .split(/[\s,]+/)
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return { problems: [`is empty (expected entries such as "api-tls:issuer" or "*:admin")`] };
  const grants: ReferenceGrant[] = [];
  const problems: string[] = [];
  for (const entry of entries) {
    const m = ENTRY.exec(entry);
    const shown = JSON.stringify(entry.slice(0, 80));
    if (m === null) {
      problems.push(`entry ${shown} is not <secret>:<use> (e.g. api-tls:issuer; * for every Secret of the namespace)`);
      continue;
    }
    const [, secret, use] = m;
    if (secret !== '*' && !isDnsSubdomain(secret)) problems.push(`entry ${shown}: "${secret.slice(0, 80)}" is not a Secret name or *`);
    else if (!(REFERENCE_USES as readonly string[]).includes(use))
      problems.push(`entry ${shown}: unknown use "${use.slice(0, 40)}" (one of ${REFERENCE_USES.join(', ')})`);
    else grants.push({ secret, use: use as ReferenceUse });
  }
  return problems.length > 0 ? { problems } : { grants };
}

/** The Secret whose policy reads another: its name, and whether its strategy is versioned. */
export interface Referrer {
  name: string;
  versioned: boolean;
}

/**
 * The names a grant may give `referrer` by: its own, and for a versioned Secret its base name
 * (`api-tls` for `api-tls-v3`), which every version shares; the first is the one to suggest.
 */
export function grantNames(referrer: Referrer): string[] {
  if (!referrer.versioned) return [referrer.name];
  const { base } = parseVersionedName(referrer.name);
  return base === referrer.name ? [base] : [base, referrer.name];
}

/** True when `grants` let `referrer` read the Secret for `use`. */
export function allowsReference(grants: readonly ReferenceGrant[], referrer: Referrer, use: ReferenceUse): boolean {
  const names = grantNames(referrer);
  return grants.some((g) => (g.secret === '*' || names.includes(g.secret)) && (g.use === use || IMPLIED[g.use].includes(use)));
}

/** The Secret a policy references, as seen by whoever checks the opt-in. */
export interface ReferencedSecret {
  namespace: string;
  name: string;
  /** Its annotations (only `allow-references` is read). */
  annotations: Readonly<Record<string, string>> | undefined;
}

/**
 * Why `referrer` (a Secret of the same namespace) may not read `target` for `use`, naming both
 * Secrets and the exact annotation to add; undefined when it may. Never says anything of the
 * Secret's data.
 */
export function referenceRefusal(target: ReferencedSecret, referrer: Referrer, use: ReferenceUse): string | undefined {
  const raw = target.annotations?.[Annotations.allowReferences];
  const entry = `${grantNames(referrer)[0]}:${use}`;
  const ns = target.namespace;
  const what = `Secret ${ns}/${target.name} does not allow Secret ${ns}/${referrer.name} to use it as ${use} (${REFERENCE_USE_MEANING[use]})`;
  if (raw === undefined) return `${what}: add the annotation ${Annotations.allowReferences}: "${entry}" to Secret ${ns}/${target.name}`;
  const parsed = parseAllowReferences(raw);
  if ('problems' in parsed)
    return `${what}: its ${Annotations.allowReferences} annotation is malformed, so it allows nothing (${parsed.problems.join('; ')}); write it as "${entry}"`;
  if (allowsReference(parsed.grants, referrer, use)) return undefined;
  return `${what}: add ${entry} to its ${Annotations.allowReferences} annotation (now ${JSON.stringify(raw.slice(0, 200))})`;
}
