// The two extra child processes of the AI benchmark: the mock upstream
// (ai-mock-upstream.ts) and `fedgate ai-proxy` (started by child.ts's spawnChild).
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/s3-servers.ts';
import { spawnChild, type Child } from './child.ts';

/** The mock OpenAI upstream; `providerKey` is the key it insists on. */
export async function startMockUpstream(repoRoot: string, providerKey: string): Promise<Child & { url: string }> {
  const env = { ...process.env, BENCH_MOCK_KEY: providerKey };
  const c = await spawnChild('mock upstream', [path.join(repoRoot, 'bench', 'lib', 'ai-mock-upstream.ts')], env, /listening (\d+)/, { repoRoot, timeoutMs: 30_000 });
  return { ...c, url: `http://127.0.0.1:${c.ready}` };
}

/**
 * `fedgate ai-proxy` on the database a `fedgate serve` has set up, with the same vault
 * master key (the upstream's provider key is sealed with it).
 */
export async function startAiProxyChild(opts: { repoRoot: string; databaseUrl: string; masterKey: string; nodeArgs?: string[] }): Promise<Child & { url: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-bench-ai-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: opts.databaseUrl,
    FEDGATE_MASTER_KEY: opts.masterKey,
    FEDGATE_DATA_DIR: dataDir,
    FEDGATE_AI_PORT: String(port),
    FEDGATE_HOST: '127.0.0.1',
    FEDGATE_LOG_LEVEL: 'warn',
  };
  const args = [...(opts.nodeArgs ?? []), path.join(opts.repoRoot, 'bin', 'fedgate.ts'), 'ai-proxy'];
  try {
    const c = await spawnChild('fedgate ai-proxy', args, env, /Fedgate AI proxy: http:\/\/[^:]+:(\d+)/, {
      repoRoot: opts.repoRoot,
      timeoutMs: 120_000,
      onExit: () => rmSync(dataDir, { recursive: true, force: true }),
    });
    return { ...c, url: `http://127.0.0.1:${c.ready}` };
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
}
