/**
 * The client-key hooks of the request path, in the order a request meets them:
 *
 * 1. `authenticate(headers)` — presented key → key context (ClientAuthenticator; no I/O);
 * 2. `admit(key, { model })` — before admission: the key may use the model (403 otherwise), then
 *    every limit is checked and reserved at once (at most one Redis call; none for a key without
 *    limits, such as the configuration's `apiKey`); over a limit it throws ClientKeyRateLimited (429);
 * 3. on the returned KeyAdmission: `used(…)` once per upstream answer with what it used, and
 *    `end(error?)` when the request is over, which accounts usage (buffered, no I/O), settles the
 *    limits with the tokens and credits actually used, and releases the concurrency slot.
 */
import { PermissionError, RateLimitError } from '../errors.js';
import type { ClientAuthenticator } from './authenticator.js';
import type { ClientKeyContext } from './key-context.js';
import type { KeyLimiter } from './limiter.js';
import { describeRefusal, rateLimitHeaders, retryAfterSeconds, type LimitDecision } from './limits.js';
import type { UsageCounts, UsageStore } from './usage.js';
import type { LimitName } from './types.js';
import type { CredentialRecord } from '../credentials/types.js';

/** Over a key's limit: 429 `rate_limit_error` with `retry-after` and the `anthropic-ratelimit-*` headers. */
export class ClientKeyRateLimited extends RateLimitError {
  constructor(
    message: string,
    retryAfter: number,
    readonly headers: Readonly<Record<string, string>>,
  ) {
    super(message, retryAfter);
  }
}

/** What the key hooks report for metrics (GatewayMetrics implements it). */
export interface KeyObserver {
  limitChecked(seconds: number, scope: LimitDecision['scope']): void;
  rateLimited(keyId: string, limits: readonly LimitName[]): void;
  requestEnded(keyId: string, counts: UsageCounts): void;
}

/** One request's use of its key, from admission to its end. */
export interface KeyAdmission {
  /** `anthropic-ratelimit-*` headers for the answer (none for a key without limits). */
  readonly headers: Readonly<Record<string, string>>;
  /** The pool's request filters, narrowed to the key's pinned credentials. */
  restrict<F extends { accepts?: (record: CredentialRecord) => boolean }>(filters: F): F;
  /** Only these credentials may serve the request; undefined = any. */
  readonly accepts?: (record: CredentialRecord) => boolean;
  /** What one upstream answer used (call once per answer, whatever became of it). */
  used(usage: { credentialId: number; inputTokens: number; outputTokens: number; credits: number; failed?: boolean }): void;
  /** The request is over (idempotent); `error` when it failed (a client that left is not a failure). */
  end(error?: unknown): void;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

interface CredentialUse {
  inputTokens: number;
  outputTokens: number;
  credits: number;
  failed: boolean;
}

export interface ClientKeyGateDeps {
  authenticator: ClientAuthenticator;
  limiter: KeyLimiter;
  usage: UsageStore;
  /** Whether a credential id exists in the pool (a key pinned only to deleted credentials can never be served). */
  credentialExists: (id: number) => boolean;
  observer?: KeyObserver;
  now?: () => number;
}

/** Client-gone and similar: the request ended without a failure of ours or the upstream's. */
function isFailure(error: unknown): boolean {
  return error !== undefined && (error as Error | undefined)?.name !== 'ClientGone';
}

export class ClientKeyGate {
  private readonly now: () => number;

  constructor(private readonly deps: ClientKeyGateDeps) {
    this.now = deps.now ?? Date.now;
  }

  authenticate(headers: Record<string, string | string[] | undefined>): ClientKeyContext {
    return this.deps.authenticator.authenticate(headers);
  }

  /** Where limits are enforced right now (readiness and metrics). */
  get limiterMode(): KeyLimiter['mode'] {
    return this.deps.limiter.mode;
  }

  get limiterReplicas(): number {
    return this.deps.limiter.replicas;
  }

  async admit(key: ClientKeyContext, request: { model: string }): Promise<KeyAdmission> {
    if (!key.allowsModel(request.model)) {
      throw new PermissionError(
        `API key ${key.label} may not use model ${request.model}; it may use: ${key.record?.models.join(', ') ?? 'any'}`,
      );
    }
    const pinned = key.credentials;
    if (pinned && ![...pinned].some((id) => this.deps.credentialExists(id))) {
      throw new PermissionError(`API key ${key.label} is pinned to credentials that no longer exist (${[...pinned].join(', ')})`);
    }
    const record = key.record;
    let decision: LimitDecision | undefined;
    if (key.limited && record) {
      const started = performance.now();
      decision = await this.deps.limiter.reserve(record);
      this.deps.observer?.limitChecked((performance.now() - started) / 1000, decision.scope);
      if (!decision.allowed) {
        this.deps.usage.record({ at: this.now(), subject: 'key', id: key.id, counts: { rateLimited: 1 } });
        this.deps.observer?.rateLimited(key.id, decision.refused);
        const retryAfter = retryAfterSeconds(decision);
        throw new ClientKeyRateLimited(describeRefusal(key.label, decision), retryAfter, {
          ...rateLimitHeaders(decision.snapshot),
          'retry-after': String(retryAfter),
        });
      }
    }
    return this.admission(key, decision);
  }

  private admission(key: ClientKeyContext, decision: LimitDecision | undefined): KeyAdmission {
    const gate = this;
    const pinned = key.credentials;
    const accepts = pinned ? (r: CredentialRecord) => pinned.has(r.credential.id) : undefined;
    const byCredential = new Map<number, CredentialUse>();
    let ended = false;
    return {
      headers: decision ? rateLimitHeaders(decision.snapshot) : NO_HEADERS,
      accepts,
      restrict(filters) {
        if (!accepts) return filters;
        const own = filters.accepts;
        return { ...filters, accepts: own ? (r: CredentialRecord) => accepts(r) && own(r) : accepts };
      },
      used(u) {
        const prev = byCredential.get(u.credentialId);
        byCredential.set(u.credentialId, {
          inputTokens: (prev?.inputTokens ?? 0) + u.inputTokens,
          outputTokens: (prev?.outputTokens ?? 0) + u.outputTokens,
          credits: (prev?.credits ?? 0) + u.credits,
          failed: (prev?.failed ?? false) || u.failed === true,
        });
      },
      end(error) {
        if (ended) return;
        ended = true;
        gate.account(key, decision, byCredential, isFailure(error));
      },
    };
  }

  /** Usage of the key and of each credential that answered; the limits learn what was used. */
  private account(key: ClientKeyContext, decision: LimitDecision | undefined, byCredential: Map<number, CredentialUse>, failed: boolean): void {
    const at = this.now();
    const total: UsageCounts = { requests: 1, inputTokens: 0, outputTokens: 0, credits: 0, errors: 0, rateLimited: 0 };
    let answerFailed = false;
    for (const [id, use] of byCredential) {
      total.inputTokens += use.inputTokens;
      total.outputTokens += use.outputTokens;
      total.credits += use.credits;
      answerFailed ||= use.failed;
      this.deps.usage.record({
        at,
        subject: 'credential',
        id,
        counts: { requests: 1, inputTokens: use.inputTokens, outputTokens: use.outputTokens, credits: use.credits, errors: use.failed || failed ? 1 : 0 },
      });
    }
    total.errors = failed || answerFailed ? 1 : 0;
    this.deps.usage.record({ at, subject: 'key', id: key.id, counts: total });
    this.deps.observer?.requestEnded(key.id, total);
    if (decision && key.record) {
      this.deps.limiter.settle(key.record, decision, { tokens: total.inputTokens + total.outputTokens, credits: total.credits });
    }
  }
}
