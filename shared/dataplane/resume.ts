// A read that survives the death of the replica it streams from: when the body breaks off
// (reset, timeout, premature end), the rest is asked of the next replica with a ranged GET from
// the first byte not yet delivered, and the client's stream carries on as if nothing happened.
// Full replicas hold the same bytes, so any of them can continue where another stopped; the
// whole-chunk check (verify.ts) sits outside this stream and covers the bytes of every replica.
import { finished, Readable } from 'node:stream';

/** Opens the bytes from `offset` (relative to the start of the read) on another replica. */
export type Resume = (offset: number, why: Error) => Promise<Readable>;

export class ResumingRead extends Readable {
  private source!: Readable;
  private delivered = 0;
  private readonly length: number;
  private readonly continueAt: Resume;
  private stopSource: () => void = () => {};

  /** `first` answers the read's `length` bytes; `resume` continues it elsewhere after a break. */
  constructor(first: Readable, length: number, resume: Resume) {
    super();
    this.length = length;
    this.continueAt = resume;
    this.attach(first);
  }

  private attach(source: Readable): void {
    this.source = source;
    const onData = (piece: Buffer) => {
      this.delivered += piece.length;
      if (this.delivered > this.length) {
        this.destroy(new Error(`a replica sent more than the ${this.length} bytes asked for`));
        return;
      }
      if (!this.push(piece)) source.pause();
    };
    source.on('data', onData);
    const cleanup = finished(source, (err) => {
      cleanup();
      source.off('data', onData);
      if (this.destroyed) return;
      if (!err && this.delivered === this.length) this.push(null);
      else this.breakOff(err ?? new Error(`the answer ended after ${this.delivered} of ${this.length} bytes`));
    });
    this.stopSource = () => {
      cleanup();
      source.off('data', onData);
      source.destroy();
    };
  }

  private breakOff(why: Error): void {
    this.stopSource();
    this.continueAt(this.delivered, why).then(
      (next) => {
        if (this.destroyed) next.destroy();
        else this.attach(next);
      },
      (e: Error) => this.destroy(e),
    );
  }

  override _read(): void {
    if (this.source.isPaused()) this.source.resume();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.stopSource();
    cb(err);
  }
}
