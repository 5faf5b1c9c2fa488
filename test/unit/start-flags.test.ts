// The node flags Fedgate runs with are package.json's `start` script; the Dockerfile and
// docker-compose.yml repeat them, and the runtime must accept every one of them. The image
// must also be able to write its data directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startFlags } from '../helpers/start-flags.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** The flags of every JSON-array `node ... bin/fedgate.ts <command>` command in `text`. */
function nodeCommands(text: string): { command: string; flags: string[] }[] {
  const out: { command: string; flags: string[] }[] = [];
  for (const m of text.matchAll(/\[\s*"node"((?:\s*,\s*"[^"]*")*)\s*\]/g)) {
    const words = [...m[1].matchAll(/"([^"]*)"/g)].map((w) => w[1]);
    const script = words.indexOf('bin/fedgate.ts');
    if (script < 0) continue;
    out.push({ command: words.slice(script + 1).join(' '), flags: words.slice(0, script) });
  }
  return out;
}

test('the Dockerfile and docker-compose.yml start Fedgate with the flags of npm start', () => {
  const flags = startFlags();
  assert.ok(flags.includes('--heap-growing-percent=100'), `npm start flags: ${flags.join(' ')}`);
  const docker = nodeCommands(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const compose = nodeCommands(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
  assert.deepEqual(docker.map((c) => c.command), ['serve']);
  assert.deepEqual(compose.map((c) => c.command), ['worker']);
  for (const c of [...docker, ...compose]) assert.deepEqual(c.flags, flags, `fedgate ${c.command}`);
});

test('the runtime accepts every start flag', () => {
  // Node refuses an unknown or malformed V8 flag ("bad option") with a non-zero exit.
  const out = execFileSync(process.execPath, [...startFlags(), '-e', 'process.stdout.write(typeof gc)'], { encoding: 'utf8' });
  assert.equal(out, 'function');
});

test('the image creates its data directory for the user it runs as, before declaring the volume', () => {
  // A named volume starts as a copy of the image's directory, owner included; a directory
  // VOLUME creates itself is root's, and `USER node` could not write the master key there.
  const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const index = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const dataDir = /FEDGATE_DATA_DIR=(\S+)/.exec(lines.find((l) => l.startsWith('ENV ') && l.includes('FEDGATE_DATA_DIR=')) ?? '')?.[1];
  const user = /^USER\s+(\S+)/.exec(lines.find((l) => l.startsWith('USER ')) ?? '')?.[1];
  assert.ok(dataDir && user, 'the Dockerfile sets FEDGATE_DATA_DIR and USER');
  const volume = index(new RegExp(`^VOLUME\\s+\\["${dataDir}"\\]`));
  const made = index(new RegExp(`^RUN .*mkdir -p ${dataDir}\\b.*chown ${user}(:${user})? ${dataDir}\\b`));
  assert.ok(volume >= 0, `VOLUME ["${dataDir}"]`);
  assert.ok(made >= 0 && made < volume, `a RUN creating ${dataDir} owned by ${user} before VOLUME`);
});
