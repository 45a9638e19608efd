/**
 * The JSON endpoints: token refresh (social §2.2, IdC §2.3), getUsageLimits (§1.3) and the MCP
 * web search (§4.10).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Account } from './accounts.js';
import {
  authenticate,
  INVALID_BEARER_BODY,
  modeAnswer,
  parseJson,
  readBody,
  record,
  sendJson,
  type Exchange,
  type SimContext,
} from './context.js';
import { extractScript, ScriptError } from './script.js';
import { countCall } from './stats.js';
import { listAvailableModelsBody } from './models.js';
import type { ApiCall } from './types.js';
import { findMcpMismatch } from './wire.js';

const INVALID_GRANT_BODY = {
  error: 'invalid_grant',
  error_description: 'Invalid refresh token provided',
  message: 'Invalid refresh token provided',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** POST /refreshToken (social) and POST /token (IdC). */
export async function handleRefresh(ctx: SimContext, ex: Exchange, flow: 'social' | 'idc'): Promise<void> {
  const parsed = parseJson((await readBody(ex.req)).bytes);
  const body = parsed.ok ? parsed.value : parsed.text;
  const reply = (status: number, answer: unknown, account?: Account) => {
    sendJson(ex.res, status, answer);
    record(ctx, ex, body, account, status);
  };
  if (!isObject(body) || !nonEmpty(body.refreshToken)) {
    countCall(ctx.stats, 'refresh', undefined);
    return reply(400, { error: 'invalid_request', message: 'refreshToken is required' });
  }
  if (flow === 'idc') {
    if (!nonEmpty(body.clientId) || !nonEmpty(body.clientSecret)) {
      countCall(ctx.stats, 'refresh', undefined);
      return reply(400, { error: 'invalid_request', error_description: 'clientId and clientSecret are required' });
    }
    if (body.grantType !== 'refresh_token') {
      countCall(ctx.stats, 'refresh', undefined);
      return reply(400, { error: 'unsupported_grant_type', error_description: 'grantType must be refresh_token' });
    }
  }
  const known = ctx.accounts.find(body.refreshToken);
  const latencyMs = known?.behaviour.refreshLatencyMs ?? ctx.opts.refreshLatencyMs;
  if (latencyMs > 0) {
    // The auth service does its work whether or not the caller is still there to read the answer.
    const pending = { account: known?.id, clientPort: ex.req.socket.remotePort ?? 0, since: Date.now() };
    ctx.pendingRefreshes.add(pending);
    try {
      await sleep(latencyMs);
    } finally {
      ctx.pendingRefreshes.delete(pending);
    }
  }
  const outcome = ctx.accounts.refresh(body.refreshToken);
  countCall(ctx.stats, 'refresh', outcome.account?.id);
  if (!outcome.ok) {
    return outcome.reason === 'invalid-grant'
      ? reply(400, INVALID_GRANT_BODY, outcome.account)
      : reply(500, { message: 'Internal server error' }, outcome.account);
  }
  const { account, accessToken, refreshToken, expiresIn } = outcome;
  if (flow === 'social') {
    const profileArn = account.behaviour.profileArn ?? ctx.opts.profileArn;
    return reply(200, { accessToken, refreshToken, profileArn, expiresIn }, account);
  }
  return reply(200, { accessToken, refreshToken, expiresIn, tokenType: 'Bearer' }, account);
}

/**
 * Authenticates an API call and applies the account's mode. Returns the account (undefined with
 * acceptAnyToken and an unknown token), or false when the answer has been sent already.
 */
function admit(ctx: SimContext, ex: Exchange, call: ApiCall, body: unknown): Account | undefined | false {
  const account = authenticate(ctx, ex.req);
  countCall(ctx.stats, call, account?.id);
  if (account === undefined && !ctx.opts.acceptAnyToken) {
    sendJson(ex.res, 403, INVALID_BEARER_BODY);
    record(ctx, ex, body, undefined, 403);
    return false;
  }
  const mode = account ? ctx.accounts.take(account, call) : 'ok';
  if (mode !== 'ok') {
    const { status, body: answer } = modeAnswer(mode);
    sendJson(ex.res, status, answer);
    record(ctx, ex, body, account, status);
    return false;
  }
  return account;
}

function firstOfNextMonth(): number {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) / 1000;
}

/** GET /getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST[&profileArn=…] */
export function handleUsage(ctx: SimContext, ex: Exchange): void {
  const account = admit(ctx, ex, 'usage', undefined);
  if (account === false) return;
  const params = new URLSearchParams(ex.query);
  if (!params.get('origin') || !params.get('resourceType')) {
    sendJson(ex.res, 400, { message: 'Improperly formed request.', reason: null });
    record(ctx, ex, undefined, account, 400, 'origin and resourceType query parameters are required');
    return;
  }
  const behaviour = account?.behaviour ?? {};
  const usage = behaviour.usage ?? {};
  const nextDateReset = usage.nextDateReset ?? firstOfNextMonth();
  const current = usage.currentUsage ?? 0;
  const limit = usage.usageLimit ?? 1000;
  const breakdown: Record<string, unknown> = {
    currentUsage: Math.floor(current),
    currentUsageWithPrecision: current,
    usageLimit: Math.floor(limit),
    usageLimitWithPrecision: limit,
    nextDateReset,
  };
  if (usage.freeTrial) {
    const t = usage.freeTrial;
    breakdown.freeTrialInfo = {
      currentUsage: Math.floor(t.currentUsage),
      currentUsageWithPrecision: t.currentUsage,
      usageLimit: Math.floor(t.usageLimit),
      usageLimitWithPrecision: t.usageLimit,
      freeTrialExpiry: t.expiry ?? nextDateReset,
      freeTrialStatus: t.status ?? 'ACTIVE',
    };
  }
  if (usage.bonuses) {
    breakdown.bonuses = usage.bonuses.map((b) => ({ currentUsage: b.currentUsage, usageLimit: b.usageLimit, status: b.status ?? 'ACTIVE' }));
  }
  sendJson(ex.res, 200, {
    nextDateReset,
    subscriptionInfo: { subscriptionTitle: behaviour.subscriptionTitle ?? 'KIRO PRO+' },
    usageBreakdownList: [breakdown],
  });
  record(ctx, ex, undefined, account, 200);
}

/** GET /ListAvailableModels?origin=AI_EDITOR[&maxResults=…][&profileArn=…]: the account's model list. */
export function handleListModels(ctx: SimContext, ex: Exchange): void {
  const account = admit(ctx, ex, 'models', undefined);
  if (account === false) return;
  if (!new URLSearchParams(ex.query).get('origin')) {
    sendJson(ex.res, 400, { message: 'Improperly formed request.', reason: null });
    record(ctx, ex, undefined, account, 400, 'origin query parameter is required');
    return;
  }
  sendJson(ex.res, 200, listAvailableModelsBody(account));
  record(ctx, ex, undefined, account, 200);
}

/** Three made-up results for a query, in the shape of §4.10. */
export function webSearchResults(query: string): unknown {
  const results = Array.from({ length: 3 }, (_, i) => ({
    title: `Result ${i + 1} for ${query}`,
    url: `https://example.com/search/${i + 1}?q=${encodeURIComponent(query)}`,
    snippet: `Simulated snippet ${i + 1} about ${query}.`,
    publishedDate: 1735689600000 + i * 86_400_000,
    id: `sim-result-${i + 1}`,
    domain: 'example.com',
    maxVerbatimWordLimit: 200,
    publicDomain: false,
  }));
  return { results, totalResults: results.length, query, error: null };
}

/** POST /mcp: JSON-RPC `tools/call` of `web_search`. A `<sim>` script in the query can force an HTTP status. */
export async function handleMcp(ctx: SimContext, ex: Exchange): Promise<void> {
  const parsed = parseJson((await readBody(ex.req)).bytes);
  const body = parsed.ok ? parsed.value : parsed.text;
  const account = admit(ctx, ex, 'mcp', body);
  if (account === false) return;
  const answer = (status: number, payload: unknown) => {
    sendJson(ex.res, status, payload);
    record(ctx, ex, body, account, status);
  };
  if (!isObject(body) || body.jsonrpc !== '2.0') return answer(400, { message: 'Improperly formed request.', reason: null });
  const mismatch = findMcpMismatch(ex.req.headers);
  if (mismatch !== undefined) {
    sendJson(ex.res, 400, { message: 'Improperly formed request.', reason: null });
    record(ctx, ex, body, account, 400, mismatch);
    return;
  }
  const id = body.id ?? null;
  if (body.method !== 'tools/call') {
    return answer(200, { id, jsonrpc: '2.0', error: { code: -32601, message: `Method not found: ${String(body.method)}` } });
  }
  const params = isObject(body.params) ? body.params : {};
  const args = isObject(params.arguments) ? params.arguments : {};
  if (params.name !== 'web_search' || typeof args.query !== 'string') {
    return answer(200, { id, jsonrpc: '2.0', error: { code: -32602, message: 'Invalid params: web_search needs a query' } });
  }
  try {
    const script = extractScript(args.query);
    if (script?.status !== undefined) {
      const raw = typeof script.body === 'string' ? script.body : JSON.stringify(script.body ?? { message: `Simulated ${script.status}` });
      return answer(script.status, raw);
    }
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    return answer(400, { message: `Simulator script error: ${err.message}`, reason: 'SIMULATOR_SCRIPT' });
  }
  const text = JSON.stringify(webSearchResults(args.query));
  answer(200, { id, jsonrpc: '2.0', result: { content: [{ type: 'text', text }], isError: false } });
}
