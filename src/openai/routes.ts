/**
 * The OpenAI-compatible routes: `POST /v1/chat/completions`, `POST /v1/responses` and
 * `GET /v1/models` asked the OpenAI way. Each maps its request to an Anthropic Messages request and
 * runs the one pipeline (pool, admission, limits, metrics, traces, logs) with its own answer format.
 */
import type { Context, Middleware, Next } from 'koa';
import type Router from '@koa/router';
import { createRouter } from '../http/router.js';
import type { GatewayConfig } from '../config.js';
import { readJsonBody } from '../http/body.js';
import { NotFoundError, type ErrorRenderer } from '../errors.js';
import { modelListBody, type OfferedModel } from '../kiro/models.js';
import { clientKeyOf, requireClientKey } from '../anthropic/auth.js';
import { serveMessages, type MessagesDeps } from '../anthropic/messages.js';
import { exchangeOfKoa } from '../anthropic/messages-route.js';
import { validateMessagesRequest } from '../anthropic/validate.js';
import { modelListForKey } from '../anthropic/model-list.js';
import type { AnswerFormat } from '../anthropic/answer-format.js';
import type { MessagesRequest } from '../anthropic/types.js';
import { ModelNotFoundError, toOpenAiError } from './errors.js';
import { chatToMessages } from './chat-request.js';
import { chatCompletionsFormat } from './chat-answer.js';
import { responsesToMessages } from './responses-request.js';
import { responsesFormat } from './responses-answer.js';

/** Paths that belong to OpenAI's API whatever the method: their errors are told the OpenAI way. */
const OPENAI_PATHS = /^\/v1\/(?:chat|responses|completions)(?:\/|$)/;
const MODELS_PATHS = /^\/v1\/models(?:\/|$)/;

/**
 * Whether a client speaks OpenAI's API where both APIs share a path (`/v1/models`): a Bearer key and
 * no `anthropic-version`, which the Anthropic SDKs and Claude Code always send.
 */
export function asksOpenAiWay(ctx: Context): boolean {
  return /^Bearer\s/i.test(ctx.get('authorization')) && ctx.get('anthropic-version') === '';
}

const renderOpenAiError: ErrorRenderer = (err) => toOpenAiError(err);

/**
 * Marks requests of the OpenAI API so that every error they meet, wherever it is thrown (the key
 * check, the body, the pipeline, the 404 of an unknown path or method), gets OpenAI's error shape.
 * Mount before the routers.
 */
export const markOpenAiRequests: Middleware = async (ctx, next) => {
  if (OPENAI_PATHS.test(ctx.path) || (MODELS_PATHS.test(ctx.path) && asksOpenAiWay(ctx))) ctx.state.renderError = renderOpenAiError;
  await next();
};

/** The OpenAI list shape of the models the pool offers. */
function openAiModelEntries(offered: readonly OfferedModel[]) {
  return modelListBody(offered).data.map((m) => ({ id: m.id, object: 'model', created: m.created, owned_by: m.owned_by }));
}

/**
 * Runs the pipeline with a mapped request, as the client key `requireClientKey` found (its models,
 * limits and usage apply as on /v1/messages). The mapping checked every OpenAI field; the Anthropic
 * check still runs, so the pipeline never sees a request its own route would refuse. The pipeline
 * writes the answer on the response itself; a failure before it started is thrown to Koa's error
 * middleware, which renders it the OpenAI way (`markOpenAiRequests`). A 404 from the pipeline is
 * always about the model.
 */
async function run(ctx: Context, deps: MessagesDeps, request: MessagesRequest, format: AnswerFormat): Promise<void> {
  try {
    await serveMessages(validateMessagesRequest(request), exchangeOfKoa(ctx), deps, 'live', clientKeyOf(ctx), format);
    ctx.respond = false;
  } catch (err) {
    if (ctx.res.headersSent) {
      ctx.respond = false;
      return;
    }
    if (err instanceof NotFoundError && !(err instanceof ModelNotFoundError)) throw new ModelNotFoundError(err.message, { cause: err });
    throw err;
  }
}

/** The OpenAI routes; mount before the Anthropic router (they share `/v1/models`). */
export function createOpenAiRouter(config: GatewayConfig, deps: MessagesDeps): Router {
  const router = createRouter();
  const auth = requireClientKey(deps.keys);
  const models = modelListForKey(deps.models, openAiModelEntries, (data) => ({ object: 'list', data }));
  /** Answers the OpenAI way only when asked so; other clients go on to the Anthropic route. */
  const openAiOnly = (handler: (ctx: Context) => void) => (ctx: Context, next: Next) =>
    asksOpenAiWay(ctx) ? auth(ctx, async () => handler(ctx)) : next();

  router.post('/v1/chat/completions', auth, async (ctx) => {
    const { request, includeUsage } = chatToMessages(await readJsonBody(ctx.req, config.limits.bodyLimitBytes));
    await run(ctx, deps, request, chatCompletionsFormat(includeUsage));
  });
  router.post('/v1/responses', auth, async (ctx) => {
    const { request, echo } = responsesToMessages(await readJsonBody(ctx.req, config.limits.bodyLimitBytes));
    await run(ctx, deps, request, responsesFormat(echo));
  });
  router.get('/v1/responses/:id', auth, (ctx) => {
    throw new NotFoundError(`response ${ctx.params.id}: this gateway stores no responses`);
  });
  router.get(
    '/v1/models',
    openAiOnly((ctx) => {
      ctx.body = models(clientKeyOf(ctx)).list;
    }),
  );
  router.get(
    '/v1/models/:id',
    openAiOnly((ctx) => {
      const model = models(clientKeyOf(ctx)).data.find((m) => m.id === ctx.params.id);
      if (!model) throw new ModelNotFoundError(`model: ${ctx.params.id}`);
      ctx.body = model;
    }),
  );
  return router;
}
