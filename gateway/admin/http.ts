// Argument checks for the admin API's JSON bodies.

// The plumbing is shared with the AI proxy's admin routes; `AdminError` is its error type.
export { HttpError as AdminError, readJson, sendJson } from '../../shared/http/json.ts';
import { HttpError as AdminError } from '../../shared/http/json.ts';

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
