import { ApiException, HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { type Dispatcher, request } from 'undici';
import { StewardError } from '../errors/index.js';

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
  return readJson(method, path, await send(kc, method, path, body));
}

/**
 * A GET whose answer is parsed with `JSON.parse` only, as {@link sendJson}: for lists, whose
 * typed form costs a walk of every object by client-node's ObjectSerializer (and a second copy
 * of every page) on the backup's, the drill's and restore's paths.
 *
 * @param path the API path with its query string, as for {@link sendDiscardingAnswer}.
 */
export async function getJson(kc: KubeConfig, path: string): Promise<unknown> {
  return readJson('GET', path, await send(kc, 'GET', path, undefined));
}

/**
 * The answer's JSON. A body that does not parse is reported by its size only: JSON.parse's own
 * message quotes the text around the fault, which in a Secret's answer is its data.
 */
async function readJson(method: string, path: string, res: Dispatcher.ResponseData): Promise<unknown> {
  const text = await res.body.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new StewardError(
      `${method} ${path.split('?')[0]}: the API server answered ${res.statusCode} with ${text.length} characters that are not JSON`,
    );
  }
}

/** The request, with the kubeconfig's authentication; throws ApiException unless it answers 2xx. */
async function send(
  kc: KubeConfig,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body: string | Uint8Array | undefined,
): Promise<Dispatcher.ResponseData> {
  const url = `${kc.getCurrentCluster()?.server ?? ''}${path}`;
  const ctx = new RequestContext(url, HttpMethod[method]);
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
