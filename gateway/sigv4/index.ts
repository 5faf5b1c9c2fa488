// SigV4 verification of inbound S3 requests: authenticate() checks the request line and
// headers (or presigned query), createPayloadVerifier() checks the body as it streams.
//
// Signing-key cache: authenticate() takes an optional `keyCache`; createSigV4Verifier()
// bundles one bounded SigningKeyCache with a SecretLookup so a server creates it once
// at start-up and reuses derived keys across requests. Nothing is cached module-wide.
import { DEFAULT_MAX_SKEW_MS, authenticate } from './authenticate.ts';
import type { AuthResult, AuthenticateOptions, SecretLookup, SigV4Request } from './authenticate.ts';
import { createPayloadVerifier } from './payload-verifier.ts';
import { SigningKeyCache } from './signing.ts';

export { authenticate, DEFAULT_MAX_SKEW_MS } from './authenticate.ts';
export type { AuthResult, AuthenticateOptions, SecretLookup, SigV4Request } from './authenticate.ts';
export { SigV4Error } from './errors.ts';
export { createPayloadVerifier } from './payload-verifier.ts';
export type { PayloadVerifier } from './payload-verifier.ts';
export type { PayloadMode } from './payload-mode.ts';
export { SigningKeyCache } from './signing.ts';
export type { SigningContext } from './signing.ts';
export type { TrailerChecksum } from './trailer.ts';

export interface SigV4VerifierOptions {
  /** Allowed clock skew; default 15 minutes. */
  maxSkewMs?: number;
  /** Region the credential scope must name; any region when unset. */
  region?: string;
  /** Signing keys kept (one per secret, day and region); default 256. */
  keyCacheSize?: number;
}

export interface SigV4Verifier {
  authenticate(req: SigV4Request, opts?: { now?: Date }): Promise<AuthResult>;
  createPayloadVerifier: typeof createPayloadVerifier;
}

/** A verifier with its own signing-key cache, for a server to create once and share across requests. */
export function createSigV4Verifier(lookup: SecretLookup, options: SigV4VerifierOptions = {}): SigV4Verifier {
  const keyCache = new SigningKeyCache(options.keyCacheSize);
  const base: AuthenticateOptions = { maxSkewMs: options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS, region: options.region, keyCache };
  return {
    authenticate: (req, opts = {}) => authenticate(req, lookup, { ...base, now: opts.now }),
    createPayloadVerifier,
  };
}
