#!/usr/bin/env node
// The `fedgate` command. `serve` (what `npm start` runs) starts the whole system
// on one machine: metadata database, backends, workers, S3 and admin listeners.
import { loadConfig } from '../shared/config/index.ts';
import { createLogger } from '../shared/observability/logger.ts';
import { openRuntime } from '../shared/runtime/index.ts';
import { bootstrap } from '../shared/runtime/bootstrap.ts';
import { startGateway } from '../gateway/main.ts';
import { startWorkers, DEFAULT_WORKER_OPTIONS } from '../workers/main.ts';
import { openAiState, startAiProxyForRuntime } from '../ai-proxy/main.ts';
import { createAiAdminRoutes } from '../ai-proxy/admin.ts';

const USAGE = `usage: fedgate <command>

commands:
  serve     start the S3 endpoint, the admin API, the AI proxy and the background workers
  ai-proxy  start only the AI proxy listener (FEDGATE_AI_PORT), on the same database and vault
  help      this text

configuration is read from the environment; see README.md`;

async function serve(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel);
  const rt = await openRuntime(config, log);
  let shuttingDown = false;
  try {
    const boot = await bootstrap(rt);
    const workers = await startWorkers({ store: rt.store, data: rt.data, boss: rt.boss, log }, { ...DEFAULT_WORKER_OPTIONS, timeoutMs: config.backendTimeoutMs });
    const ai = openAiState({ pool: rt.pool, vault: rt.vault, redisUrl: config.redisUrl });
    const gw = await startGateway(rt, boot, { adminRoutes: [createAiAdminRoutes({ store: ai.store })] });
    const aiProxy = await startAiProxyForRuntime(rt, ai);
    // Generated credentials go to the terminal once, never into the JSON log.
    if (boot.announcements.length > 0) process.stderr.write(`\n${boot.announcements.join('\n')}\n\n`);
    process.stderr.write(`Fedgate S3 endpoint: http://${config.host}:${gw.s3Port}  admin API: http://${config.host}:${gw.adminPort}  AI proxy: http://${config.host}:${aiProxy.port}  data: ${config.dataDir}\n`);
    const shutdown = async (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      log.info({ signal }, 'shutting down: finishing in-flight requests');
      await gw.close(30_000);
      await aiProxy.close(30_000);
      await ai.store.close();
      await ai.kv.close();
      await workers.stop();
      await rt.close();
      log.info('stopped');
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
  } catch (e) {
    await rt.close().catch(() => {});
    throw e;
  }
}

/** The AI listener alone (manage it through the admin API of a `serve` on the same database). */
async function aiProxyOnly(): Promise<void> {
  const config = loadConfig(process.env);
  if (!config.databaseUrl) {
    // The embedded PostgreSQL belongs to the `fedgate serve` that owns the data directory.
    throw new Error('`fedgate ai-proxy` needs DATABASE_URL (the PostgreSQL a `fedgate serve` uses); with the embedded database, the AI proxy runs inside `fedgate serve`');
  }
  const log = createLogger(config.logLevel);
  const rt = await openRuntime(config, log);
  try {
    const ai = openAiState({ pool: rt.pool, vault: rt.vault, redisUrl: config.redisUrl });
    const proxy = await startAiProxyForRuntime(rt, ai);
    process.stderr.write(`Fedgate AI proxy: http://${config.host}:${proxy.port}\n`);
    let stopping = false;
    const shutdown = async () => {
      if (stopping) return;
      stopping = true;
      await proxy.close(30_000);
      await ai.store.close();
      await ai.kv.close();
      await rt.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown());
    process.on('SIGTERM', () => void shutdown());
  } catch (e) {
    await rt.close().catch(() => {});
    throw e;
  }
}

async function main(argv: string[]): Promise<void> {
  const cmd = argv[0] ?? 'help';
  switch (cmd) {
    case 'serve':
      return serve();
    case 'ai-proxy':
      return aiProxyOnly();
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return;
    default:
      process.stderr.write(`unknown command "${cmd}"\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`fedgate: ${e.message}\n`);
  process.exit(1);
});
