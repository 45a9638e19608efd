import type Router from '@koa/router';
import { createRouter } from '../http/router.js';
import type { GatewayConfig } from '../config.js';
import { BUILTIN_MODELS, modelListBody, type OfferedModel } from '../kiro/models.js';
import { NotFoundError } from '../errors.js';
import { clientKeyOf, requireClientKey } from './auth.js';
import type { CredentialModels } from '../credentials/model-lists.js';
import type { ClientKeyGate } from '../keys/gate.js';
import { handleCountTokens } from './count-tokens.js';

/** The model list in Anthropic's shape, keeping kiro.rs's extra fields for its clients. */
function modelsPayload(offered: readonly OfferedModel[]) {
  const data = modelListBody(offered).data.map((m) => ({
    ...m,
    type: 'model',
    created_at: new Date(m.created * 1000).toISOString(),
  }));
  return { object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/**
 * Client-facing routes served by Koa: the model list and count_tokens, under /v1 and /cc/v1. The
 * messages routes themselves are served outside Koa (messages-route.ts), through the same gate.
 */
export function createAnthropicRouter(config: GatewayConfig, deps: { models?: CredentialModels; keys: ClientKeyGate }): Router {
  const router = createRouter();
  const auth = requireClientKey(deps.keys);
  // What the pool offers (the union of its credentials' model lists), rebuilt when that changes.
  let built: { from: readonly OfferedModel[]; payload: ReturnType<typeof modelsPayload> } | undefined;
  const current = () => {
    const offered = deps.models?.offered() ?? BUILTIN_MODELS;
    if (built?.from !== offered) built = { from: offered, payload: modelsPayload(offered) };
    return built.payload;
  };

  // A key limited to some models lists only those.
  const visible = (ctx: Parameters<typeof clientKeyOf>[0]) => {
    const key = clientKeyOf(ctx);
    const all = current();
    if (!key.record?.models.length) return all;
    const data = all.data.filter((m) => key.allowsModel(m.id));
    return { ...all, data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  };
  router.get('/v1/models', auth, (ctx) => {
    ctx.body = visible(ctx);
  });
  router.get('/v1/models/:id', auth, (ctx) => {
    const model = visible(ctx).data.find((m) => m.id === ctx.params.id);
    if (!model) throw new NotFoundError(`model: ${ctx.params.id}`);
    ctx.body = model;
  });
  router.post('/v1/messages/count_tokens', auth, (ctx) => handleCountTokens(ctx, config));
  router.post('/cc/v1/messages/count_tokens', auth, (ctx) => handleCountTokens(ctx, config));
  return router;
}
