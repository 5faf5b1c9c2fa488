// CRC combination: the CRC of A‖B from crc(A), crc(B) and len(B) alone, without the
// bytes. S3 needs it for FULL_OBJECT multipart checksums (CRC32, CRC32C, CRC64NVME),
// where the object's checksum is the CRC of the whole object although every part was
// hashed on its own ("Checking object integrity", full object checksums for multipart
// uploads: https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
//
// Method: zlib's crc32_combine (crc32.c, multmodp / x2nmodp): in the reflected bit order,
// crc(A‖B) = crc(A) · x^(8·len(B)) mod P  ⊕  crc(B). The all-ones init and final XOR of
// these CRCs cancel out in that identity, so it holds for the finished values. Generic over
// any reflected polynomial of width ≤ 64; BigInt keeps one code path for 32 and 64 bits.

export interface ReflectedCrcSpec {
  /** Width in bits (32 or 64 here). */
  width: number;
  /** The polynomial in reflected (LSB-first) form, e.g. 0xEDB88320 for CRC-32. */
  poly: bigint;
}

/** Reflected polynomials: CRC-32 (ISO-HDLC), CRC-32C (Castagnoli), CRC-64/NVME. */
export const CRC_SPECS = {
  CRC32: { width: 32, poly: 0xedb88320n },
  CRC32C: { width: 32, poly: 0x82f63b78n },
  CRC64NVME: { width: 64, poly: 0x9a6c9329ac4bc9b5n },
} as const satisfies Record<string, ReflectedCrcSpec>;

export type CombinableAlgorithm = keyof typeof CRC_SPECS;

export function isCombinable(alg: string): alg is CombinableAlgorithm {
  return Object.hasOwn(CRC_SPECS, alg);
}

/** a·b mod P, both polynomials in reflected form (the top bit is x^0). */
function multModP(spec: ReflectedCrcSpec, a: bigint, b: bigint): bigint {
  let m = 1n << BigInt(spec.width - 1);
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    if (m === 0n) break;
    b = b & 1n ? (b >> 1n) ^ spec.poly : b >> 1n;
  }
  return p;
}

/** x^(2^k) mod P for k = 0 … width-1: the powers x2nmodp multiplies together. */
export function powerTable(spec: ReflectedCrcSpec): bigint[] {
  const t: bigint[] = [1n << BigInt(spec.width - 2)]; // x^1
  for (let k = 1; k < spec.width; k++) t.push(multModP(spec, t[k - 1], t[k - 1]));
  return t;
}

/** x^(n·2^k) mod P. The powers of x cycle with period dividing 2^width - 1, so k wraps. */
function x2nModP(spec: ReflectedCrcSpec, table: readonly bigint[], n: bigint, k: number): bigint {
  let p = 1n << BigInt(spec.width - 1); // x^0
  while (n > 0n) {
    if (n & 1n) p = multModP(spec, table[k % spec.width], p);
    n >>= 1n;
    k++;
  }
  return p;
}

/** crc(A‖B) from crc(A), crc(B) and the byte length of B. */
export function crcCombine(spec: ReflectedCrcSpec, crcA: bigint, crcB: bigint, lengthB: number | bigint, table: readonly bigint[] = powerTable(spec)): bigint {
  if (BigInt(lengthB) === 0n) return crcA ^ crcB; // crc of nothing is 0
  // x^(8·len) = x^(len·2^3)
  return multModP(spec, x2nModP(spec, table, BigInt(lengthB), 3), crcA) ^ crcB;
}

function toBigInt(digest: Uint8Array): bigint {
  let v = 0n;
  for (const byte of digest) v = (v << 8n) | BigInt(byte);
  return v;
}

function toBytes(v: bigint, width: number): Buffer {
  const out = Buffer.alloc(width / 8);
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * The full-object CRC of parts laid end to end, from each part's big-endian digest (as in
 * `x-amz-checksum-*`, base64-decoded) and byte length. Returns the big-endian digest.
 * The CRC of nothing is 0 for all three algorithms.
 */
export function combineCrcDigests(alg: CombinableAlgorithm, parts: readonly { digest: Uint8Array; length: number }[]): Buffer {
  const spec = CRC_SPECS[alg];
  const table = powerTable(spec);
  let acc = 0n;
  let first = true;
  for (const part of parts) {
    if (part.digest.length !== spec.width / 8) throw new RangeError(`${alg} digest must be ${spec.width / 8} bytes`);
    const crc = toBigInt(part.digest);
    acc = first ? crc : crcCombine(spec, acc, crc, part.length, table);
    first = false;
  }
  return toBytes(acc, spec.width);
}
