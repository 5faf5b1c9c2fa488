// Envelope encryption of stored secrets (docs: PRODUCT.md §5.2). Each secret gets
// a fresh 256-bit data key; the secret is sealed with AES-256-GCM under the data
// key and the data key is wrapped with AES-256-GCM under the master key, each
// with its own random 96-bit nonce (NIST SP 800-38D §8.2.2: random IVs are safe
// far beyond the number of secrets a gateway stores). Rotation re-wraps only the
// data key; the sealed secret bytes are untouched.
//
// Sealed format (ASCII, dot-separated, base64url without padding):
//   v1.<keyId>.<wrapNonce>.<wrappedDataKey‖tag>.<dataNonce>.<ciphertext‖tag>
// The wrap is bound (AAD) to the version and keyId; the ciphertext to the
// version and the caller's context, so a secret sealed for `access-key:A` does
// not open as `access-key:B`.
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export interface Vault {
  /** `context` is authenticated (AAD), e.g. 'access-key:AKID'; the same context is needed to open. */
  seal(plaintext: string | Buffer, context?: string): string;
  /** Throws on tampering, a wrong context or a secret sealed under another master key. */
  open(sealed: string, context?: string): Buffer;
  /** Master-key rotation: re-wraps the data key under `next`'s master key; the ciphertext is unchanged. */
  rewrap(sealed: string, next: Vault): string;
  /** Fingerprint of the master key (not the key). */
  readonly keyId: string;
}

const VERSION = 'v1';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

// Lets one vault ask another to wrap a data key without exposing master keys.
// Only vaults made by createVault carry it.
const WRAP = Symbol('fedgate.vault.wrap');

interface WrappingVault extends Vault {
  [WRAP](dataKey: Buffer): { nonce: Buffer; wrapped: Buffer };
}

export class VaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultError';
  }
}

// One message for every failure of open(): which check failed is no business of
// whoever handed us the string.
const OPEN_FAILED = 'vault: cannot open sealed secret (malformed, tampered with, wrong master key or wrong context)';

function b64(buf: Buffer): string {
  return buf.toString('base64url');
}

/** Strict base64url: Node's decoder skips invalid characters and ignores trailing bits, so re-encode and compare. */
function unb64(text: string, expectedLength?: number): Buffer {
  const buf = Buffer.from(text, 'base64url');
  if (b64(buf) !== text) throw new VaultError(OPEN_FAILED);
  if (expectedLength !== undefined && buf.length !== expectedLength) throw new VaultError(OPEN_FAILED);
  return buf;
}

function encrypt(key: KeyObject | Buffer, plaintext: Buffer, aad: string): { nonce: Buffer; sealed: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, sealed };
}

function decrypt(key: KeyObject | Buffer, nonce: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < TAG_BYTES) throw new VaultError(OPEN_FAILED);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new VaultError(OPEN_FAILED);
  }
}

const wrapAad = (keyId: string) => `fedgate-vault/${VERSION}/wrap/${keyId}`;
const dataAad = (context: string) => `fedgate-vault/${VERSION}/data/${context}`;

interface Envelope {
  keyId: string;
  wrapNonce: Buffer;
  wrapped: Buffer;
  dataNonce: string;
  ciphertext: string;
}

function parse(sealed: string): Envelope {
  if (typeof sealed !== 'string') throw new VaultError(OPEN_FAILED);
  const parts = sealed.split('.');
  if (parts.length !== 6 || parts[0] !== VERSION) throw new VaultError(OPEN_FAILED);
  const [, keyId, wrapNonce, wrapped, dataNonce, ciphertext] = parts;
  unb64(dataNonce, NONCE_BYTES);
  unb64(ciphertext);
  return {
    keyId,
    wrapNonce: unb64(wrapNonce, NONCE_BYTES),
    wrapped: unb64(wrapped, KEY_BYTES + TAG_BYTES),
    dataNonce,
    ciphertext,
  };
}

/** Fingerprint: domain-separated SHA-256 of the key, truncated; identifies, never reveals. */
function fingerprint(masterKey: Buffer): string {
  return createHash('sha256').update('fedgate-vault/key-id/v1\0').update(masterKey).digest('hex').slice(0, 16);
}

export function createVault(masterKey: Buffer): Vault {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== KEY_BYTES) {
    throw new VaultError(`vault: the master key must be exactly ${KEY_BYTES} bytes`);
  }
  const keyId = fingerprint(masterKey);
  // A KeyObject holds its own copy, so the caller may wipe its buffer.
  const master = createSecretKey(Buffer.from(masterKey));

  function unwrap(env: Envelope): Buffer {
    if (env.keyId !== keyId) throw new VaultError(OPEN_FAILED);
    return decrypt(master, env.wrapNonce, env.wrapped, wrapAad(keyId));
  }

  const vault: WrappingVault = {
    keyId,

    [WRAP](dataKey: Buffer) {
      const { nonce, sealed } = encrypt(master, dataKey, wrapAad(keyId));
      return { nonce, wrapped: sealed };
    },

    seal(plaintext: string | Buffer, context = ''): string {
      const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
      const dataKey = randomBytes(KEY_BYTES);
      try {
        const body = encrypt(dataKey, data, dataAad(context));
        const wrap = vault[WRAP](dataKey);
        return [VERSION, keyId, b64(wrap.nonce), b64(wrap.wrapped), b64(body.nonce), b64(body.sealed)].join('.');
      } finally {
        dataKey.fill(0);
      }
    },

    open(sealed: string, context = ''): Buffer {
      const env = parse(sealed);
      const dataKey = unwrap(env);
      try {
        return decrypt(dataKey, unb64(env.dataNonce, NONCE_BYTES), unb64(env.ciphertext), dataAad(context));
      } finally {
        dataKey.fill(0);
      }
    },

    rewrap(sealed: string, next: Vault): string {
      const target = next as Partial<WrappingVault>;
      if (typeof target[WRAP] !== 'function') throw new VaultError('vault: rewrap target must come from createVault');
      const env = parse(sealed);
      const dataKey = unwrap(env);
      try {
        const wrap = target[WRAP](dataKey);
        return [VERSION, next.keyId, b64(wrap.nonce), b64(wrap.wrapped), env.dataNonce, env.ciphertext].join('.');
      } finally {
        dataKey.fill(0);
      }
    },
  };
  return vault;
}
