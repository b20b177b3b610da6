/**
 * Classifies a request like k8s.io/apiserver's RequestInfoFactory: resource vs
 * non-resource, API group/version, namespace, resource, name, subresource and
 * the Kubernetes verb (list/watch for collection GETs, deletecollection...).
 */
import { parseFieldSelector, pinnedName } from './selectors.js';

export interface RequestInfo {
  resourceRequest: boolean;
  path: string;
  verb: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** `name` came from a `metadata.name=` field selector (list/watch), not the URL. */
  nameFromSelector: boolean;
}

const METHOD_VERBS: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const parts = path.split('/').filter((p) => p !== '');
  const info: RequestInfo = {
    resourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
    nameFromSelector: false,
  };
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    info.apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    info.apiGroup = parts[1];
    info.apiVersion = parts[2];
    rest = parts.slice(3);
  } else {
    return info;
  }
  if (rest.length === 0) return { ...info, apiGroup: info.apiGroup, apiVersion: info.apiVersion };
  info.resourceRequest = true;
  info.verb = METHOD_VERBS[method] ?? method.toLowerCase();
  if (rest[0] === 'namespaces' && rest.length > 1) {
    info.namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2])) rest = rest.slice(2);
  }
  info.resource = rest[0] ?? '';
  info.name = rest[1] ?? '';
  info.subresource = rest[2] ?? '';
  if (!info.name && info.verb === 'get') {
    const watch = query.get('watch');
    info.verb = watch === 'true' || watch === '1' ? 'watch' : 'list';
    try {
      const pinned = pinnedName(parseFieldSelector(query.get('fieldSelector')));
      if (pinned && !pinned.includes('/') && !pinned.includes('%')) {
        info.name = pinned;
        info.nameFromSelector = true;
      }
    } catch {
      // malformed selectors are reported by the list handler
    }
  }
  if (!info.name && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}
