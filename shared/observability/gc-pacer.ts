// Keeps the memory of large transfers flat. Every socket read is a fresh 64 KiB Buffer whose
// memory is returned only when V8 collects the young generation, and V8 does that when the JS
// heap fills, which a stream of Buffers barely touches: dead chunks pile up to ~64 MiB (V8's
// external-memory trigger) before a collection frees them — during every large GET or PUT.
// When the process runs with --expose-gc (npm start, the Dockerfile), a minor collection after
// every 8 MiB moved caps that at about 8 MiB for the cost of a young-generation scavenge (well under
// a millisecond: a scavenge costs what is still alive, not the size of the young generation).
// Without the flag this does nothing.
const collect = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc;

const STEP_BYTES = 8 * 1024 * 1024;
let moved = 0;

/** Account `bytes` that passed through the process in a transfer. */
export function transferred(bytes: number): void {
  if (!collect) return;
  moved += bytes;
  if (moved < STEP_BYTES) return;
  moved = 0;
  collect({ type: 'minor' });
}
