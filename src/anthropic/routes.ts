import type Router from '@koa/router';
import { createRouter } from '../http/router.js';
import type { GatewayConfig } from '../config.js';
import { BUILTIN_MODELS, modelListBody, type OfferedModel } from '../kiro/models.js';
import { NotFoundError } from '../errors.js';
import { requireApiKey, type ClientAuthenticator } from './auth.js';
import type { CredentialModels } from '../credentials/model-lists.js';
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
 * messages routes themselves are served outside Koa (messages-route.ts), with the same `authenticate`.
 */
export function createAnthropicRouter(config: GatewayConfig, authenticate: ClientAuthenticator, deps: { models?: CredentialModels }): Router {
  const router = createRouter();
  const auth = requireApiKey(authenticate);
  // What the pool offers (the union of its credentials' model lists), rebuilt when that changes.
  let built: { from: readonly OfferedModel[]; payload: ReturnType<typeof modelsPayload> } | undefined;
  const current = () => {
    const offered = deps.models?.offered() ?? BUILTIN_MODELS;
    if (built?.from !== offered) built = { from: offered, payload: modelsPayload(offered) };
    return built.payload;
  };

  router.get('/v1/models', auth, (ctx) => {
    ctx.body = current();
  });
  router.get('/v1/models/:id', auth, (ctx) => {
    const model = current().data.find((m) => m.id === ctx.params.id);
    if (!model) throw new NotFoundError(`model: ${ctx.params.id}`);
    ctx.body = model;
  });
  router.post('/v1/messages/count_tokens', auth, (ctx) => handleCountTokens(ctx, config));
  router.post('/cc/v1/messages/count_tokens', auth, (ctx) => handleCountTokens(ctx, config));
  return router;
}
