/**
 * A Kiro upstream for tests, the demo and the benchmarks: a real HTTP server speaking
 * generateAssistantResponse (AWS event stream) on both wires (`ide` at /generateAssistantResponse,
 * `cli` at / with x-amz-target; a mix of the two is refused), ListAvailableModels, getUsageLimits,
 * mcp and both token refresh flows.
 *
 * @example
 * const sim = await createSimulator({ rotateRefreshTokens: true });
 * // gateway config: apiBaseUrl = sim.url, socialRefreshUrl = `${sim.url}/refreshToken`, idcRefreshUrl = `${sim.url}/token`
 * sim.setAccount(refreshToken, { mode: 'quota-402' });
 * …
 * expect(sim.stats.streamsAborted).toBe(1);
 * await sim.close();
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccountRegistry } from './accounts.js';
import type { ResolvedOptions, SimContext } from './context.js';
import { ReplyBuilder } from './reply.js';
import { createHandler } from './server.js';
import { createStats, resetStats } from './stats.js';
import type { AccountBehaviour, PendingRefresh, SimulatorOptions, SimulatorStats } from './types.js';

export type * from './types.js';
export { simScript, type Script, type ScriptEvent, type ScriptFault } from './script.js';
export { MIN_REFRESH_TOKEN_LENGTH } from './accounts.js';
export { findMalformation, MAX_TOOL_NAME_LENGTH } from './validate.js';
export { SIM_MODEL_LISTS, INVALID_MODEL_BODY } from './models.js';

/** Text of the default reply. */
export const DEFAULT_TEXT = 'Hello! This is the Kiro simulator answering without a model.';
/** Default request-body limit, a bit below the ~1.25 MB Kiro is reported to reject (§12.2). */
export const DEFAULT_MAX_INPUT_BYTES = 1_200_000;
/** `profileArn` of social refresh answers unless an account sets its own. */
export const DEFAULT_PROFILE_ARN = 'arn:aws:codewhisperer:us-east-1:123456789012:profile/SIMULATOR';
/** Kiro-like idle keep-alive, longer than undici's default so pooled connections are not cut under the client. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** A running simulator. */
export interface Simulator {
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Live counters (the same object throughout; `reset()` zeroes it in place). */
  readonly stats: SimulatorStats;
  /** Sets the behaviour of the account that started with `refreshToken` (creating it if needed). */
  setAccount(refreshToken: string, behaviour: AccountBehaviour): void;
  /** Makes issued access tokens (all, or one account's) expire now. */
  expireAccessTokens(refreshToken?: string): void;
  /** Refresh calls being held by a refresh latency right now (copies), oldest first. */
  pendingRefreshes(): PendingRefresh[];
  /** Zeroes the stats and forgets all accounts and tokens. */
  reset(): void;
  /** Stops listening and drops every connection, stalled streams included. */
  close(): Promise<void>;
}

/** Starts a simulator; resolves once it listens. */
export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const opts: ResolvedOptions = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    firstByteLatencyMs: options.firstByteLatencyMs ?? 0,
    chunkDelayMs: options.chunkDelayMs ?? 0,
    acceptAnyToken: options.acceptAnyToken ?? false,
    refreshLatencyMs: options.refreshLatencyMs ?? 0,
    maxInputBytes: options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES,
    profileArn: options.profileArn ?? DEFAULT_PROFILE_ARN,
    recentRequests: options.recentRequests ?? 50,
  };
  const accounts = new AccountRegistry({
    tokenTtlSeconds: options.tokenTtlSeconds ?? 3600,
    rotateRefreshTokens: options.rotateRefreshTokens ?? false,
  });
  const stats = createStats();
  const replies = new ReplyBuilder(options.defaultText ?? DEFAULT_TEXT, options.defaultChunks ?? 4, opts);
  const pendingRefreshes = new Set<PendingRefresh>();
  const ctx: SimContext = { opts, accounts, stats, replies, pendingRefreshes };
  const control = {
    setAccount: (refreshToken: string, behaviour: AccountBehaviour) => void accounts.set(refreshToken, behaviour),
    reset: () => {
      accounts.clear();
      resetStats(stats);
    },
  };

  const server: Server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, createHandler(ctx, control));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;

  return {
    url: `http://${host}:${port}`,
    port,
    stats,
    setAccount: control.setAccount,
    expireAccessTokens: (refreshToken?: string) => accounts.expireAccessTokens(refreshToken),
    pendingRefreshes: () => [...pendingRefreshes].map((p) => ({ ...p })),
    reset: control.reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
