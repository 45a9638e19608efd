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
  credentialId: number;
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
    return new KeyUse(this, key, decision);
  }

  /** At the end of a request (KeyUse): usage of the key and of each credential that answered; the limits learn what was used. */
  account(key: ClientKeyContext, decision: LimitDecision | undefined, uses: readonly CredentialUse[], failed: boolean): void {
    const at = this.now();
    const total: UsageCounts = { requests: 1, inputTokens: 0, outputTokens: 0, credits: 0, errors: 0, rateLimited: 0 };
    let answerFailed = false;
    for (const use of uses) {
      total.inputTokens += use.inputTokens;
      total.outputTokens += use.outputTokens;
      total.credits += use.credits;
      answerFailed ||= use.failed;
      this.deps.usage.record({
        at,
        subject: 'credential',
        id: use.credentialId,
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

/** One request's use of its key (a class: one object per request, no closures). */
class KeyUse implements KeyAdmission {
  readonly headers: Readonly<Record<string, string>>;
  readonly accepts: ((record: CredentialRecord) => boolean) | undefined;
  /** What each credential that answered used, in the order they answered (usually one). */
  private readonly uses: CredentialUse[] = [];
  private ended = false;

  constructor(
    private readonly gate: ClientKeyGate,
    private readonly key: ClientKeyContext,
    private readonly decision: LimitDecision | undefined,
  ) {
    this.headers = decision ? rateLimitHeaders(decision.snapshot) : NO_HEADERS;
    const pinned = key.credentials;
    this.accepts = pinned ? (r: CredentialRecord) => pinned.has(r.credential.id) : undefined;
  }

  restrict<F extends { accepts?: (record: CredentialRecord) => boolean }>(filters: F): F {
    const accepts = this.accepts;
    if (!accepts) return filters;
    const own = filters.accepts;
    return { ...filters, accepts: own ? (r: CredentialRecord) => accepts(r) && own(r) : accepts };
  }

  used(u: { credentialId: number; inputTokens: number; outputTokens: number; credits: number; failed?: boolean }): void {
    const use = this.uses.find((x) => x.credentialId === u.credentialId);
    if (!use) {
      this.uses.push({ credentialId: u.credentialId, inputTokens: u.inputTokens, outputTokens: u.outputTokens, credits: u.credits, failed: u.failed === true });
      return;
    }
    use.inputTokens += u.inputTokens;
    use.outputTokens += u.outputTokens;
    use.credits += u.credits;
    use.failed ||= u.failed === true;
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.gate.account(this.key, this.decision, this.uses, isFailure(error));
  }
}
