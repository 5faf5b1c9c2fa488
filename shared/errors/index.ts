// An error that carries an S3-style code, raised below the gateway (data plane,
// workers) and mapped onto the S3 error catalog by the gateway.
export class CodedError extends Error {
  readonly code: string;
  constructor(code: string, message?: string) {
    super(message ?? code);
    this.name = 'CodedError';
    this.code = code;
  }
}
