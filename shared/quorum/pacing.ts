// When may the quorum writer read the next chunk from the source?
//
// The source flows while every target it waits for has room (queue below the high
// water mark): the copies advance together, as in MinIO's or Ceph's replicated
// writes, and targets of equal speed stay in step. A target that, within one window,
// held the source back for more than half of the time *while at least W others had
// room* is marked lagging: it no longer paces the source, so the client proceeds at
// the speed of the W-th fastest target (the quorum the answer waits for), and the
// laggard either catches up (room again: it rejoins) or falls `maxLagBytes` behind
// and is cut loose by the writer. A short hiccup, or a slowdown that hits every
// target alike (a shared disk flushing), blames nobody.

export interface PacedTarget {
  /** Still writing (neither acked nor failed). */
  readonly active: boolean;
  /** Bytes queued for it and not yet taken by its driver. */
  readonly queued: number;
  lagging: boolean;
  /** Time (ms) in the current window during which it alone held the source back. */
  stallMs: number;
}

export interface PacerOptions {
  writeQuorum: number;
  highWater: number;
  /** Length of one blame window (ms). */
  windowMs: number;
  /** Share of a window a target may hold the source back before it is marked lagging. */
  stallShare?: number;
}

export class Pacer {
  private readonly w: number;
  private readonly highWater: number;
  private readonly windowMs: number;
  private readonly stallShare: number;
  private culprits: PacedTarget[] = [];
  private since = 0;
  private windowStart: number;

  constructor(opts: PacerOptions, now: number) {
    this.w = opts.writeQuorum;
    this.highWater = opts.highWater;
    this.windowMs = opts.windowMs;
    this.stallShare = opts.stallShare ?? 0.5;
    this.windowStart = now;
  }

  hasRoom(t: PacedTarget): boolean {
    return t.active && t.queued < this.highWater;
  }

  /** True when W targets can take more and no non-lagging target is full. */
  canFlow(targets: readonly PacedTarget[]): boolean {
    let room = 0;
    for (const t of targets) {
      if (!t.active) continue;
      if (this.hasRoom(t)) room++;
      else if (!t.lagging) return false;
    }
    return room >= this.w;
  }

  /**
   * Charge the time since the last call to whoever alone held the source back, and
   * note who does now. Call on every pause / resume decision and on every tick.
   */
  account(targets: readonly PacedTarget[], paused: boolean, now: number): void {
    const dt = now - this.since;
    for (const t of this.culprits) t.stallMs += dt;
    this.since = now;
    this.culprits = [];
    if (!paused) return;
    let room = 0;
    for (const t of targets) if (this.hasRoom(t)) room++;
    if (room < this.w) return; // the majority is full too: nobody in particular is slow
    for (const t of targets) {
      if (t.active && !t.lagging && !this.hasRoom(t)) this.culprits.push(t);
    }
  }

  /** At most once per window: mark the targets that stalled too long; let caught-up ones rejoin. */
  review(targets: readonly PacedTarget[], now: number): void {
    for (const t of targets) {
      if (t.lagging && this.hasRoom(t)) t.lagging = false;
    }
    if (now - this.windowStart < this.windowMs) return;
    const limit = (now - this.windowStart) * this.stallShare;
    for (const t of targets) {
      if (t.active && !t.lagging && t.stallMs > limit) t.lagging = true;
      t.stallMs = 0;
    }
    this.windowStart = now;
  }
}
