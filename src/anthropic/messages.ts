/**
 * POST /v1/messages and /cc/v1/messages: validation, conversion, admission, the upstream call through
 * the credential pool, then one of the answers of responses.ts. Web search goes to web-search.ts.
 */
import type { Context } from 'koa';
import type { GatewayConfig } from '../config.js';
import { validateMessagesRequest } from './validate.js';
import { convertRequest } from '../convert/request.js';
import { fitRequestImages, hasBase64Images } from '../convert/images.js';
import { KiroToAnthropicStream } from '../convert/stream.js';
import type { KiroClient } from '../kiro/client.js';
import { WireBody } from '../kiro/wire-body.js';
import { openUpstream } from './upstream-open.js';
import type { Admission } from './admission.js';
import type { CredentialPool } from '../credentials/pool.js';
import type { CredentialModels } from '../credentials/model-lists.js';
import { modelRouting, placeModel } from './model-routing.js';
import type { Lifecycle } from '../lifecycle.js';
import { readJsonBody } from '../http/body.js';
import { handleWebSearch } from './web-search.js';
import type { RequestObserver } from './observer.js';
import { jsonResponse, streamResponse, type StreamMode } from './responses.js';
import { ANTHROPIC_FORMAT, type AnswerFormat } from './answer-format.js';
import type { MessagesRequest } from './types.js';

/** What the messages handlers need; built once in createApp. */
export interface MessagesDeps {
  config: GatewayConfig;
  pool: CredentialPool;
  client: KiroClient;
  lifecycle: Lifecycle;
  /** Per-credential model lists; without it the built-in table and the free-tier Opus rule apply. */
  models?: CredentialModels;
  observer: RequestObserver;
  admission: Admission;
}

class ClientGone extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGone';
  }
}

/** Claude Code sends its session id; reuse it as the Kiro conversation id when metadata has none. */
function sessionIdHeader(ctx: Context): string | undefined {
  const value = ctx.get('x-claude-code-session-id');
  return /^[0-9a-f-]{36}$/i.test(value) ? value : undefined;
}

/** POST /v1/messages and /cc/v1/messages. */
export async function handleMessages(ctx: Context, deps: MessagesDeps, mode: StreamMode): Promise<void> {
  const raw = await readJsonBody(ctx, deps.config.limits.bodyLimitBytes);
  await runMessages(ctx, deps, validateMessagesRequest(raw), mode);
}

/**
 * The pipeline for a validated request: conversion, admission, the upstream call through the pool,
 * and the answer in `format` (Anthropic's unless another API's route asks for its own).
 */
export async function runMessages(
  ctx: Context,
  deps: MessagesDeps,
  request: MessagesRequest,
  mode: StreamMode,
  format: AnswerFormat = ANTHROPIC_FORMAT,
): Promise<void> {
  // Oversized images are scaled and every image labelled from its bytes, before Kiro sees them.
  const resizedImages = await fitRequestImages(request);
  const convert = () =>
    convertRequest(request, {
      conversationId: sessionIdHeader(ctx),
      models: { offered: deps.models?.offered(), strict: deps.config.models.strict },
    });
  const needs = { images: hasBase64Images(request) };
  const converted = await placeModel(deps.models, convert, needs);
  // Which Kiro model answers: clients ask for names newer than any offered, mapped by family.
  ctx.set('x-kiro-model', converted.kiroModelId);
  const routing = modelRouting(deps.models, request.model, converted.kiroModelId, needs);
  const logFields = (ctx.state.logFields ??= {}) as Record<string, unknown>;
  logFields.stream = request.stream === true;
  if (resizedImages > 0) logFields.imagesResized = resizedImages;

  const controller = new AbortController();
  const res = ctx.res;
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new ClientGone());
  };
  res.once('close', onClose);
  const untrack = deps.lifecycle.track(controller);
  let release: () => void;
  try {
    // Served, queued for a bounded time, or refused with 529 + retry-after: never left silent.
    release = await deps.admission.acquire(controller.signal);
  } catch (err) {
    res.off('close', onClose);
    untrack();
    if (err instanceof ClientGone) return;
    throw err;
  }
  const obs = deps.observer.begin(ctx, request.model);

  let failed: unknown;
  try {
    if (converted.webSearch && format.webSearch) {
      await handleWebSearch(ctx, deps, request, converted, controller.signal);
      return;
    }
    // Serialised per wire on first use: a request may try `ide` and `cli` credentials.
    const body = new WireBody(converted.body, deps.config);
    const openOptions = {
      signal: controller.signal,
      firstByteTimeoutMs: deps.config.upstream.firstByteTimeoutMs,
      onFrameError: (err: Error) => obs.frameError(err),
      onFrame: (bytes: number) => obs.frame(bytes),
      onUnknownEvent: (eventType: string) => obs.unknownEvent(eventType),
    };
    const { value: upstream, lease } = await routing.run(() =>
      deps.pool.execute(
        { kiroModelId: converted.kiroModelId, signal: controller.signal, onEvent: (e) => obs.poolEvent(e), ...routing.filters },
        (l) =>
          obs.attempt(l.credential.id, () =>
            openUpstream((signal) => deps.client.generate(body, l.credential, l.accessToken, signal), openOptions),
          ),
      ),
    );
    obs.upstreamReady(lease.credential.id, lease.attempt);
    const converter = new KiroToAnthropicStream({
      model: request.model,
      thinking: converted.thinking,
      inputTokensEstimate: converted.inputTokensEstimate,
      windowSize: converted.windowSize,
      toolNameMap: converted.toolNameMap,
      extractThinking: request.stream ? true : deps.config.extractThinking,
    });
    try {
      if (request.stream) {
        await streamResponse(ctx, deps.config.sse, converter, upstream, controller, mode, obs, format);
      } else {
        await jsonResponse(ctx, converter, upstream, controller, obs, format);
      }
    } finally {
      upstream.close();
      lease.release();
      // Metered whatever became of the answer: Kiro bills what it sent.
      deps.pool.recordCredits(lease.credential.id, converter.credits);
    }
  } catch (err) {
    // The client left while we waited for Kiro: nobody to answer, and not a server error.
    if (err instanceof ClientGone) return;
    failed = err;
    throw err;
  } finally {
    res.off('close', onClose);
    release();
    untrack();
    obs.end(failed);
  }
}
