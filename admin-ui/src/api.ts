/**
 * Client of the admin API (/api/admin, kiro.rs-compatible). The wire shapes are the server's own
 * (src/admin/wire-types.ts, a types-only module): imported as types, so nothing of the server
 * enters the bundle.
 */
import type {
  AddCredentialRequest,
  Balance,
  ClientKeyChangeResponse,
  ClientKeyRequest,
  ClientKeysResponse,
  ClusterResponse,
  CreatedClientKeyResponse,
  CredentialsStatusResponse,
  LoadBalancingBody,
  LoadBalancingMode,
  SuccessResponse,
  UsageResponse,
} from '../../src/admin/wire-types';

export type * from '../../src/admin/wire-types';

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

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { 'x-api-key': this.key };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${BASE}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      throw new AdminApiError(`Gateway unreachable: ${(err as Error).message}`, 0, 'network_error');
    }
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
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

  credentials(): Promise<CredentialsStatusResponse> {
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
  mode(): Promise<LoadBalancingBody> {
    return this.call('GET', '/config/load-balancing');
  }
  setMode(mode: LoadBalancingMode): Promise<LoadBalancingBody> {
    return this.call('PUT', '/config/load-balancing', { mode });
  }
  cluster(): Promise<ClusterResponse> {
    return this.call('GET', '/cluster');
  }
  keys(): Promise<ClientKeysResponse> {
    return this.call('GET', '/keys');
  }
  createKey(request: ClientKeyRequest): Promise<CreatedClientKeyResponse> {
    return this.call('POST', '/keys', request);
  }
  updateKey(id: string, request: ClientKeyRequest): Promise<ClientKeyChangeResponse> {
    return this.call('PATCH', `/keys/${encodeURIComponent(id)}`, request);
  }
  deleteKey(id: string): Promise<ClientKeyChangeResponse> {
    return this.call('DELETE', `/keys/${encodeURIComponent(id)}`);
  }
  usage(query: UsageQuery): Promise<UsageResponse> {
    return this.call('GET', `/usage?${usageParams(query)}`);
  }
  /** The usage CSV as a file to save (the admin key travels in a header, so a plain link cannot fetch it). */
  async usageCsv(query: UsageQuery): Promise<Blob> {
    const res = await this.send('GET', `/usage.csv?${usageParams(query)}`);
    if (!res.ok) throw new AdminApiError(`CSV download failed: HTTP ${res.status}`, res.status, 'http_error');
    return res.blob();
  }
}

/** What the usage card asks for. */
export interface UsageQuery {
  granularity: 'hour' | 'day';
  subject: 'key' | 'credential';
}

function usageParams(query: UsageQuery): string {
  return new URLSearchParams({ granularity: query.granularity, subject: query.subject }).toString();
}
