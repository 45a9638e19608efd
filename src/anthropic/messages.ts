/**
 * POST /v1/messages and /cc/v1/messages: validation, conversion, admission, the upstream call through
 * the credential pool, then one of the answers of responses.ts. Web search goes to web-search.ts.
 * Served by messages-route.ts (outside Koa); it sees the request as an `Exchange`, not a Koa context.
 */
import type { GatewayConfig } from '../config.js';
import { validateMessagesRequest } from './validate.js';
import { convertRequest } from '../convert/request.js';
import { fitRequestImages, hasBase64Images } from '../convert/images.js';
import { KiroToAnthropicStream } from '../convert/stream.js';
import type { KiroClient } from '../kiro/client.js';
import { WireBody } from '../kiro/wire-body.js';
import type { Admission } from './admission.js';
import type { CredentialPool } from '../credentials/pool.js';
import type { CredentialModels } from '../credentials/model-lists.js';
import { modelRouting, placeModel } from './model-routing.js';
import type { Lifecycle } from '../lifecycle.js';
import { readJsonBody } from '../http/body.js';
import { headerOf, type Exchange } from '../http/exchange.js';
import { parseMessagesBody } from './messages-body.js';
import { handleWebSearch } from './web-search.js';
import type { RequestObserver } from './observer.js';
import type { MessagesRequest } from './types.js';
import { jsonResponse, streamResponse, type StreamMode } from './responses.js';
import type { ClientKeyGate } from '../keys/gate.js';
import type { ClientKeyContext } from '../keys/key-context.js';
import { admitClientKey } from './auth.js';
import { ANTHROPIC_FORMAT, type AnswerFormat } from './answer-format.js';
import { RequestAbort } from '../http/request-abort.js';

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
  /** Client keys: permissions, limits and usage (src/keys/gate.ts). */
  keys: ClientKeyGate;
}

class ClientGone extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGone';
  }
}

/** Claude Code sends its session id; reuse it as the Kiro conversation id when metadata has none. */
function sessionIdHeader(exchange: Exchange): string | undefined {
  const value = headerOf(exchange.req, 'x-claude-code-session-id');
  return /^[0-9a-f-]{36}$/i.test(value) ? value : undefined;
}

/**
 * POST /v1/messages and /cc/v1/messages from a client authenticated as `key` (the gate's
 * `authenticate`): the body read and validated, then {@link serveMessages}.
 */
export async function handleMessages(exchange: Exchange, deps: MessagesDeps, mode: StreamMode, key: ClientKeyContext): Promise<void> {
  const raw = await readJsonBody(exchange.req, deps.config.limits.bodyLimitBytes, parseMessagesBody);
  await serveMessages(validateMessagesRequest(raw), exchange, deps, mode, key);
}

/**
 * Answers a validated Messages request on `exchange`: conversion and model routing, admission, the
 * upstream call with failover, then the answer (live or buffered SSE, or JSON) in `format`:
 * Anthropic's unless another API's route (src/openai/) asks for its own. Every failure before the
 * answer starts is thrown (the caller writes it in its API's error shape); after, it ends the
 * answer (an error event).
 */
export async function serveMessages(
  request: MessagesRequest,
  exchange: Exchange,
  deps: MessagesDeps,
  mode: StreamMode,
  key: ClientKeyContext,
  format: AnswerFormat = ANTHROPIC_FORMAT,
): Promise<void> {
  // Oversized images are scaled and every image labelled from its bytes, before Kiro sees them.
  const resizedImages = await fitRequestImages(request);
  const convert = () =>
    convertRequest(request, {
      conversationId: sessionIdHeader(exchange),
      models: { offered: deps.models?.offered(), strict: deps.config.models.strict },
    });
  const needs = { images: hasBase64Images(request) };
  const converted = await placeModel(deps.models, convert, needs);
  // Which Kiro model answers: clients ask for names newer than any offered, mapped by family.
  exchange.res.setHeader('x-kiro-model', converted.kiroModelId);
  const routing = modelRouting(deps.models, request.model, converted.kiroModelId, needs);
  const logFields = exchange.logFields;
  logFields.stream = request.stream === true;
  if (resizedImages > 0) logFields.imagesResized = resizedImages;
  // The key's models and limits, before admission; `keyUse.end()` settles them when the request is over.
  const keyUse = await admitClientKey(exchange, deps.keys, key, request.model);

  // Aborted when the client leaves, at shutdown, or when the client stops reading a stream.
  const abort = new RequestAbort();
  const res = exchange.res;
  const onClose = () => {
    if (!res.writableFinished) abort.abort(new ClientGone());
  };
  res.once('close', onClose);
  const untrack = deps.lifecycle.track(abort);
  let release: () => void;
  try {
    // Served, queued for a bounded time, or refused with 529 + retry-after: never left silent.
    release = await deps.admission.acquire(abort);
  } catch (err) {
    res.off('close', onClose);
    untrack();
    keyUse.end(err);
    if (err instanceof ClientGone) return;
    throw err;
  }
  const obs = deps.observer.begin(exchange, request.model);

  let failed: unknown;
  try {
    // Claude Code's web-search sub-request is answered from Kiro's MCP endpoint, in Anthropic's shape only.
    if (converted.webSearch && format.webSearch) {
      await handleWebSearch(exchange, deps, request, converted, abort.signal, keyUse.accepts);
      return;
    }
    // Serialised per wire on first use: a request may try `ide` and `cli` credentials.
    const body = new WireBody(converted.body, deps.config, converted.toolsJson);
    const openOptions = {
      signal: abort,
      firstByteTimeoutMs: deps.config.upstream.firstByteTimeoutMs,
      onFrameError: (err: Error) => obs.frameError(err),
      onFrame: (bytes: number) => obs.frame(bytes),
      onUnknownEvent: (eventType: string) => obs.unknownEvent(eventType),
    };
    const { value: upstream, lease } = await routing.run(() =>
      deps.pool.execute(
        { kiroModelId: converted.kiroModelId, signal: abort, onEvent: (e) => obs.poolEvent(e), ...keyUse.restrict(routing.filters) },
        (l) =>
          obs.attempt(l.credential.id, () =>
            deps.client.generate(body, l.credential, l.accessToken, openOptions),
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
        await streamResponse(exchange, deps.config.sse, converter, upstream, abort, mode, obs, format);
      } else {
        await jsonResponse(exchange, converter, upstream, abort, obs, format);
      }
    } finally {
      upstream.close();
      lease.release();
      // Metered whatever became of the answer: Kiro bills what it sent.
      deps.pool.recordCredits(lease.credential.id, converter.credits);
      keyUse.used({
        credentialId: lease.credential.id,
        inputTokens: converter.inputTokens,
        outputTokens: converter.outputTokens,
        credits: converter.credits,
        failed: converter.error !== null,
      });
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
    keyUse.end(failed);
  }
}
