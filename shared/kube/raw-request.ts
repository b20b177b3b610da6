import { ApiException, HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { type Dispatcher, request } from 'undici';

/**
 * Largest answer {@link sendDiscardingAnswer} reads to its end (two drill batches of 64 MiB, the
 * largest allowed); a longer one closes its connection instead.
 */
const DISCARD_LIMIT = 256 * 1024 * 1024;

/**
 * Sends one API request with a plain undici request and reads the answer to its end without
 * parsing it: for calls whose answer is not used and carries the data of every Secret it names
 * (a create's echo of the object, a deletecollection's list of what it deleted). It skips
 * client-node's generic layers (request context, middleware, serialising the typed object,
 * parsing and deserialising the whole answer), which cost several times the CPU of the request
 * itself (`npm run bench` measures the drill, which makes one create per Secret on a one-CPU pod).
 *
 * Authentication and TLS are the kubeconfig's own (`applySecurityAuthentication`: token, token
 * file, exec plugin or client certificate, and its shared dispatcher, see dispatcher-cache.ts),
 * and a failure is thrown as client-node's ApiException, so KubeCaller converts and retries it
 * exactly like every other call.
 *
 * @param path the API path with its query string, e.g. `/api/v1/namespaces/ns/secrets?dryRun=All`,
 *   appended to the cluster's server URL (with any path prefix) as client-node does.
 */
export async function sendDiscardingAnswer(kc: KubeConfig, method: 'POST' | 'DELETE', path: string, body?: string): Promise<void> {
  const res = await send(kc, method, path, body);
  // Read to the end without keeping it, so that the connection is reused.
  await res.body.dump({ limit: DISCARD_LIMIT });
}

/**
 * {@link sendDiscardingAnswer} for a call whose answer is used: the answer is parsed with
 * `JSON.parse` only, not walked by client-node's ObjectSerializer, so it is the API server's
 * JSON as it is (dates are strings, unknown fields kept); the caller makes it the typed object
 * it promises.
 */
export async function sendJson(kc: KubeConfig, method: 'POST', path: string, body: string | Uint8Array): Promise<unknown> {
  const res = await send(kc, method, path, body);
  return res.body.json();
}

/** The request, with the kubeconfig's authentication; throws ApiException unless it answers 2xx. */
async function send(
  kc: KubeConfig,
  method: 'POST' | 'DELETE',
  path: string,
  body: string | Uint8Array | undefined,
): Promise<Dispatcher.ResponseData> {
  const url = `${kc.getCurrentCluster()?.server ?? ''}${path}`;
  const ctx = new RequestContext(url, method === 'POST' ? HttpMethod.POST : HttpMethod.DELETE);
  ctx.setHeaderParam('Accept', 'application/json');
  if (body !== undefined) ctx.setHeaderParam('Content-Type', 'application/json');
  await kc.applySecurityAuthentication(ctx);
  const res = await request(ctx.getUrl(), {
    method,
    headers: ctx.getHeaders(),
    body,
    dispatcher: ctx.getDispatcher() as Dispatcher | undefined,
  });
  if (res.statusCode >= 200 && res.statusCode < 300) return res;
  const text = await res.body.text();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  throw new ApiException(res.statusCode, `${method} ${new URL(url).pathname}`, text, headers);
}
