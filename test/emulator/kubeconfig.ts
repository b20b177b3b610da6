/**
 * kubeconfig files pointing at the emulator (plain http, so no TLS settings).
 * Note: kubectl does not send bearer tokens over plain http; its requests are
 * anonymous (admin by default). @kubernetes/client-node does send them, but
 * only accepts an http server when `insecure-skip-tls-verify: true` is set,
 * which these kubeconfigs always do.
 */
import { stringify } from 'yaml';

/** Options of {@link kubeconfigYaml}. */
export interface KubeconfigOptions {
  /** Bearer token of the user; none when omitted (anonymous). */
  token?: string;
  /** Name of the user entry. @default 'emulator-user' */
  user?: string;
  /** Default namespace of the context. @default 'default' */
  namespace?: string;
  /** Name of the context (and cluster entry). @default 'emulator' */
  context?: string;
}

/** A kubeconfig (YAML) with one cluster, user and context, selected as current. */
export function kubeconfigYaml(server: string, opts: KubeconfigOptions = {}): string {
  const context = opts.context ?? 'emulator';
  const user = opts.user ?? 'emulator-user';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // client-node 2.x refuses http:// servers unless insecure-skip-tls-verify is set; kubectl ignores it for http.
    clusters: [{ name: context, cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: opts.token ? { token: opts.token } : {} }],
    contexts: [{ name: context, context: { cluster: context, user, namespace: opts.namespace ?? 'default' } }],
    'current-context': context,
    preferences: {},
  });
}
