import { ApiException, HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { type Dispatcher, request } from 'undici';

/**
 * Streams one container's log (`GET pods/{name}/log?follow=true`) to `write` until the container
 * ends (the server then ends the answer) or `signal` aborts. Authentication is the kubeconfig's
 * own, as in raw-request.ts; a refusal (403, 400 "waiting to start", 404) is thrown as client-node's
 * ApiException, for KubeCaller to convert. The log is the container's own output: it is passed
 * through unchanged, never parsed.
 */
export async function followPodLog(
  kc: KubeConfig,
  pod: { namespace: string; name: string; container: string },
  write: (chunk: Buffer) => void,
  signal?: AbortSignal,
): Promise<void> {
  const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/log`;
  const url = `${kc.getCurrentCluster()?.server ?? ''}${path}?container=${encodeURIComponent(pod.container)}&follow=true`;
  const ctx = new RequestContext(url, HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const res = await request(ctx.getUrl(), {
    method: 'GET',
    headers: ctx.getHeaders(),
    dispatcher: ctx.getDispatcher() as Dispatcher | undefined,
    signal,
  });
  if (res.statusCode < 200 || res.statusCode >= 300) {
    const text = await res.body.text();
    throw new ApiException(res.statusCode, `GET ${path}`, text, {});
  }
  for await (const chunk of res.body) write(chunk as Buffer);
}
