// A read that survives the death of the replica it streams from: when the body breaks off
// (reset, timeout, premature end), the rest is asked of the next replica with a ranged GET from
// the first byte not yet delivered, and the client's stream carries on as if nothing happened.
// Full replicas hold the same bytes, so any of them can continue where another stopped; the
// whole-chunk check (verify.ts) sits outside this stream and covers the bytes of every replica.
// An answer of the wrong length (one that ends cleanly too soon, or goes on past the bytes asked
// for: the provider's copy is shorter or longer than what was written) is the replica's own
// fault, not the connection's: it is reported as such, and the read carries on all the same.
import { finished, Readable } from 'node:stream';
import { ReplicaMismatchError } from './verify.ts';

/** Opens the bytes from `offset` (relative to the start of the read) on another replica. */
export type Resume = (offset: number, why: Error) => Promise<Readable>;

export class ResumingRead extends Readable {
  private source!: Readable;
  private delivered = 0;
  private readonly length: number;
  private readonly continueAt: Resume;
  private readonly onWrongLength: (why: string) => void;
  private stopSource: () => void = () => {};

  /**
   * `first` answers the read's `length` bytes; `resume` continues it elsewhere after a break;
   * `onWrongLength` hears of a replica whose answer had the wrong length, before it is left.
   */
  constructor(first: Readable, length: number, resume: Resume, onWrongLength: (why: string) => void) {
    super();
    this.length = length;
    this.continueAt = resume;
    this.onWrongLength = onWrongLength;
    this.attach(first);
  }

  private attach(source: Readable): void {
    this.source = source;
    const onData = (piece: Buffer) => {
      if (this.delivered + piece.length > this.length) {
        this.breakOff(new ReplicaMismatchError(`the replica sent more than the ${this.length} bytes asked for`));
        return;
      }
      this.delivered += piece.length;
      if (!this.push(piece)) source.pause();
    };
    source.on('data', onData);
    const cleanup = finished(source, (err) => {
      cleanup();
      source.off('data', onData);
      if (this.destroyed) return;
      if (err) this.breakOff(err);
      else if (this.delivered === this.length) this.push(null);
      else this.breakOff(new ReplicaMismatchError(`the replica's answer ended after ${this.delivered} of ${this.length} bytes`));
    });
    this.stopSource = () => {
      cleanup();
      source.off('data', onData);
      source.destroy();
    };
  }

  private breakOff(why: Error): void {
    this.stopSource();
    if (why instanceof ReplicaMismatchError) this.onWrongLength(why.message);
    // Every byte asked for is out (a longer answer): nothing is left to ask another replica for.
    if (this.delivered === this.length) {
      this.push(null);
      return;
    }
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
