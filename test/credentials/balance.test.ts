import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type GatewayConfig } from '../../src/config.js';
import { ApiError, NotFoundError } from '../../src/errors.js';
import { BalanceService, computeBalance, type UsageLimitsResponse } from '../../src/credentials/balance.js';
import { MemoryCredentialStore } from '../../src/store/memory/memory-store.js';
import { CredentialPool } from '../../src/credentials/pool.js';
import type { Credential } from '../../src/credentials/types.js';

const T0 = Date.parse('2026-03-15T12:00:00.000Z');
const MACHINE = '12'.repeat(32);
const RESET = 1775001600; // 2026-04-01T00:00:00Z

const SAMPLE: UsageLimitsResponse = {
  nextDateReset: RESET,
  subscriptionInfo: { subscriptionTitle: 'KIRO PRO+' },
  usageBreakdownList: [
    {
      currentUsage: 12,
      currentUsageWithPrecision: 12.37,
      usageLimit: 1000,
      usageLimitWithPrecision: 1000.0,
      nextDateReset: RESET,
      freeTrialInfo: { currentUsage: 0, currentUsageWithPrecision: 0.0, usageLimit: 500, usageLimitWithPrecision: 500.0, freeTrialStatus: 'ACTIVE' },
      bonuses: [
        { currentUsage: 3.5, usageLimit: 100.0, status: 'ACTIVE' },
        { currentUsage: 50, usageLimit: 50, status: 'EXPIRED' },
      ],
    },
  ],
};

let server: Server;
let base = '';
let seen: Array<{ url: string; headers: IncomingMessage['headers'] }> = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

afterEach(() => {
  seen = [];
});

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function setup(creds: Credential[]) {
  const config: GatewayConfig = loadConfig({
    argv: [],
    env: { KIRO_CLIENT_API_KEY: 'k', KIRO_UPSTREAM_API_BASE_URL: `${base}/{region}`, KIRO_SYSTEM_VERSION: 'win32#10.0.22631' },
  });
  const clock = { now: T0 };
  const store = new MemoryCredentialStore({ credentials: creds, form: 'array', path: null });
  let refreshes = 0;
  const pool = new CredentialPool({
    store,
    config,
    now: () => clock.now,
    refresher: { refresh: async () => ({ accessToken: `refreshed-${++refreshes}`, expiresAt: new Date(clock.now + 3_600_000).toISOString() }) },
  });
  const service = new BalanceService({ store, pool, config, now: () => clock.now });
  return { config, clock, store, pool, service, refreshes: () => refreshes };
}

function social(id: number, extra: Partial<Credential> = {}): Credential {
  return {
    id,
    authMethod: 'social',
    refreshToken: 'r'.repeat(120),
    accessToken: `at-${id}`,
    expiresAt: new Date(T0 + 3_600_000).toISOString(),
    priority: 0,
    machineId: MACHINE,
    disabled: false,
    ...extra,
  };
}

describe('computeBalance', () => {
  it('adds an active free trial and active bonuses to the first breakdown', () => {
    const b = computeBalance(1, SAMPLE);
    expect(b.usageLimit).toBeCloseTo(1600);
    expect(b.currentUsage).toBeCloseTo(15.87);
    expect(b.remaining).toBeCloseTo(1584.13);
    expect(b.usagePercentage).toBeCloseTo((15.87 / 1600) * 100);
    expect(b).toMatchObject({ id: 1, subscriptionTitle: 'KIRO PRO+', nextResetAt: RESET });
  });

  it('handles empty answers and caps the percentage', () => {
    expect(computeBalance(2, {})).toEqual({
      id: 2,
      subscriptionTitle: null,
      currentUsage: 0,
      usageLimit: 0,
      remaining: 0,
      usagePercentage: 0,
      nextResetAt: null,
    });
    const over = computeBalance(3, { usageBreakdownList: [{ currentUsage: 120, usageLimit: 100 }] });
    expect(over).toMatchObject({ usagePercentage: 100, remaining: 0, currentUsage: 120, usageLimit: 100 });
  });
});

describe('BalanceService', () => {
  it('calls getUsageLimits with the usage headers and the profile ARN', async () => {
    answer = (_req, res) => json(res, 200, SAMPLE);
    const { service } = setup([social(1, { apiRegion: 'eu-central-1', profileArn: 'arn:aws:codewhisperer:us-east-1:1:profile/AB' })]);
    const balance = await service.getBalance(1);
    expect(balance.subscriptionTitle).toBe('KIRO PRO+');
    const req = seen[0];
    expect(req.url).toBe(
      '/eu-central-1/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST&profileArn=arn%3Aaws%3Acodewhisperer%3Aus-east-1%3A1%3Aprofile%2FAB',
    );
    expect(req.headers.authorization).toBe('Bearer at-1');
    expect(req.headers['x-amz-user-agent']).toBe(`aws-sdk-js/1.0.0 KiroIDE-0.11.107-${MACHINE}`);
    expect(req.headers['user-agent']).toBe(
      `aws-sdk-js/1.0.0 ua/2.1 os/win32#10.0.22631 lang/js md/nodejs#22.22.0 api/codewhispererruntime#1.0.0 m/N,E KiroIDE-0.11.107-${MACHINE}`,
    );
    expect(req.headers['amz-sdk-request']).toBe('attempt=1; max=1');
    expect(req.headers['amz-sdk-invocation-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(req.headers.tokentype).toBeUndefined();
  });

  it('sends tokentype API_KEY and the key for API-key credentials, without profileArn when absent', async () => {
    answer = (_req, res) => json(res, 200, SAMPLE);
    const { service } = setup([{ id: 1, authMethod: 'api_key', kiroApiKey: 'ksk_abc', priority: 0, machineId: MACHINE, disabled: false }]);
    await service.getBalance(1);
    expect(seen[0].url).toBe('/us-east-1/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST');
    expect(seen[0].headers.authorization).toBe('Bearer ksk_abc');
    expect(seen[0].headers.tokentype).toBe('API_KEY');
  });

  it('caches per credential for balanceCacheTtlMs unless asked for a fresh answer', async () => {
    answer = (_req, res) => json(res, 200, SAMPLE);
    const { service, clock, config } = setup([social(1)]);
    await service.getBalance(1);
    await service.getBalance(1);
    expect(seen).toHaveLength(1);
    await service.getBalance(1, { fresh: true });
    expect(seen).toHaveLength(2);
    clock.now += config.pool.balanceCacheTtlMs + 1;
    await service.getBalance(1);
    expect(seen).toHaveLength(3);
    await Promise.all([service.getBalance(1, { fresh: true }), service.getBalance(1, { fresh: true })]);
    expect(seen).toHaveLength(4); // concurrent queries share one call
    expect(service.cached(1)?.subscriptionTitle).toBe('KIRO PRO+');
  });

  it('stores the subscription title on the credential only when it changes', async () => {
    answer = (_req, res) => json(res, 200, { ...SAMPLE, subscriptionInfo: { subscriptionTitle: 'KIRO FREE' } });
    const { service, store } = setup([social(1, { subscriptionTitle: 'KIRO PRO+' })]);
    const changes: Array<number | null> = [];
    store.onChange((id) => changes.push(id));
    await service.getBalance(1);
    expect(store.get(1)?.credential.subscriptionTitle).toBe('KIRO FREE');
    await service.getBalance(1, { fresh: true });
    expect(changes).toEqual([1]);
  });

  it('gives the pool the quota reset date', async () => {
    answer = (_req, res) => json(res, 200, SAMPLE);
    const { service, store, pool } = setup([social(1), social(2)]);
    await service.getBalance(1);
    expect(service.nextResetMs(1)).toBe(RESET * 1000);
    await pool
      .execute({ kiroModelId: 'claude-sonnet-4.5', signal: new AbortController().signal }, async (lease) =>
        lease.credential.id === 1 ? { ok: false, status: 402, body: '{"reason":"MONTHLY_REQUEST_COUNT"}' } : { ok: true, value: 1 },
      )
      .then((r) => r.lease.release());
    expect(store.get(1)?.credential.disabledUntil).toBe('2026-04-01T00:00:00.000Z');
  });

  it('force-refreshes once when the upstream rejects the bearer token', async () => {
    let n = 0;
    answer = (_req, res) =>
      n++ === 0 ? json(res, 403, { message: 'The bearer token included in the request is invalid.' }) : json(res, 200, SAMPLE);
    const { service, refreshes } = setup([social(1)]);
    await service.getBalance(1);
    expect(refreshes()).toBe(1);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer at-1', 'Bearer refreshed-1']);
  });

  it('reports upstream failures as 502 and unknown ids as not found', async () => {
    answer = (_req, res) => json(res, 500, { message: 'boom' });
    const { service } = setup([social(1)]);
    const err = await service.getBalance(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 502 });
    expect((err as Error).message).toContain('HTTP 500');
    await expect(service.getBalance(99)).rejects.toBeInstanceOf(NotFoundError);
  });
});
