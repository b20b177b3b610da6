import type { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { TOOL_VERSION } from '../runtime/version.js';

/**
 * Longest `fieldManager` the API server accepts (`FieldManagerMaxLength` in
 * k8s.io/apimachinery/pkg/apis/meta/v1/validation, checked by `ValidateFieldManager`).
 */
export const FIELD_MANAGER_MAX_LENGTH = 128;

/** Methods whose request creates or changes an object, so the API server records a manager. */
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * The `fieldManager` of every write a command makes, e.g. `secret-steward-rotate`: the name
 * `metadata.managedFields` shows for the fields the command set. The API server refuses a
 * manager longer than 128 characters or with a non-printable character (`ValidateFieldManager`);
 * command names are ours, so breaking that rule is a programming error, thrown at once.
 */
export function fieldManagerFor(command: string): string {
  const manager = `secret-steward-${command}`;
  if (manager.length > FIELD_MANAGER_MAX_LENGTH || !/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u.test(manager)) {
    throw new Error(`not a valid fieldManager (at most ${FIELD_MANAGER_MAX_LENGTH} printable characters): ${JSON.stringify(manager)}`);
  }
  return manager;
}

/**
 * The User-Agent of every API request, in kubectl's shape (`kubectl/v1.32.4 (linux/amd64)
 * kubernetes/<commit>`): `secret-steward/0.2.0 (linux/x64) rotate`, so the API server's audit
 * log names the tool, its version and the command. Only visible ASCII and spaces, as an HTTP
 * header value must be.
 */
export function userAgentFor(
  command: string,
  version: string = TOOL_VERSION,
  platform: string = `${process.platform}/${process.arch}`,
): string {
  const agent = `secret-steward/${version} (${platform}) ${command}`;
  if (!/^[\x20-\x7e]+$/.test(agent)) throw new Error(`not a valid User-Agent (visible ASCII only): ${JSON.stringify(agent)}`);
  return agent;
}

/** Who a command's requests say they come from. */
export interface RequestIdentity {
  userAgent: string;
  fieldManager: string;
}

/** The identity of `secret-steward <command>`'s requests. */
export function requestIdentityFor(command: string): RequestIdentity {
  return { userAgent: userAgentFor(command), fieldManager: fieldManagerFor(command) };
}

/**
 * Stamps every request made with `kc` with `identity`: the User-Agent header, and on every write
 * (POST, PUT, PATCH) a `fieldManager` query parameter unless the call gave its own.
 *
 * It wraps `applySecurityAuthentication`, the one step every request path takes: the typed API
 * clients (through their auth method, see createKubeClients), the raw undici fast paths
 * (raw-request.ts) and watches (client-node's `Watch`). So no call site names a manager, and a
 * new write cannot forget one. Apply it once per KubeConfig.
 */
export function identifyRequests(kc: KubeConfig, identity: RequestIdentity): KubeConfig {
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context: RequestContext): Promise<void> => {
    await authenticate(context);
    context.setHeaderParam('User-Agent', identity.userAgent);
    if (WRITE_METHODS.has(context.getHttpMethod().toString()) && !new URL(context.getUrl()).searchParams.has('fieldManager')) {
      context.setQueryParam('fieldManager', identity.fieldManager);
    }
  };
  return kc;
}
