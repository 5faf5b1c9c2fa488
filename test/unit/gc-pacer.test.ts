// shared/observability/gc-pacer.ts: with the flags `npm start` runs Fedgate with, the dead
// 64 KiB Buffers of a large transfer are collected every 8 MiB instead of piling up until V8's
// own trigger. Measured in child processes, each with a fresh heap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startFlags } from '../helpers/start-flags.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const MiB = 1024 * 1024;

/**
 * 256 MiB moved as 64 KiB Buffers that die at once, as a proxied body's chunks do, each
 * reported to the pacer; the peak of Buffer memory still allocated, sampled every 1 MiB.
 */
function peakBufferMemory(flags: string[]): number {
  const pacer = pathToFileURL(path.join(ROOT, 'shared', 'observability', 'gc-pacer.ts')).href;
  const script = `
    import { transferred } from ${JSON.stringify(pacer)};
    let peak = 0;
    for (let i = 0; i < 4096; i++) {
      const chunk = Buffer.allocUnsafe(65536);
      chunk[0] = i;
      transferred(chunk.length);
      if (i % 16 === 0) {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
        await new Promise((r) => setImmediate(r));
      }
    }
    process.stdout.write(String(peak));`;
  return Number(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

test('with the start flags, a 256 MiB stream of dead chunks never holds more than 24 MiB of them; without --expose-gc they pile up', () => {
  const flags = startFlags();
  assert.ok(flags.includes('--expose-gc'), 'npm start no longer passes --expose-gc: the pacer does nothing');
  const paced = peakBufferMemory(flags);
  const unpaced = peakBufferMemory(flags.filter((f) => f !== '--expose-gc'));
  assert.ok(paced <= 24 * MiB, `paced peak ${(paced / MiB).toFixed(1)} MiB`);
  // The control: V8 alone lets them accumulate (~64 MiB and more), so the bound above is the pacer's doing.
  assert.ok(unpaced > 2 * paced && unpaced > 32 * MiB, `unpaced peak ${(unpaced / MiB).toFixed(1)} MiB, paced ${(paced / MiB).toFixed(1)} MiB`);
});
