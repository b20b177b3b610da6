/**
 * Discovery documents: /version, /api, /api/v1, /apis, /apis/<g>/<v>
 * (legacy, non-aggregated discovery; clients fall back to it).
 */

import type { ResourceType } from './resources.js';
import { ALL_SERVED, apiGroups, RESOURCES, resourcesOf, type Served } from './resources.js';

/** /version. `gitVersion` is what kubectl (and gcloud's kubectl dispatcher) read. */
export function versionInfo(): object {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0',
    gitCommit: 'emulator',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.4',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/** /api: APIVersions. */
export function coreVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

/** /apis: APIGroupList. */
export function groupList(served: Served = ALL_SERVED): object {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: apiGroups(served).map(({ name, version }) => {
      const gv = { groupVersion: `${name}/${version}`, version };
      return { name, versions: [gv], preferredVersion: gv };
    }),
  };
}

/** /apis/<group>: APIGroup, or undefined when unknown. */
export function group(name: string, served: Served = ALL_SERVED): object | undefined {
  const found = apiGroups(served).find((g) => g.name === name);
  if (!found) return undefined;
  const gv = { groupVersion: `${name}/${found.version}`, version: found.version };
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: [gv], preferredVersion: gv };
}

const SUBRESOURCE_VERBS = ['get', 'patch', 'update'];

function resourceEntries(rt: ResourceType): object[] {
  const main: Record<string, unknown> = {
    name: rt.plural,
    singularName: rt.singular,
    namespaced: rt.namespaced,
    kind: rt.kind,
    verbs: rt.verbs,
  };
  if (rt.shortNames.length > 0) main.shortNames = rt.shortNames;
  if (rt.categories.length > 0) main.categories = rt.categories;
  const subs = rt.subresources.map((sub) =>
    sub === 'scale'
      ? {
          name: `${rt.plural}/scale`,
          singularName: '',
          namespaced: rt.namespaced,
          group: 'autoscaling',
          version: 'v1',
          kind: 'Scale',
          verbs: SUBRESOURCE_VERBS,
        }
      : { name: `${rt.plural}/${sub}`, singularName: '', namespaced: rt.namespaced, kind: rt.kind, verbs: SUBRESOURCE_VERBS },
  );
  return [main, ...subs];
}

/** /api/v1 or /apis/<g>/<v>: APIResourceList, or undefined when unknown. */
export function resourceList(groupName: string, version: string, served: Served = ALL_SERVED): object | undefined {
  const resources = resourcesOf(groupName, version, served);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupName ? `${groupName}/${version}` : version,
    resources: resources.flatMap(resourceEntries),
  };
}

/** Every group/version served, as `api/v1` / `apis/apps/v1` paths. */
export function groupVersionPaths(served: Served = ALL_SERVED): string[] {
  const seen = new Set<string>();
  for (const r of RESOURCES) if (served(r)) seen.add(r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`);
  return [...seen];
}
