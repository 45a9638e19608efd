import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AddCredentialForm } from './AddCredentialForm';
import {
  AdminApi,
  AdminApiError,
  type AddCredentialRequest,
  type ClusterResponse,
  type CredentialStatusItem,
  type CredentialsStatusResponse,
  type LoadBalancingMode,
} from './api';
import { ClusterPanel } from './ClusterPanel';
import { ConfirmDialog } from './ConfirmDialog';
import { CredentialTable, type BalanceState, type RowActions } from './CredentialTable';
import { Login } from './Login';
import { KeysPanel } from './KeysPanel';
import { UsagePanel } from './UsagePanel';
import { usePolling } from './usePolling';

const KEY_STORAGE = 'kiro-gateway-admin-key';
/** How often the list, mode and cluster view are reloaded. */
const POLL_MS = 5000;
const NOTICE_MS = 6000;

interface Notice {
  kind: 'success' | 'error';
  text: string;
}

function errorText(err: unknown): string {
  if (err instanceof AdminApiError) return err.status ? `${err.message} (HTTP ${err.status})` : err.message;
  return err instanceof Error ? err.message : String(err);
}

function Dashboard({ api, onLogout }: { api: AdminApi; onLogout: (reason?: string) => void }) {
  const [status, setStatus] = useState<CredentialsStatusResponse>();
  const [mode, setMode] = useState<LoadBalancingMode>();
  const [cluster, setCluster] = useState<ClusterResponse>();
  const [clusterError, setClusterError] = useState<string>();
  const [loadError, setLoadError] = useState<string>();
  const [balances, setBalances] = useState<ReadonlyMap<number, BalanceState>>(new Map());
  const [notice, setNotice] = useState<Notice>();
  const [adding, setAdding] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState<CredentialStatusItem>();
  const [lastLoaded, setLastLoaded] = useState<Date>();
  const loading = useRef(false);
  const requestedBalances = useRef(new Set<number>());

  const handleAuthError = useCallback(
    (err: unknown) => {
      if (err instanceof AdminApiError && err.status === 401) {
        onLogout('The admin key is no longer accepted. Sign in again.');
        return true;
      }
      return false;
    },
    [onLogout],
  );

  const load = useCallback(async () => {
    if (loading.current) return;
    loading.current = true;
    try {
      const [s, m] = await Promise.all([api.credentials(), api.mode()]);
      setStatus(s);
      setMode(m.mode);
      setLoadError(undefined);
      setLastLoaded(new Date());
    } catch (err) {
      if (!handleAuthError(err)) setLoadError(errorText(err));
    }
    try {
      setCluster(await api.cluster());
      setClusterError(undefined);
    } catch (err) {
      if (!handleAuthError(err)) setClusterError(errorText(err));
    } finally {
      loading.current = false;
    }
  }, [api, handleAuthError]);

  usePolling(load, POLL_MS);

  useEffect(() => {
    if (notice?.kind !== 'success') return;
    const timer = window.setTimeout(() => setNotice(undefined), NOTICE_MS);
    return () => window.clearTimeout(timer);
  }, [notice]);

  const loadBalance = useCallback(
    async (id: number, fresh: boolean) => {
      setBalances((prev) => new Map(prev).set(id, { ...prev.get(id), loading: true }));
      try {
        const balance = await api.balance(id, fresh);
        setBalances((prev) => new Map(prev).set(id, { loading: false, balance }));
      } catch (err) {
        handleAuthError(err);
        setBalances((prev) => new Map(prev).set(id, { ...prev.get(id), loading: false, error: errorText(err) }));
      }
    },
    [api, handleAuthError],
  );

  // Each credential's balance is fetched once when it first appears; the refresh button re-fetches.
  useEffect(() => {
    for (const c of status?.credentials ?? []) {
      if (!requestedBalances.current.has(c.id)) {
        requestedBalances.current.add(c.id);
        void loadBalance(c.id, false);
      }
    }
  }, [status, loadBalance]);

  /** Runs an action, shows its message or error, then reloads. */
  const run = useCallback(
    async (action: () => Promise<{ message: string }>): Promise<boolean> => {
      try {
        const res = await action();
        setNotice({ kind: 'success', text: res.message });
        return true;
      } catch (err) {
        if (!handleAuthError(err)) setNotice({ kind: 'error', text: errorText(err) });
        return false;
      } finally {
        await load();
      }
    },
    [handleAuthError, load],
  );

  const actions: RowActions = useMemo(
    () => ({
      setDisabled: (id, disabled) => void run(() => api.setDisabled(id, disabled)),
      setPriority: (id, priority) => void run(() => api.setPriority(id, priority)),
      reset: (id) => void run(() => api.reset(id)),
      refresh: (id) => void run(() => api.refresh(id)),
      remove: (item) => setConfirmDelete(item),
      loadBalance: (id, fresh) => void loadBalance(id, fresh),
    }),
    [api, run, loadBalance],
  );

  async function add(request: AddCredentialRequest): Promise<boolean> {
    const added = await run(() => api.add(request));
    if (added) setAdding(false);
    return added;
  }

  async function changeMode(next: LoadBalancingMode) {
    await run(async () => {
      const res = await api.setMode(next);
      return { message: `Load balancing mode set to ${res.mode}` };
    });
  }

  return (
    <div className="app">
      <header>
        <h1>Kiro Gateway admin</h1>
        <div className="header-tools">
          <label className="mode">
            Load balancing
            <select
              value={mode ?? ''}
              disabled={!mode}
              onChange={(e) => void changeMode(e.target.value as LoadBalancingMode)}
              data-testid="mode-select"
            >
              <option value="priority">priority (stick to the preferred credential)</option>
              <option value="balanced">balanced (least used first)</option>
            </select>
          </label>
          <button type="button" onClick={() => onLogout()} data-testid="logout">
            Sign out
          </button>
        </div>
      </header>

      {notice && (
        <div className={`notice ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-testid={`notice-${notice.kind}`}>
          <span>{notice.text}</span>
          <button type="button" className="link" onClick={() => setNotice(undefined)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      {loadError && (
        <div className="notice error" role="alert" data-testid="load-error">
          Could not load credentials: {loadError}
        </div>
      )}

      <section className="card">
        <div className="section-head">
          <h2>Credentials</h2>
          {status && (
            <span className="muted" data-testid="credentials-summary">
              {status.available} of {status.total} enabled
              {status.currentId !== null && <> · current #{status.currentId}</>}
              {lastLoaded && <> · updated {lastLoaded.toLocaleTimeString()}</>}
            </span>
          )}
          <button type="button" className="primary" onClick={() => setAdding(true)} data-testid="add-open">
            Add credential
          </button>
        </div>
        {status ? (
          <CredentialTable items={status.credentials} balances={balances} actions={actions} />
        ) : (
          !loadError && <p className="muted">Loading…</p>
        )}
      </section>

      <KeysPanel
        api={api}
        credentials={status?.credentials ?? []}
        onAuthError={handleAuthError}
        notify={(kind, text) => setNotice({ kind, text })}
      />

      <UsagePanel api={api} onAuthError={handleAuthError} />

      <ClusterPanel cluster={cluster} error={clusterError} />

      {adding && <AddCredentialForm onSubmit={add} onCancel={() => setAdding(false)} />}
      {confirmDelete && (
        <ConfirmDialog
          title={`Delete credential #${confirmDelete.id}?`}
          message={`${confirmDelete.email ?? confirmDelete.fingerprint ?? 'This credential'} will be removed from every replica and from credentials.json. This cannot be undone.`}
          confirmLabel="Delete"
          danger
          onCancel={() => setConfirmDelete(undefined)}
          onConfirm={() => {
            const id = confirmDelete.id;
            setConfirmDelete(undefined);
            requestedBalances.current.delete(id);
            void run(() => api.remove(id));
          }}
        />
      )}
    </div>
  );
}

export function App() {
  const [key, setKey] = useState<string | null>(() => sessionStorage.getItem(KEY_STORAGE));
  const [logoutReason, setLogoutReason] = useState<string>();
  const api = useMemo(() => (key ? new AdminApi(key) : undefined), [key]);

  const login = useCallback((k: string) => {
    sessionStorage.setItem(KEY_STORAGE, k);
    setLogoutReason(undefined);
    setKey(k);
  }, []);
  const logout = useCallback((reason?: string) => {
    sessionStorage.removeItem(KEY_STORAGE);
    setLogoutReason(reason);
    setKey(null);
  }, []);

  if (!api) return <Login onLogin={login} initialError={logoutReason} />;
  return <Dashboard api={api} onLogout={logout} />;
}
