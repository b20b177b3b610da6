import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of the Kubernetes API emulator that changes the object a successful
 * create answers with, as a client sees a mutating admission webhook. Upstream: a
 * MutatingWebhookConfiguration "may change the object" (staging/src/k8s.io/api/
 * admissionregistration/v1/types.go), and the create handler runs it on the decoded object
 * before storing it, then answers with what storage returned
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go, createHandler:
 * `mutatingAdmission.Admit(ctx, admissionAttributes, scope)`, then `requestFunc()` calling
 * `r.Create`, whose result is the response). The emulator has no mutating
 * admission (test/emulator/README.md); only the answer is changed here, which is what a client
 * checking the answer it gets can see.
 */
export async function mutatingProxy(
  target: string,
  mutate: (created: { metadata?: { name?: string }; data?: Record<string, string> }) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'content-type', 'accept']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
      const upstream = await fetch(new URL(req.url ?? '/', target), {
        method: req.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      let body = Buffer.from(await upstream.arrayBuffer());
      if (req.method === 'POST' && upstream.status === 201) {
        const created = JSON.parse(body.toString('utf8'));
        mutate(created);
        body = Buffer.from(JSON.stringify(created));
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(body);
    } catch (e) {
      res.writeHead(502);
      res.end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
