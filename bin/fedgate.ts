#!/usr/bin/env node
// The `fedgate` command. `serve` (what `npm start` runs) starts the whole system
// on one machine: metadata database, backends, workers, S3 and admin listeners.
import { loadConfig } from '../shared/config/index.ts';
import { createLogger } from '../shared/observability/logger.ts';
import { openRuntime } from '../shared/runtime/index.ts';
import { bootstrap } from '../shared/runtime/bootstrap.ts';
import { startGateway } from '../gateway/main.ts';
import { startWorkerListener } from '../workers/listener.ts';
import { startWorkers, workerOptionsFromConfig, workersAdminRoute } from '../workers/main.ts';
import { openAiState, startAiProxyForRuntime } from '../ai-proxy/main.ts';
import { createAiAdminRoutes } from '../ai-proxy/admin.ts';

const USAGE = `usage: fedgate <command>

commands:
  serve     start the S3 endpoint, the admin API, the AI proxy and the background workers
            (FEDGATE_WORKERS=off: without the workers, when \`fedgate worker\` processes run them)
  worker    start only the background workers (replication, healing, scrubbing, GC, health),
            on the PostgreSQL of a \`fedgate serve\` (DATABASE_URL) and its master key;
            /health, /ready and /metrics on FEDGATE_WORKER_PORT (9002)
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
    const workers = config.runWorkers ? await startWorkers({ store: rt.store, data: rt.data, boss: rt.boss, log }, workerOptionsFromConfig(config)) : null;
    const ai = openAiState({ pool: rt.pool, vault: rt.vault, redisUrl: config.redisUrl });
    const gw = await startGateway(rt, boot, { adminRoutes: [createAiAdminRoutes({ store: ai.store }), ...(workers ? [workersAdminRoute(workers)] : [])] });
    const aiProxy = await startAiProxyForRuntime(rt, ai, undefined, aiApprovalEnv());
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
      await workers?.stop();
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

/** Global approval-webhook target and HMAC key (a token's policy may name its own). */
function aiApprovalEnv(): { approvalWebhookUrl?: string; approvalWebhookSecret?: string } {
  return { approvalWebhookUrl: process.env.FEDGATE_AI_WEBHOOK_URL || undefined, approvalWebhookSecret: process.env.FEDGATE_AI_WEBHOOK_SECRET || undefined };
}

/**
 * One part of Fedgate as a process of its own, on the PostgreSQL (DATABASE_URL) and master key
 * of a `fedgate serve`: the embedded database belongs to the serve that owns the data directory.
 * `start` returns the line to print once ready and how to stop; SIGINT / SIGTERM stop it.
 */
async function runAlone(
  what: string,
  inside: string,
  start: (rt: Awaited<ReturnType<typeof openRuntime>>, config: ReturnType<typeof loadConfig>) => Promise<{ banner: string; stop: () => Promise<void> }>,
): Promise<void> {
  const config = loadConfig(process.env);
  if (!config.databaseUrl) throw new Error(`\`fedgate ${what}\` needs DATABASE_URL (the PostgreSQL a \`fedgate serve\` uses); with the embedded database, ${inside} inside \`fedgate serve\``);
  const rt = await openRuntime(config, createLogger(config.logLevel));
  try {
    const part = await start(rt, config);
    process.stderr.write(`${part.banner}\n`);
    let stopping = false;
    const shutdown = async () => {
      if (stopping) return;
      stopping = true;
      await part.stop();
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

/**
 * The background workers alone (PRODUCT.md §3: separate processes that scale out). Several
 * may run: replication jobs are shared out by pg-boss; the periodic rounds are idempotent.
 */
function workersOnly(): Promise<void> {
  return runAlone('worker', 'the workers run', async (rt, config) => {
    const workers = await startWorkers({ store: rt.store, data: rt.data, boss: rt.boss, log: rt.log }, workerOptionsFromConfig(config));
    const listener = await startWorkerListener({ pool: rt.pool, data: rt.data }, config.workerPort, config.host).catch(async (e: Error) => {
      await workers.stop();
      throw new Error(`cannot listen on ${config.host}:${config.workerPort} (FEDGATE_WORKER_PORT): ${e.message}`);
    });
    return {
      banner: `Fedgate worker: replication, healing, scrubbing, GC and health checks on ${rt.data.backends.all().length} backends; /health, /ready, /metrics on http://${config.host}:${listener.port}`,
      stop: async () => {
        await listener.close();
        await workers.stop();
      },
    };
  });
}

/** The AI listener alone (manage it through the admin API of a `serve` on the same database). */
function aiProxyOnly(): Promise<void> {
  return runAlone('ai-proxy', 'the AI proxy runs', async (rt, config) => {
    const ai = openAiState({ pool: rt.pool, vault: rt.vault, redisUrl: config.redisUrl });
    const proxy = await startAiProxyForRuntime(rt, ai, undefined, aiApprovalEnv());
    return {
      banner: `Fedgate AI proxy: http://${config.host}:${proxy.port}`,
      stop: async () => {
        await proxy.close(30_000);
        await ai.store.close();
        await ai.kv.close();
      },
    };
  });
}

async function main(argv: string[]): Promise<void> {
  const cmd = argv[0] ?? 'help';
  switch (cmd) {
    case 'serve':
      return serve();
    case 'worker':
      return workersOnly();
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
