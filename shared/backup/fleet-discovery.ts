import { booleanSetting, type Setting, stringSetting } from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import type { ObjectStore } from '../storage/index.js';
import { isValidClusterName } from './backup-layout.js';

/**
 * Fleet discovery: at a DR site, the clusters to drill, report or list are the cluster
 * prefixes found under the store root (`<store>/<cluster-name>/`, backup-layout.ts) instead of
 * a hand-kept `--fleet-cluster` list. One delimited listing of the store root, page by page.
 *
 * Anyone who can write to the bucket can create a prefix, so a prefix's name is a claim, not a
 * cluster: discovery keeps only names that are valid cluster names AND match one `--fleet-allow`
 * pattern (required with `--fleet-discover`). Every other prefix is counted and the first few
 * named (escaped) so an operator can see it, and nothing is done with it. An allowed prefix is
 * still only a name: a cluster is "fine" only when its backups and drills authenticate, so a
 * planted allowed prefix without a sealed backup fails its drill and is a `no-backup` problem in
 * `status`.
 *
 * Order: discovered clusters are sorted by name (S3's byte order, which is the listing's), so the
 * pods of one Indexed Job map the same index to the same cluster: index *i* drills the *i*-th.
 * An index at or beyond the number discovered has nothing to drill (verify-restore exits 0 and
 * says so); the Job's `completions` must be the number discovered, which `status` shows.
 */

const FLEET = 'Fleet (DR site)';

/** How many ignored prefixes are named in a report; the rest are only counted. */
export const IGNORED_NAMES_SHOWN = 5;

/** The discovery settings, the same in verify-restore, status and list-backups. */
export const fleetDiscoverySettings = {
  fleetDiscover: booleanSetting({
    description:
      "At a DR site: take the fleet from the cluster prefixes found under --store (<store>/<cluster-name>/), sorted by name, instead of --fleet-cluster; only names matching --fleet-allow are used, any other prefix is reported and ignored. verify-restore: the completion index picks the i-th cluster found, and an index beyond them has nothing to drill (exit 0); set the Job's completions to the number found (docs/dr-site.md).",
    default: false,
    group: FLEET,
  }),
  fleetAllow: stringSetting({
    description:
      'With --fleet-discover (required there): a glob the name of a discovered cluster must match to be used (repeatable; comma-separated in the variable; * any run of characters, ? one character; whole name). Whoever can write to the bucket can create prefixes: this list decides which ones are clusters.',
    valueName: 'GLOB',
    repeatable: true,
    pattern: /^[a-z0-9.*?-]{1,63}$/,
    expected: 'a glob over lower-case cluster names such as prod-* or staging-eu-?',
    group: FLEET,
  }),
} as const;

/** The settings a command with fleet discovery has, for {@link fleetDiscoveryProblems}. */
type FleetSpec = typeof fleetDiscoverySettings & { fleetCluster: Setting<string>; clusterName: Setting<string> };

/** --fleet-discover needs --fleet-allow and excludes --fleet-cluster and --cluster-name; --fleet-allow needs --fleet-discover. */
export function fleetDiscoveryProblems<S extends FleetSpec>(
  spec: S,
  s: { fleetDiscover: boolean; fleetAllow: readonly string[]; fleetCluster: readonly string[]; clusterName?: string | undefined },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!s.fleetDiscover) {
    if (s.fleetAllow.length > 0) problems.push(problemFor(spec, 'fleetAllow', 'needs --fleet-discover'));
    return problems;
  }
  if (s.fleetAllow.length === 0)
    problems.push(
      problemFor(
        spec,
        'fleetAllow',
        'is required with --fleet-discover (GLOB, e.g. prod-*): anyone who can write to the bucket can create a prefix, so discovery uses only the names allowed here',
      ),
    );
  if (s.fleetCluster.length > 0)
    problems.push(problemFor(spec, 'fleetCluster', 'cannot be given with --fleet-discover: list the fleet or discover it'));
  if (s.clusterName !== undefined)
    problems.push(problemFor(spec, 'clusterName', 'cannot be given with --fleet-discover: give one cluster or the fleet'));
  return problems;
}

/** What discovery found under the store root. */
export interface FleetDiscovery {
  /** The allowed cluster names, sorted: index i of a fleet drill drills `clusters[i]`. */
  clusters: string[];
  /** Prefixes not used: not a valid cluster name, or not allowed by --fleet-allow. */
  ignored: {
    count: number;
    /** The first {@link IGNORED_NAMES_SHOWN} of them, as JSON strings (a planted name may hold anything). */
    first: string[];
  };
}

/**
 * Lists the store root once (delimited, paginated by the store) and keeps the prefixes whose
 * name is a valid cluster name matching one of `allow` (globs; see {@link fleetDiscoverySettings}).
 * Throws the store's `StorageError` when the listing fails: a fleet that cannot be listed is not
 * an empty fleet.
 */
export async function discoverFleet(store: ObjectStore, allow: readonly string[]): Promise<FleetDiscovery> {
  const patterns = allow.map(globRegExp);
  const clusters: string[] = [];
  const ignored: FleetDiscovery['ignored'] = { count: 0, first: [] };
  for await (const prefix of store.listPrefixes('')) {
    const name = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    if (isValidClusterName(name) && patterns.some((p) => p.test(name))) clusters.push(name);
    else {
      ignored.count++;
      if (ignored.first.length < IGNORED_NAMES_SHOWN) ignored.first.push(JSON.stringify(name.slice(0, 80)));
    }
  }
  // The listing's order already is byte order; sort anyway, so the index mapping never rests on a store's listing order.
  clusters.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { clusters, ignored };
}

/** `3 prefix(es) under s3://b/p not allowed by --fleet-allow, ignored: "x", "y", "z"`, or undefined when none. */
export function ignoredPrefixesNote(d: FleetDiscovery, location: string): string | undefined {
  if (d.ignored.count === 0) return undefined;
  const more = d.ignored.count > d.ignored.first.length ? ', ...' : '';
  return `${d.ignored.count} prefix(es) under ${location} not allowed by --fleet-allow (or not a cluster name), ignored: ${d.ignored.first.join(', ')}${more}`;
}

/** A glob over a whole name: `*` any run of characters, `?` one; everything else literal. */
export function globRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.\\^$+()[\]{}|-]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}
