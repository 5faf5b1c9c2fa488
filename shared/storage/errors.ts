// Errors the storage layer raises besides BlobNotFoundError (types.ts). They carry an
// S3-style `code` so the gateway can map them without knowing this layer's classes.

/**
 * A body delivered a different number of bytes than announced. The gateway answers
 * `IncompleteBody` ("You did not provide the number of bytes specified by the
 * Content-Length HTTP header", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
 */
export class IncompleteBodyError extends Error {
  readonly code = 'IncompleteBody';
  readonly expected: number;
  /** Bytes seen so far: less than `expected` for a short body, more for a long one. */
  readonly received: number;
  constructor(expected: number, received: number) {
    super(
      received < expected
        ? `body ended after ${received} of ${expected} bytes`
        : `body is longer than the ${expected} bytes announced (got at least ${received})`,
    );
    this.name = 'IncompleteBodyError';
    this.expected = expected;
    this.received = received;
  }
}

/** A backend made no progress for `timeoutMs` (paused process, dead peer, black-holed route). */
export class BackendTimeoutError extends Error {
  readonly code = 'BackendTimeout';
  constructor(backend: string, what: string, timeoutMs: number) {
    super(`backend ${backend}: ${what} made no progress for ${timeoutMs} ms`);
    this.name = 'BackendTimeoutError';
  }
}

/** A bucket or key the driver refuses to map to a path or URL (traversal, NUL, separators). */
export class InvalidLocatorError extends Error {
  readonly code = 'InvalidLocator';
  constructor(what: string, value: string) {
    super(`invalid ${what}: ${JSON.stringify(value)}`);
    this.name = 'InvalidLocatorError';
  }
}

/** A short description of any thrown value, for logs and QuorumResult.failed (never a stack). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${typeof code === 'string' && !err.message.includes(code) ? `${code}: ` : ''}${err.message}${cause}`;
  }
  return String(err);
}
