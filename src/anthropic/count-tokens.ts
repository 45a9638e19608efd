import type { Context } from 'koa';
import type { GatewayConfig } from '../config.js';
import type { CountTokensRequest } from './types.js';
import { validateCountTokensRequest } from './validate.js';
import { resolveModel } from '../kiro/models.js';
import { estimateInputTokens } from '../convert/tokens.js';
import { readJsonBody } from '../http/body.js';

/** Asks the configured external count_tokens API; undefined on any failure (kiro.rs falls back too). */
async function externalCount(config: GatewayConfig, req: CountTokensRequest): Promise<number | undefined> {
  if (!config.countTokensApiUrl) return undefined;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
  if (config.countTokensApiKey) {
    if (config.countTokensAuthType === 'bearer') headers.authorization = `Bearer ${config.countTokensApiKey}`;
    else headers['x-api-key'] = config.countTokensApiKey;
  }
  try {
    const res = await fetch(config.countTokensApiUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: req.model, messages: req.messages, system: req.system, tools: req.tools }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) return undefined;
    const json = (await res.json()) as { input_tokens?: unknown };
    return typeof json.input_tokens === 'number' ? json.input_tokens : undefined;
  } catch {
    return undefined;
  }
}

/** POST /v1/messages/count_tokens (and the /cc/v1 twin). */
export async function handleCountTokens(ctx: Context, config: GatewayConfig): Promise<void> {
  const req = validateCountTokensRequest(await readJsonBody(ctx.req, config.limits.bodyLimitBytes));
  resolveModel(req.model);
  const counted = (await externalCount(config, req)) ?? estimateInputTokens(req);
  ctx.body = { input_tokens: Math.max(1, counted) };
}
