/** Small HTTP helpers: bounded body reading and JSON/Status responses. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Status } from './errors.js';
import { KubeApiError, requestEntityTooLarge } from './errors.js';

/** Reads the whole request body; 413 when it exceeds `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw requestEntityTooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw requestEntityTooLarge(limit);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Sends a JSON string. */
export function sendJson(res: ServerResponse, code: number, json: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
  res.end(json);
}

/** Sends a Status (error or success). */
export function sendStatus(res: ServerResponse, status: Status, headers: Record<string, string> = {}): void {
  sendJson(res, status.code, JSON.stringify(status), headers);
}

/** Sends a KubeApiError, or a 500 InternalError for anything else. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof KubeApiError) {
    const headers: Record<string, string> = {};
    if (err.status.details?.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.status.details.retryAfterSeconds);
    sendStatus(res, err.status, headers);
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  sendStatus(res, new KubeApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }).status);
}
