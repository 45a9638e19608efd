#!/usr/bin/env node
import { loadConfig, ConfigError, type GatewayConfig } from './config.js';
import { createLogger } from './observability/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { createSecretScrubber } from './observability/redact.js';
import { TRACING_OFF, tracingRequested } from './observability/tracing-env.js';

/** Process entry: load config, build the gateway, listen, drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const warnings: string[] = [];
  let config: GatewayConfig;
  try {
    config = loadConfig({ warn: (m) => warnings.push(m) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kiro-gateway: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let secrets: () => readonly string[] = () => [];
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, secrets: () => secrets() });
  for (const warning of warnings) logger.warn(warning);
  // Not in GatewayConfig yet: how long the listener stays open after /readyz turns 503 on SIGTERM.

  // Span attributes and exception messages get the same value scrubbing as log lines. Tracing starts
  // before the gateway's modules load: the ioredis instrumentation patches ioredis as it is imported.
  // The SDK is imported only when tracing is on.
  const tracing = tracingRequested(false)
    ? (await import('./observability/tracing-sdk.js')).initTracing({ serviceVersion: process.env.npm_package_version, scrub: createSecretScrubber(() => secrets()) })
    : TRACING_OFF;
  const { buildGateway, secretSource } = await import('./gateway.js');
  const metrics = new GatewayMetrics({ collectDefault: true });
  const gateway = await buildGateway(config, { logger, metrics, tracing });
  secrets = secretSource(config, gateway.store);
  const { url } = await gateway.listen();
  logger.info(
    { url, store: gateway.store.kind, credentials: gateway.store.list().length, replica: gateway.replicaId, tracing: tracing.enabled },
    `kiro-gateway listening on ${url}`,
  );
  if (!config.apiKey) logger.warn('no apiKey configured: every client request will be rejected (set apiKey or KIRO_CLIENT_API_KEY)');
  if (gateway.store.list().length === 0) {
    logger.warn(`no credentials loaded from ${config.credentialsPath}: requests will fail until one is added (credentials.json or the admin API)`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: gateway.lifecycle.inFlight }, 'shutting down: draining open streams');
    try {
      await gateway.close(config.shutdown.graceMs, { readinessDelayMs: config.shutdown.readinessDelayMs });
      // After the drain: the spans of the last streams are flushed too.
      await tracing.shutdown();
      logger.info('shutdown complete');
      logger.flush();
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
