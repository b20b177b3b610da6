/** Test helpers: raw HTTP calls against an emulator (no client library in the way). */
import type { KubeEmulator } from './server.js';

/** A decoded response. `body` is parsed JSON when the response was JSON. */
export interface RawResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  body: any;
  text: string;
}

export interface RawOptions {
  token?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Sends one request; `body` objects are JSON-encoded, strings sent as-is. */
export async function api(emu: KubeEmulator, method: string, path: string, body?: unknown, opts: RawOptions = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
  const res = await fetch(`${emu.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** A minimal Secret manifest. */
export function secret(
  name: string,
  data: Record<string, string> = { key: 'dmFsdWU=' },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, ...((extra.metadata as object) ?? {}) },
    data,
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
  };
}

/** A minimal Deployment manifest whose container reads `env`. */
export function deployment(
  name: string,
  opts: { replicas?: number; env?: unknown[]; volumes?: unknown[]; annotations?: Record<string, string>; paused?: boolean } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: {
      replicas: opts.replicas ?? 1,
      ...(opts.paused ? { paused: true } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'example/app:1', env: opts.env ?? [] }], volumes: opts.volumes ?? [] },
      },
    },
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 3000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
