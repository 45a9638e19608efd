/**
 * Client of the admin API (/api/admin, kiro.rs-compatible). The UI is a separate package, so the
 * wire shapes are declared here rather than imported from the server.
 */

export type LoadBalancingMode = 'priority' | 'balanced';

export interface CredentialItem {
  id: number;
  priority: number;
  disabled: boolean;
  disabledReason?: string;
  disabledUntil: string | null;
  failureCount: number;
  isCurrent: boolean;
  expiresAt: string | null;
  authMethod: 'social' | 'idc' | 'api_key';
  hasProfileArn: boolean;
  fingerprint: string | null;
  maskedApiKey: string | null;
  email: string | null;
  subscriptionTitle: string | null;
  successCount: number;
  lastUsedAt: string | null;
  hasProxy: boolean;
  proxyUrl?: string;
  refreshFailureCount: number;
  /** `ide` or `cli`: the wire the credential speaks (its own, else the configured default). */
  endpoint: string;
  region: string | null;
  apiRegion: string | null;
  failureTotal: number;
  /** Kiro credits metered to this credential, summed over every replica (not tokens). */
  creditsUsed: number;
  lastError: string | null;
  cooldownUntil: string | null;
  inFlight: number;
}

export interface CredentialsStatus {
  total: number;
  available: number;
  currentId: number | null;
  credentials: CredentialItem[];
}

export interface Balance {
  id: number;
  subscriptionTitle: string | null;
  currentUsage: number;
  usageLimit: number;
  remaining: number;
  usagePercentage: number;
  nextResetAt: number | null;
}

export interface Replica {
  id: string;
  lastSeen: string;
  inFlight: number;
  self: boolean;
}

export interface ClusterStatus {
  answeredBy: string;
  replicas: Replica[];
}

export interface SuccessResponse {
  success: true;
  message: string;
  credentialId?: number;
}

/** The AddCredentialRequest fields the form sends (kiro.rs §10). */
export interface AddCredentialRequest {
  refreshToken?: string;
  authMethod?: string;
  clientId?: string;
  clientSecret?: string;
  priority?: number;
  region?: string;
  authRegion?: string;
  apiRegion?: string;
  machineId?: string;
  email?: string;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
  kiroApiKey?: string;
  endpoint?: string;
}

/** A failed call, with the API's own message (Anthropic error envelope) when there is one. */
export class AdminApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

const BASE = '/api/admin';

export class AdminApi {
  constructor(private readonly key: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { 'x-api-key': this.key };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${BASE}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      throw new AdminApiError(`Gateway unreachable: ${(err as Error).message}`, 0, 'network_error');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = (json as { error?: { type?: string; message?: string } } | undefined)?.error;
      throw new AdminApiError(
        error?.message ?? `HTTP ${res.status} ${res.statusText}`.trim(),
        res.status,
        error?.type ?? 'http_error',
      );
    }
    return json as T;
  }

  credentials(): Promise<CredentialsStatus> {
    return this.call('GET', '/credentials');
  }
  add(request: AddCredentialRequest): Promise<SuccessResponse> {
    return this.call('POST', '/credentials', request);
  }
  remove(id: number): Promise<SuccessResponse> {
    return this.call('DELETE', `/credentials/${id}`);
  }
  setDisabled(id: number, disabled: boolean): Promise<SuccessResponse> {
    return this.call('POST', `/credentials/${id}/disabled`, { disabled });
  }
  setPriority(id: number, priority: number): Promise<SuccessResponse> {
    return this.call('POST', `/credentials/${id}/priority`, { priority });
  }
  reset(id: number): Promise<SuccessResponse> {
    return this.call('POST', `/credentials/${id}/reset`);
  }
  refresh(id: number): Promise<SuccessResponse> {
    return this.call('POST', `/credentials/${id}/refresh`);
  }
  balance(id: number, fresh = false): Promise<Balance> {
    return this.call('GET', `/credentials/${id}/balance${fresh ? '?refresh=1' : ''}`);
  }
  mode(): Promise<{ mode: LoadBalancingMode }> {
    return this.call('GET', '/config/load-balancing');
  }
  setMode(mode: LoadBalancingMode): Promise<{ mode: LoadBalancingMode }> {
    return this.call('PUT', '/config/load-balancing', { mode });
  }
  cluster(): Promise<ClusterStatus> {
    return this.call('GET', '/cluster');
  }
}
