/**
 * `kiro-simulator` / `npm run simulator`: runs the Kiro simulator until SIGINT/SIGTERM and prints
 * its URL. Flags win over environment variables:
 *
 *   --port N                 KIRO_SIM_PORT                 (default 8990; 0 = any free port)
 *   --host H                 KIRO_SIM_HOST                 (default 127.0.0.1)
 *   --latency-ms N           KIRO_SIM_LATENCY_MS           delay before the response head
 *   --chunk-delay-ms N       KIRO_SIM_CHUNK_DELAY_MS       delay between event chunks
 *   --chunks N               KIRO_SIM_CHUNKS               default reply split into N text events (default 4)
 *   --text T                 KIRO_SIM_TEXT                 default reply text
 *   --accept-any-token       KIRO_SIM_ACCEPT_ANY_TOKEN=1   skip access-token checks (benchmarks)
 *   --rotate-refresh-tokens  KIRO_SIM_ROTATE_REFRESH_TOKENS=1
 *   --token-ttl-seconds N    KIRO_SIM_TOKEN_TTL_SECONDS    (default 3600)
 *   --refresh-latency-ms N   KIRO_SIM_REFRESH_LATENCY_MS
 *   --max-input-bytes N      KIRO_SIM_MAX_INPUT_BYTES      (default 1200000)
 */
import { parseArgs } from 'node:util';
import { createSimulator } from './index.js';

/** Port used when neither --port nor KIRO_SIM_PORT is given. */
export const DEFAULT_PORT = 8990;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'latency-ms': { type: 'string' },
    'chunk-delay-ms': { type: 'string' },
    chunks: { type: 'string' },
    text: { type: 'string' },
    'accept-any-token': { type: 'boolean' },
    'rotate-refresh-tokens': { type: 'boolean' },
    'token-ttl-seconds': { type: 'string' },
    'refresh-latency-ms': { type: 'string' },
    'max-input-bytes': { type: 'string' },
  },
});
const env = process.env;

function number(flag: string | undefined, envValue: string | undefined, name: string): number | undefined {
  const raw = flag ?? envValue;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return n;
}

const truthy = (v: string | undefined) => v === '1' || v === 'true';

async function main(): Promise<void> {
  const sim = await createSimulator({
    port: number(values.port, env.KIRO_SIM_PORT, 'port') ?? DEFAULT_PORT,
    host: values.host ?? env.KIRO_SIM_HOST ?? '127.0.0.1',
    firstByteLatencyMs: number(values['latency-ms'], env.KIRO_SIM_LATENCY_MS, 'latency-ms'),
    chunkDelayMs: number(values['chunk-delay-ms'], env.KIRO_SIM_CHUNK_DELAY_MS, 'chunk-delay-ms'),
    defaultChunks: number(values.chunks, env.KIRO_SIM_CHUNKS, 'chunks'),
    defaultText: values.text ?? env.KIRO_SIM_TEXT,
    acceptAnyToken: values['accept-any-token'] ?? truthy(env.KIRO_SIM_ACCEPT_ANY_TOKEN),
    rotateRefreshTokens: values['rotate-refresh-tokens'] ?? truthy(env.KIRO_SIM_ROTATE_REFRESH_TOKENS),
    tokenTtlSeconds: number(values['token-ttl-seconds'], env.KIRO_SIM_TOKEN_TTL_SECONDS, 'token-ttl-seconds'),
    refreshLatencyMs: number(values['refresh-latency-ms'], env.KIRO_SIM_REFRESH_LATENCY_MS, 'refresh-latency-ms'),
    maxInputBytes: number(values['max-input-bytes'], env.KIRO_SIM_MAX_INPUT_BYTES, 'max-input-bytes'),
  });
  process.stdout.write(`Kiro simulator listening on ${sim.url}\n`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
