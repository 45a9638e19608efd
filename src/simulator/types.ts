/**
 * Public types of the Kiro simulator: options, account behaviours and the live stats object.
 * The per-request script language is in script.ts.
 */

/** One model of an account's list, in Kiro's shape. */
export interface SimModel {
  modelId: string;
  modelName?: string;
  rateMultiplier?: number;
  supportedInputTypes?: string[];
  tokenLimits?: { maxInputTokens?: number; maxOutputTokens?: number };
}

/** Options of `createSimulator()`. Every field is optional. */
export interface SimulatorOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 (the default) picks a free one. */
  port?: number;
  /** Delay before the response head of generateAssistantResponse (time to first byte). Default 0. */
  firstByteLatencyMs?: number;
  /** Delay between event chunks of a stream: the "token rate". 0 (default) sends the whole reply at once. */
  chunkDelayMs?: number;
  /** Text of the reply when the request carries no script. */
  defaultText?: string;
  /** Number of assistantResponseEvents the default text is split into. Default 4. */
  defaultChunks?: number;
  /** Skip access-token validation on the API endpoints (benchmarks). Default false. */
  acceptAnyToken?: boolean;
  /** Lifetime of issued access tokens (`expiresIn`). Default 3600. */
  tokenTtlSeconds?: number;
  /** Refresh answers carry a new refresh token and retire the old one. Default false. */
  rotateRefreshTokens?: boolean;
  /** Delay before answering a refresh call. Default 0. */
  refreshLatencyMs?: number;
  /** generateAssistantResponse bodies above this size get 400 "Input is too long.". Default 1,200,000. */
  maxInputBytes?: number;
  /** `profileArn` returned by the social refresh when the account sets none. */
  profileArn?: string;
  /** How many recent requests `stats.requests` keeps. Default 50. */
  recentRequests?: number;
}

/** What an account does on its next calls (§9.2 statuses, §2.4 refresh failures). */
export type AccountMode =
  | 'ok'
  | 'rate-limit-429'
  | 'server-error-500'
  | 'server-error-503'
  | 'quota-402'
  | 'suspended-403'
  | 'invalid-token-403'
  | 'refresh-invalid-grant'
  | 'refresh-500';

/** API calls an account mode can apply to (refresh modes always apply to refresh calls). */
export type ApiCall = 'generate' | 'mcp' | 'usage' | 'models';

/** Numbers returned by getUsageLimits (§1.3); all optional. */
export interface UsageNumbers {
  /** Default 0. */
  currentUsage?: number;
  /** Default 1000. */
  usageLimit?: number;
  /** Epoch seconds; default the first day of next month (UTC). */
  nextDateReset?: number;
  freeTrial?: { currentUsage: number; usageLimit: number; status?: 'ACTIVE' | 'EXPIRED'; expiry?: number };
  bonuses?: Array<{ currentUsage: number; usageLimit: number; status?: 'ACTIVE' | 'EXPIRED' }>;
}

/**
 * Behaviour of one account, set with `sim.setAccount(refreshToken, behaviour)`; the account is keyed
 * by the refresh token it started with and keeps its behaviour across rotations.
 *
 * @example
 * sim.setAccount(tokenA, { mode: 'rate-limit-429', times: 2 }); // the next 2 generate/mcp calls get 429
 * sim.setAccount(tokenB, { mode: 'refresh-invalid-grant' });     // every refresh fails for good
 */
export interface AccountBehaviour {
  /** Default 'ok'. */
  mode?: AccountMode;
  /** Apply `mode` to the next N matching calls only, then behave as 'ok'. Default: always. */
  times?: number;
  /** Which API calls an API-error mode hits. Default ['generate', 'mcp']. */
  appliesTo?: ApiCall[];
  /** getUsageLimits `subscriptionInfo.subscriptionTitle`. Default 'KIRO PRO+'. */
  subscriptionTitle?: string;
  usage?: UsageNumbers;
  /** Returned by the social refresh. Default the simulator's `profileArn`. */
  profileArn?: string;
  /**
   * What ListAvailableModels lists for the account, and the only models generateAssistantResponse
   * accepts from it (others get 400 INVALID_MODEL_ID). Default `SIM_MODEL_LISTS.default`.
   */
  models?: readonly SimModel[];
  /** Delay before answering this account's refresh calls; overrides the simulator's `refreshLatencyMs`. */
  refreshLatencyMs?: number;
  /** Rotate this account's refresh token on refresh; overrides the simulator's `rotateRefreshTokens`. */
  rotateRefreshTokens?: boolean;
}

/**
 * A refresh call the simulator is holding (its latency not yet over): who is waiting for it, by the
 * caller's TCP port, so a test can find the process that made it without knowing how it decided to.
 */
export interface PendingRefresh {
  /** Id of the account the refresh token belongs to, when known. */
  account: string | undefined;
  /** The caller's (remote) TCP port of the refresh call's connection. */
  clientPort: number;
  /** Date.now() when the call arrived. */
  since: number;
}

/** Calls served for one account. */
export interface AccountStats {
  refresh: number;
  generate: number;
  usage: number;
  mcp: number;
  /** ListAvailableModels calls. */
  models: number;
}

/** One request as the simulator saw it (newest last in `stats.requests`). */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text if it was not JSON; undefined if empty. */
  body: unknown;
  /** Id (first refresh token) of the account the call was attributed to. */
  account: string | undefined;
  status: number;
  /** Why a generateAssistantResponse request was answered 400, for test failure messages. */
  rejection?: string;
  /** Date.now() when answered. */
  at: number;
}

/** Live counters; the same object is updated in place (and zeroed by `reset()`). */
export interface SimulatorStats {
  generate: number;
  refresh: number;
  usage: number;
  mcp: number;
  models: number;
  /** generateAssistantResponse requests answered 400 (malformed or too long). */
  rejected: number;
  streamsInFlight: number;
  streamsCompleted: number;
  /** Streams whose client closed the socket before the stream finished. */
  streamsAborted: number;
  /** Keyed by the refresh token the account started with (or the API key). */
  byAccount: Record<string, AccountStats>;
  requests: RecordedRequest[];
}
