// A StorageBackend on a local directory: `<root>/<bucket>/<key>`, one file per blob.
// Writes follow Garage's block manager (src/block/manager.rs, write_block): write
// `<file>.tmp-<rand>`, fsync it, rename it over the final name, fsync the directory,
// so a crash leaves either the old state or the whole blob — never a torn file under
// the final name (rename(2) is atomic within a filesystem; the directory fsync makes
// the new entry itself durable, see fsync(2) NOTES).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { addAbortSignal, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, type BackendHealth, type BlobLocator, type ByteRange, type StorageBackend } from '../types.ts';
import { describeError, InvalidLocatorError } from '../errors.ts';
import { ExactLength } from './exact-length.ts';

export interface LocalDiskOptions {
  name: string;
  root: string;
}

const TMP_MARK = '.tmp-';

/**
 * Bucket and key are single path components chosen by us (hashed names, chunk ids),
 * but a bug upstream must never turn into a write outside `root`: refuse separators,
 * NUL, dot-names and our own temp/probe naming.
 */
function checkComponent(what: string, v: string): string {
  if (
    typeof v !== 'string' ||
    v.length === 0 ||
    v.length > 255 ||
    v.startsWith('.') ||
    v.includes('/') ||
    v.includes('\\') ||
    v.includes('\0') ||
    v.includes(TMP_MARK)
  ) {
    throw new InvalidLocatorError(what, v);
  }
  return v;
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as { code?: string } | null)?.code ?? '');
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

class LocalDiskBackend implements StorageBackend {
  readonly name: string;
  private readonly root: string;

  constructor(opts: LocalDiskOptions) {
    this.name = opts.name;
    this.root = opts.root;
  }

  private bucketDir(bucket: string): string {
    return join(this.root, checkComponent('bucket', bucket));
  }

  private blobPath(loc: BlobLocator): string {
    return join(this.bucketDir(loc.bucket), checkComponent('key', loc.key));
  }

  async ensureBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    const dir = this.bucketDir(bucket);
    signal?.throwIfAborted();
    await mkdir(this.root, { recursive: true });
    try {
      await mkdir(dir);
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
      return;
    }
    await fsyncDir(this.root);
  }

  async deleteBucket(bucket: string, signal?: AbortSignal): Promise<void> {
    const dir = this.bucketDir(bucket);
    signal?.throwIfAborted();
    try {
      await rmdir(dir);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return;
      throw err;
    }
    await fsyncDir(this.root);
  }

  async put(loc: BlobLocator, body: Readable, size: number, signal?: AbortSignal): Promise<void> {
    let file: string;
    let guard: ExactLength;
    try {
      file = this.blobPath(loc);
      guard = new ExactLength(size);
      signal?.throwIfAborted();
    } catch (err) {
      body.destroy();
      throw err;
    }
    const dir = join(file, '..');
    const tmp = `${file}${TMP_MARK}${randomBytes(8).toString('hex')}`;
    // 'wx': never follow or reuse a file someone else created under the temp name.
    // `flush: true` fsyncs the file before its descriptor closes, and pipeline waits
    // for that close; it also applies backpressure end to end and destroys every
    // stage on error or abort, so a failed write never leaves the source flowing.
    const sink = createWriteStream(tmp, { flags: 'wx', flush: true });
    try {
      if (signal) await pipeline(body, guard, sink, { signal });
      else await pipeline(body, guard, sink);
      signal?.throwIfAborted();
      await rename(tmp, file);
    } catch (err) {
      body.destroy();
      sink.destroy();
      // The open may still be in flight: wait for the descriptor to close so the
      // temp file exists (or never will) before removing it.
      if (!sink.closed) await new Promise<void>((r) => sink.once('close', () => r()));
      await rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
    try {
      await fsyncDir(dir);
    } catch (err) {
      // Not durable means not stored: the contract promises nothing visible on failure.
      await rm(file, { force: true }).catch(() => {});
      throw err;
    }
  }

  async get(loc: BlobLocator, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const file = this.blobPath(loc);
    signal?.throwIfAborted();
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw new BlobNotFoundError(loc, this.name);
      throw err;
    }
    let start = 0;
    let end: number;
    try {
      const { size } = await fh.stat();
      end = size - 1;
      if (range) {
        if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
          throw new RangeError(`invalid range ${range.start}-${range.end}`);
        }
        if (range.start >= size) throw new RangeError(`range start ${range.start} is past the end of a ${size}-byte blob`);
        start = range.start;
        // As S3 does for `Range: bytes=a-b` with b past the end: serve up to the last byte.
        end = Math.min(range.end, size - 1);
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    if (end < start) {
      await fh.close();
      return Readable.from([]);
    }
    const stream = fh.createReadStream({ start, end, autoClose: true });
    return signal ? addAbortSignal(signal, stream) : stream;
  }

  async head(loc: BlobLocator, signal?: AbortSignal): Promise<{ size: number } | null> {
    const file = this.blobPath(loc);
    signal?.throwIfAborted();
    try {
      const st = await stat(file);
      return st.isFile() ? { size: st.size } : null;
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
  }

  async delete(loc: BlobLocator, signal?: AbortSignal): Promise<void> {
    const file = this.blobPath(loc);
    signal?.throwIfAborted();
    try {
      await unlink(file);
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) return;
      throw err;
    }
  }

  async *list(bucket: string, prefix = '', signal?: AbortSignal): AsyncIterable<{ key: string; size: number }> {
    const dir = this.bucketDir(bucket);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return;
      throw err;
    }
    // Sorted like an S3 listing (UTF-8 binary order equals code-unit order for our ASCII names).
    names.sort();
    for (const key of names) {
      signal?.throwIfAborted();
      if (key.startsWith('.') || key.includes(TMP_MARK) || !key.startsWith(prefix)) continue;
      try {
        const st = await stat(join(dir, key));
        if (st.isFile()) yield { key, size: st.size };
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err;
      }
    }
  }

  async health(signal?: AbortSignal): Promise<BackendHealth> {
    const t0 = performance.now();
    const probe = join(this.root, `.health-${randomBytes(8).toString('hex')}`);
    const expected = randomBytes(32);
    try {
      signal?.throwIfAborted();
      // A fresh backend has no root yet; ensureBucket would create it the same way.
      await mkdir(this.root, { recursive: true });
      await writeFile(probe, expected, { signal });
      const got = await readFile(probe, { signal });
      if (!got.equals(expected)) throw new Error('probe file read back different bytes');
      await unlink(probe);
      return { ok: true, rttMs: performance.now() - t0 };
    } catch (err) {
      await rm(probe, { force: true }).catch(() => {});
      return { ok: false, rttMs: performance.now() - t0, error: describeError(err) };
    }
  }

  async close(): Promise<void> {}
}

export function createLocalDiskBackend(opts: LocalDiskOptions): StorageBackend {
  if (!opts.root) throw new Error('local-disk backend needs a root directory');
  return new LocalDiskBackend(opts);
}
