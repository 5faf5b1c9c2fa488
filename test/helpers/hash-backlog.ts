// A large body from memory, far faster than one core's MD5, that notes the hash worker's
// backlog (shared/checksums/off-thread.ts) before handing out each block: tests use it to
// show that whoever feeds the worker holds the body back instead of queueing it.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { hashBacklogBytes } from '../../shared/checksums/off-thread.ts';

export function backlogWatchingBody(block: Buffer, count: number): { body: Readable; md5: string; size: number; peak(): number } {
  let peak = 0;
  const md5 = createHash('md5');
  for (let i = 0; i < count; i++) md5.update(block);
  const body = Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) {
        peak = Math.max(peak, hashBacklogBytes());
        yield block;
      }
    })(),
  );
  return { body, md5: md5.digest('hex'), size: count * block.length, peak: () => peak };
}
