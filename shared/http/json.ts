// JSON over HTTP for the admin APIs of both planes: bounded body reading, JSON answers,
// failures as { error, message } with a status.
import type http from 'node:http';

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A JSON object body ({} when empty); over `limit` bytes → 413, anything but an object → 400. */
export async function readJson(req: http.IncomingMessage, limit = 64 * 1024): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new HttpError(413, 'BodyTooLarge', `JSON bodies are limited to ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  if (n === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'MalformedJSON', 'The request body is not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'MalformedJSON', 'The request body must be a JSON object');
  return v as Record<string, any>;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}
