#!/usr/bin/env node
import { loadConfig, ConfigError } from './config.js';
import { buildGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';

/** Process entry: load config, build the gateway, listen, drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const warnings: string[] = [];
  let config;
  try {
    config = loadConfig({ warn: (m) => warnings.push(m) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kiro-gateway: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty });
  for (const warning of warnings) logger.warn(warning);

  const gateway = await buildGateway(config, {
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
  });
  const { url } = await gateway.listen();
  logger.info(
    { url, store: gateway.store.kind, credentials: gateway.store.list().length, replica: gateway.replicaId },
    `kiro-gateway listening on ${url}`,
  );
  if (!config.apiKey) logger.warn('no apiKey configured: every client request will be rejected (set apiKey or KIRO_CLIENT_API_KEY)');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: gateway.lifecycle.inFlight }, 'shutting down: draining open streams');
    try {
      await gateway.close();
      logger.info('shutdown complete');
      logger.flush?.();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`kiro-gateway: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
