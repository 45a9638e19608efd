import type Router from '@koa/router';
import { createRouter } from '../http/router.js';
import type { GatewayConfig } from '../config.js';
import { modelListBody, type OfferedModel } from '../kiro/models.js';
import { NotFoundError } from '../errors.js';
import { clientKeyOf, requireClientKey } from './auth.js';
import type { CredentialModels } from '../credentials/model-lists.js';
import type { ClientKeyGate } from '../keys/gate.js';
import { handleCountTokens } from './count-tokens.js';
import { modelListForKey } from './model-list.js';

/** The model entries in Anthropic's shape, keeping kiro.rs's extra fields for its clients. */
function modelEntries(offered: readonly OfferedModel[]) {
  return modelListBody(offered).data.map((m) => ({
    ...m,
    type: 'model',
    created_at: new Date(m.created * 1000).toISOString(),
  }));
}

/** Anthropic's list answer around some entries. */
function anthropicModelList<M extends { id: string }>(data: readonly M[]) {
  return { object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/**
 * Client-facing routes served by Koa: the model list and count_tokens, under /v1 and /cc/v1. The
 * messages routes themselves are served outside Koa (messages-route.ts), through the same gate.
 */
export function createAnthropicRouter(config: GatewayConfig, deps: { models?: CredentialModels; keys: ClientKeyGate }): Router {
  const router = createRouter();
  const auth = requireClientKey(deps.keys);
  const models = modelListForKey(deps.models, modelEntries, anthropicModelList);
  router.get('/v1/models', auth, (ctx) => {
    ctx.body = models(clientKeyOf(ctx)).list;
  });
  router.get('/v1/models/:id', auth, (ctx) => {
    const model = models(clientKeyOf(ctx)).data.find((m) => m.id === ctx.params.id);
    if (!model) throw new NotFoundError(`model: ${ctx.params.id}`);
    ctx.body = model;
  });
  router.post('/v1/messages/count_tokens', auth, (ctx) => handleCountTokens(ctx, config));
  router.post('/cc/v1/messages/count_tokens', auth, (ctx) => handleCountTokens(ctx, config));
  return router;
}
