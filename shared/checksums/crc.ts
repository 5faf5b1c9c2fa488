// The CRC functions behind every checksum Fedgate computes or checks, each from the fastest
// implementation that loads here (bench/README.md, "CRC implementations"):
// - CRC-32C and CRC64NVME: aws-crt's native checksums (AWS's Common Runtime, the aws-checksums
//   C library: SSE4.2 / PCLMULQDQ on x86-64, CRC instructions on arm64). On the 2-core EPYC
//   build machine: CRC-32C 16–18 GiB/s against @node-rs/crc32's 3.1–4.5, CRC64NVME 1.45 GiB/s
//   against the AWS SDK's JavaScript 0.28. Every read from an untrusted backend is checked
//   against its CRC-32C, so this is CPU on every byte a GET moves.
// - CRC-32: @node-rs/crc32 (8.2–9.0 GiB/s; node:zlib's crc32 2.7–2.9, aws-crt's 2.0).
// aws-crt is an optional dependency with prebuilt binaries for Linux (glibc, musl) on x86-64
// and arm64, macOS and Windows; where it does not load, CRC-32C falls back to @node-rs/crc32
// and CRC64NVME to @aws-sdk/crc64-nvme. Both give the same values (test/unit/crc.test.ts).
import { createRequire } from 'node:module';
import { crc32 as nodeRsCrc32, crc32c as nodeRsCrc32c } from '@node-rs/crc32';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';

// Module functions that do not use `this`: crc32c can be handed on as it is.
type CrtChecksums = {
  crc32c: (data: Uint8Array, previous?: number) => number;
  crc64nvme(data: Uint8Array, previous?: DataView): DataView;
};

function loadCrt(): CrtChecksums | null {
  try {
    // The checksums module alone: aws-crt's index would also load its MQTT / HTTP / websocket code.
    const mod = createRequire(import.meta.url)('aws-crt/dist/native/checksums.js') as CrtChecksums;
    // A binary that loads but computes wrong values must not go unnoticed: check the standard vectors.
    const nine = Buffer.from('123456789');
    if (mod.crc32c(nine, 0) !== 0xe3069283) return null;
    const v = mod.crc64nvme(nine);
    if (Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') !== 'ae8b14860a799888') return null;
    return mod;
  } catch {
    return null;
  }
}

const crt = loadCrt();

/** Which implementation computes CRC-32C and CRC64NVME in this process (logged at start). */
export const CRC_IMPLEMENTATION: 'aws-crt' | '@node-rs/crc32 + @aws-sdk/crc64-nvme' = crt ? 'aws-crt' : '@node-rs/crc32 + @aws-sdk/crc64-nvme';

type Crc = (data: Uint8Array, previous?: number) => number;

/** CRC-32 (IEEE) of `data`, continuing from `previous` (0 or absent to start). */
export const crc32: Crc = nodeRsCrc32;

/** CRC-32C (Castagnoli) of `data`, continuing from `previous` (0 or absent to start). */
export const crc32c: Crc = crt ? crt.crc32c : nodeRsCrc32c;

/** The portable CRC-32C, for comparing the native one with (tests). */
export const portableCrc32c: Crc = nodeRsCrc32c;

/** A running CRC64NVME; digest() gives the 8 bytes big-endian, as in x-amz-checksum-crc64nvme. */
export interface Crc64 {
  update(data: Uint8Array): void;
  digest(): Promise<Buffer>;
}

class CrtCrc64 implements Crc64 {
  private state: DataView | undefined;
  private readonly c: CrtChecksums;
  constructor(c: CrtChecksums) {
    this.c = c;
  }
  update(data: Uint8Array): void {
    this.state = this.state ? this.c.crc64nvme(data, this.state) : this.c.crc64nvme(data);
  }
  async digest(): Promise<Buffer> {
    const s = this.state ?? this.c.crc64nvme(new Uint8Array(0));
    return Buffer.from(s.buffer, s.byteOffset, s.byteLength);
  }
}

class PortableCrc64 implements Crc64 {
  private readonly c = new Crc64Nvme();
  update(data: Uint8Array): void {
    this.c.update(data);
  }
  async digest(): Promise<Buffer> {
    return Buffer.from(await this.c.digest());
  }
}

export function createCrc64(): Crc64 {
  return crt ? new CrtCrc64(crt) : new PortableCrc64();
}

/** The portable CRC64NVME, for comparing the native one with (tests). */
export function createPortableCrc64(): Crc64 {
  return new PortableCrc64();
}
