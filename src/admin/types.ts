/**
 * What the admin API needs from the rest of the gateway (its wire shapes are in wire-types.ts).
 *
 * The admin routes depend only on this narrow interface (not on the pool, the refresher or the
 * Redis store directly) so they can be tested with a real store and small fakes, and so the
 * integrator decides how each capability is provided in single-process and multi-replica mode.
 */
import type { KiroEndpoint, LoadBalancingMode } from '../config.js';
import type { Credential } from '../credentials/types.js';
import type { CredentialStore } from '../store/store.js';
import type { Balance, ReplicaInfo } from './wire-types.js';
import type { ClientKeys } from '../keys/setup.js';

/**
 * Capabilities the admin routes use. Errors thrown by the async members should be
 * `GatewayError`s: a 4xx class means "the upstream rejected this credential" (answered as 400),
 * anything else is treated as an upstream or network failure (answered as 502 api_error).
 * Error messages are shown to the admin, so they must not contain secrets (the routes still
 * redact the credential's own secrets from them as a second line of defence).
 */
export interface AdminDeps {
  /** Admin key (config `adminApiKey` / env KIRO_ADMIN_API_KEY). Empty or blank = admin API disabled. */
  adminApiKey: string;
  /** Every change goes through the store, which persists it and notifies other replicas. */
  store: CredentialStore;
  /** Requests this replica is serving with credential `id` right now. */
  inFlight(id: number): number;
  /**
   * Credential the pool would pick next in `priority` mode (kiro.rs `currentId`), or null.
   * Optional: without it the first enabled credential by priority is reported.
   */
  currentId?(): number | null;
  getMode(): LoadBalancingMode;
  /** Changes the mode for every replica (and persists it). */
  setMode(mode: LoadBalancingMode): Promise<void> | void;
  /** Unconditional token refresh of an OAuth credential; stores the new tokens itself. */
  refreshToken(id: number): Promise<void>;
  /**
   * Validates a credential before it is added: a real token refresh for OAuth kinds, nothing (or
   * a cheap check) for API keys. Returns the fields to store with it (accessToken, a rotated
   * refreshToken, profileArn, expiresAt…).
   */
  validateNewCredential(credential: Omit<Credential, 'id'>): Promise<Partial<Credential>>;
  /** Balance of one credential; `fresh` bypasses the balance cache (the UI's refresh button). */
  getBalance(id: number, options?: { fresh?: boolean }): Promise<Balance>;
  /** Every live replica sharing the store (just this one in memory mode). */
  listReplicas(): Promise<ReplicaInfo[]>;
  /** Config `defaultEndpoint`: the wire shown for credentials without their own `endpoint`. Default `ide`. */
  defaultEndpoint?: KiroEndpoint;
  /** Config `machineId` (§3): given to added credentials that bring none. Optional. */
  configMachineId?: string;
  /** Managed client keys and usage (`/keys`, `/usage`); those routes are absent without it. */
  keys?: ClientKeys;
  /** Id of this replica, reported as the one that answered `GET /cluster`. */
  replicaId: string;
}
