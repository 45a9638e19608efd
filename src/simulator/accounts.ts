/**
 * The simulator's auth model: refresh tokens (with optional rotation), issued access tokens and
 * per-account behaviours. An account is identified by the refresh token it started with.
 */
import { randomBytes } from 'node:crypto';
import type { AccountBehaviour, AccountMode, ApiCall } from './types.js';

/** Refresh tokens shorter than this are rejected, like truncated tokens copied from the IDE (§2.1). */
export const MIN_REFRESH_TOKEN_LENGTH = 100;
const DEFAULT_APPLIES_TO: readonly ApiCall[] = ['generate', 'mcp'];
const REFRESH_MODES: ReadonlySet<AccountMode> = new Set(['refresh-invalid-grant', 'refresh-500']);

/** One simulated Kiro account. */
export interface Account {
  /** The refresh token (or API key) the account started with. */
  readonly id: string;
  refreshToken: string;
  behaviour: AccountBehaviour;
  /** Calls left for `behaviour.mode` when `times` was given. */
  remaining: number | undefined;
}

/** Result of a refresh attempt. */
export type RefreshOutcome =
  | { ok: true; account: Account; accessToken: string; refreshToken: string; expiresIn: number }
  | { ok: false; account: Account | undefined; reason: 'invalid-grant' | 'server-error' };

/** Tracks accounts, refresh tokens and access tokens. */
export class AccountRegistry {
  private readonly byId = new Map<string, Account>();
  private readonly byRefreshToken = new Map<string, Account>();
  /** Refresh tokens replaced by a rotation (refreshing with one is `invalid_grant`), and their account. */
  private readonly retired = new Map<string, Account>();
  private readonly accessTokens = new Map<string, { account: Account; expiresAt: number }>();

  constructor(
    private readonly opts: { tokenTtlSeconds: number; rotateRefreshTokens: boolean; now?: () => number },
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Creates or updates an account; `key` is its first refresh token (or its current one, or an API key). */
  set(key: string, behaviour: AccountBehaviour): Account {
    const account = this.byId.get(key) ?? this.byRefreshToken.get(key) ?? this.create(key);
    account.behaviour = { ...behaviour };
    account.remaining = behaviour.times;
    return account;
  }

  private create(refreshToken: string): Account {
    const account: Account = { id: refreshToken, refreshToken, behaviour: {}, remaining: undefined };
    this.byId.set(refreshToken, account);
    this.byRefreshToken.set(refreshToken, account);
    return account;
  }

  /** Forgets everything. */
  clear(): void {
    this.byId.clear();
    this.byRefreshToken.clear();
    this.retired.clear();
    this.accessTokens.clear();
  }

  /** Makes every issued access token (or those of one account) expired, to provoke forced refreshes. */
  expireAccessTokens(accountKey?: string): void {
    const only = accountKey === undefined ? undefined : (this.byId.get(accountKey) ?? this.byRefreshToken.get(accountKey));
    for (const [token, entry] of this.accessTokens) {
      if (only === undefined || entry.account === only) this.accessTokens.delete(token);
    }
  }

  /** The account a refresh token (current or rotated away) belongs to, without side effects. */
  find(refreshToken: string): Account | undefined {
    return this.byRefreshToken.get(refreshToken) ?? this.retired.get(refreshToken);
  }

  /**
   * Exchanges a refresh token for an access token. Unknown tokens of plausible length are accepted
   * (a new account is created); short, rotated-away or failing ones are refused.
   */
  refresh(refreshToken: string): RefreshOutcome {
    let account = this.byRefreshToken.get(refreshToken);
    if (account === undefined) {
      const retiredFrom = this.retired.get(refreshToken);
      if (retiredFrom !== undefined || refreshToken.length < MIN_REFRESH_TOKEN_LENGTH) {
        return { ok: false, account: retiredFrom, reason: 'invalid-grant' };
      }
      account = this.create(refreshToken);
    }
    const mode = this.take(account, 'refresh');
    if (mode === 'refresh-invalid-grant') return { ok: false, account, reason: 'invalid-grant' };
    if (mode === 'refresh-500') return { ok: false, account, reason: 'server-error' };

    if (account.behaviour.rotateRefreshTokens ?? this.opts.rotateRefreshTokens) {
      this.byRefreshToken.delete(account.refreshToken);
      this.retired.set(account.refreshToken, account);
      account.refreshToken = `aor${randomBytes(96).toString('base64url')}`;
      this.byRefreshToken.set(account.refreshToken, account);
    }
    const accessToken = `aoa${randomBytes(48).toString('base64url')}`;
    this.accessTokens.set(accessToken, { account, expiresAt: this.now() + this.opts.tokenTtlSeconds * 1000 });
    return { ok: true, account, accessToken, refreshToken: account.refreshToken, expiresIn: this.opts.tokenTtlSeconds };
  }

  /**
   * The account a bearer token belongs to: an unexpired issued access token, or an API key
   * (`ksk_…` sent with `tokentype: API_KEY`, §2.5), accepted as its own account.
   */
  authenticate(bearer: string | undefined, tokenType: string | undefined): Account | undefined {
    if (bearer === undefined) return undefined;
    const entry = this.accessTokens.get(bearer);
    if (entry !== undefined) {
      if (entry.expiresAt > this.now()) return entry.account;
      this.accessTokens.delete(bearer);
      return undefined;
    }
    if (tokenType === 'API_KEY' && bearer.startsWith('ksk_')) return this.byId.get(bearer) ?? this.create(bearer);
    return undefined;
  }

  /** The mode that applies to this call, consuming one of its `times`. */
  take(account: Account, call: ApiCall | 'refresh'): AccountMode {
    const mode = account.behaviour.mode ?? 'ok';
    if (mode === 'ok' || account.remaining === 0) return 'ok';
    const isRefreshMode = REFRESH_MODES.has(mode);
    const applies =
      call === 'refresh' ? isRefreshMode : !isRefreshMode && (account.behaviour.appliesTo ?? DEFAULT_APPLIES_TO).includes(call);
    if (!applies) return 'ok';
    if (account.remaining !== undefined) account.remaining--;
    return mode;
  }
}
