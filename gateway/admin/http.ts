// Minimal JSON plumbing for the admin API: bounded body reading, JSON answers,
// errors as { error, message }.
import type http from 'node:http';

export class AdminError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function readJson(req: http.IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new AdminError(413, 'BodyTooLarge', `JSON bodies are limited to ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  if (n === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminError(400, 'MalformedJSON', 'The request body is not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new AdminError(400, 'MalformedJSON', 'The request body must be a JSON object');
  return v as Record<string, unknown>;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

export function str(body: Record<string, unknown>, name: string, opts: { required?: boolean; pattern?: RegExp; max?: number } = {}): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new AdminError(400, 'InvalidArgument', `"${name}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new AdminError(400, 'InvalidArgument', `"${name}" must be a string`);
  if (opts.max !== undefined && v.length > opts.max) throw new AdminError(400, 'InvalidArgument', `"${name}" is longer than ${opts.max} characters`);
  if (opts.pattern && !opts.pattern.test(v)) throw new AdminError(400, 'InvalidArgument', `"${name}" must match ${opts.pattern}`);
  return v;
}
