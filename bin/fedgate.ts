#!/usr/bin/env node
// The `fedgate` command. `serve` (what `npm start` runs) starts the whole system
// on one machine: metadata database, backends, workers, S3 and admin listeners.
import { loadConfig } from '../shared/config/index.ts';
import { createLogger } from '../shared/observability/logger.ts';
import { openRuntime } from '../shared/runtime/index.ts';
import { bootstrap } from '../shared/runtime/bootstrap.ts';
import { startGateway } from '../gateway/main.ts';
import { startWorkers, DEFAULT_WORKER_OPTIONS } from '../workers/main.ts';

const USAGE = `usage: fedgate <command>

commands:
  serve     start the S3 endpoint, the admin API and the background workers
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
    const gw = await startGateway(rt, boot);
    // Generated credentials go to the terminal once, never into the JSON log.
    if (boot.announcements.length > 0) process.stderr.write(`\n${boot.announcements.join('\n')}\n\n`);
    process.stderr.write(`Fedgate S3 endpoint: http://${config.host}:${gw.s3Port}  admin API: http://${config.host}:${gw.adminPort}  data: ${config.dataDir}\n`);
    const shutdown = async (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      log.info({ signal }, 'shutting down: finishing in-flight requests');
      await gw.close(30_000);
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

async function main(argv: string[]): Promise<void> {
  const cmd = argv[0] ?? 'help';
  switch (cmd) {
    case 'serve':
      return serve();
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
