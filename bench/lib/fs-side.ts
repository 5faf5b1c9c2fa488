// The plain-file baseline for Fedgate over its local-disk backends: a PUT is the
// same bytes written to three files in parallel, each fsync'ed (the durability the
// local-disk driver promises before it acknowledges), a GET is one file read.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Side } from './s3-targets.ts';

async function writeDurably(file: string, data: Buffer): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** `dirs` are three directories standing in for three disks. */
export async function fsSide(dirs: string[]): Promise<Side> {
  for (const d of dirs) await mkdir(d, { recursive: true });
  return {
    name: 'plain fs',
    async put(key, data) {
      await Promise.all(dirs.map((d) => writeDurably(path.join(d, key), data)));
    },
    async get(key, i) {
      const file = path.join(dirs[i % dirs.length], key);
      // Small files in one read (what an application would do), large ones streamed.
      const { size } = await stat(file);
      if (size <= 1024 * 1024) return [await readFile(file)];
      return createReadStream(file, { highWaterMark: 1024 * 1024 });
    },
  };
}
