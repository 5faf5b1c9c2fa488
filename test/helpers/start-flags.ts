// The node flags `npm start` runs Fedgate with: package.json's `start` script is their one
// source. The benchmark's gateway child and the tests read them from there; the Dockerfile
// and docker-compose.yml repeat them (test/unit/start-flags.test.ts checks they agree).
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export function startFlags(root = ROOT): string[] {
  const start: unknown = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts?.start;
  if (typeof start !== 'string') throw new Error('package.json has no start script');
  const words = start.trim().split(/\s+/);
  if (words[0] !== 'node') throw new Error(`unexpected start script: ${start}`);
  return words.slice(1).filter((w) => w.startsWith('--'));
}
