// Trailing headers of aws-chunked bodies: what x-amz-trailer announces, how the
// trailer section is signed, and how the trailing checksum is checked
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html,
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
import type { IncomingHttpHeaders } from 'node:http';
import { algorithmFromHeader, digestLength } from '../../shared/checksums/index.ts';
import type { ChecksumAlgorithm, Hasher } from '../../shared/checksums/index.ts';
import { checksumBadDigest, invalidTrailerValue, malformedTrailer, signatureDoesNotMatch, trailerNotSupported } from './errors.ts';
import { sha256Hex, signHex, signaturesEqual } from './signing.ts';
import type { SigningContext } from './signing.ts';

export const TRAILER_SIGNATURE = 'x-amz-trailer-signature';

export interface DeclaredTrailer {
  /** Lower-case trailer name, e.g. 'x-amz-checksum-crc32'. */
  header: string;
  algorithm: ChecksumAlgorithm;
}

export interface TrailerChecksum {
  algorithm: ChecksumAlgorithm;
  value: string;
}

/**
 * The checksum trailer x-amz-trailer announces, or null when there is none. S3 takes
 * exactly one x-amz-checksum-* trailer; anything else is refused before the body is read.
 */
export function declaredTrailer(headers: IncomingHttpHeaders): DeclaredTrailer | null {
  const raw = headers['x-amz-trailer'];
  const value = (Array.isArray(raw) ? raw.join(',') : raw ?? '').trim().toLowerCase();
  if (value === '') return null;
  const algorithm = value.includes(',') ? undefined : algorithmFromHeader(value);
  if (algorithm === undefined) throw trailerNotSupported();
  return { header: value, algorithm };
}

/** Trailer fields collected from the trailer section, in the order received. */
export class TrailerFields {
  readonly fields: Array<[string, string]> = [];
  signature: string | null = null;

  /** Adds one `name:value` line (CR/LF already stripped). */
  add(line: string): void {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedTrailer();
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === TRAILER_SIGNATURE) {
      if (this.signature !== null) throw malformedTrailer();
      this.signature = value;
      return;
    }
    if (this.fields.some(([n]) => n === name)) throw malformedTrailer();
    this.fields.push([name, value]);
  }

  /** The trailer block that x-amz-trailer-signature signs: `name:value\n` per field. */
  canonical(): string {
    let out = '';
    for (const [name, value] of this.fields) out += `${name}:${value}\n`;
    return out;
  }
}

/**
 * x-amz-trailer-signature = HMAC(kSigning, "AWS4-HMAC-SHA256-TRAILER\n" + date + "\n" +
 * scope + "\n" + previous (final chunk) signature + "\n" + hex(SHA256(trailer block))).
 */
export function verifyTrailerSignature(trailers: TrailerFields, signing: SigningContext, previousSignature: string): void {
  if (trailers.signature === null) throw signatureDoesNotMatch();
  const toSign = `AWS4-HMAC-SHA256-TRAILER\n${signing.amzDate}\n${signing.scope}\n${previousSignature}\n${sha256Hex(trailers.canonical())}`;
  if (!signaturesEqual(signHex(signing.key, toSign), trailers.signature)) throw signatureDoesNotMatch();
}

/**
 * Checks the trailer section against x-amz-trailer and the checksum computed over the
 * decoded bytes. A declared trailer that never came, or a trailer nobody declared, is
 * MalformedTrailerError; a value that is not base64 of the right length is
 * InvalidRequest; a well-formed value that differs is BadDigest.
 */
export async function verifyTrailerChecksum(
  trailers: TrailerFields, declared: DeclaredTrailer | null, hasher: Hasher | null,
): Promise<TrailerChecksum | null> {
  if (declared === null) {
    if (trailers.fields.length > 0) throw malformedTrailer();
    return null;
  }
  if (trailers.fields.length !== 1 || trailers.fields[0][0] !== declared.header || hasher === null) throw malformedTrailer();
  const value = trailers.fields[0][1];
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== digestLength(declared.algorithm) || bytes.toString('base64') !== value) {
    throw invalidTrailerValue(declared.header);
  }
  const computed = (await hasher.digest()).toString('base64');
  if (computed !== value) throw checksumBadDigest(declared.algorithm);
  return { algorithm: declared.algorithm, value };
}
