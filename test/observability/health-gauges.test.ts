/**
 * `kiro_gateway_ready` and `kiro_gateway_store_degraded` through the real wiring: a gateway on a real
 * redis-server is ready and not degraded; killing Redis turns it degraded (still ready, serving the
 * local copy), as `/readyz` says; Redis back clears it; draining turns ready to 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';
import { parseProm } from './prom-parse.js';

const P = 'kiro_gateway_';
let stack: Stack | undefined;
let redis: RedisServer | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
  await redis?.stop();
  redis = undefined;
});

async function gauges(s: Stack): Promise<{ ready: number; degraded: number; readyz: string }> {
  const m = parseProm(await (await fetch(`${s.url}/metrics`)).text());
  const readyz = (await (await fetch(`${s.url}/readyz`)).json()) as { status: string };
  return { ready: m.value(`${P}ready`), degraded: m.value(`${P}store_degraded`), readyz: readyz.status };
}

describe('health gauges', () => {
  it('read 0 before a source is set', async () => {
    const m = parseProm(await new GatewayMetrics({ collectDefault: false }).metricsText());
    expect(m.value(`${P}ready`)).toBe(0);
    expect(m.value(`${P}store_degraded`)).toBe(0);
    expect(m.types.get(`${P}ready`)).toBe('gauge');
  });

  it('follow /readyz: Redis down is degraded (still ready), back is healthy, draining is not ready', async () => {
    redis = await startRedis();
    stack = await startStack({
      env: { KIRO_REDIS_URL: redis.url },
      observability: { metrics: new GatewayMetrics({ collectDefault: false }) },
    });
    expect(await gauges(stack)).toEqual({ ready: 1, degraded: 0, readyz: 'ready' });

    redis.kill9();
    const s = stack;
    await eventually(async () => (await gauges(s)).degraded === 1, 15_000);
    expect(await gauges(s)).toEqual({ ready: 1, degraded: 1, readyz: 'degraded' });

    await redis.restart();
    await eventually(async () => (await gauges(s)).degraded === 0, 20_000);
    expect(await gauges(s)).toEqual({ ready: 1, degraded: 0, readyz: 'ready' });

    s.gateway.lifecycle.markDraining();
    expect((await gauges(s)).ready).toBe(0);
  }, 60_000);
});
