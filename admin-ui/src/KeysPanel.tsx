/**
 * Managed client keys: list, create (the key is shown once), change, disable, delete. The limiter's
 * mode is shown too (shared through Redis, per replica while Redis is down, or one process).
 */
import { useCallback, useState } from 'react';
import { AdminApiError, type AdminApi, type ClientKeyItem, type ClientKeyRequest, type ClientKeysResponse, type CredentialStatusItem } from './api';
import { ConfirmDialog } from './ConfirmDialog';
import { absoluteTime, number } from './format';
import { KeyForm, LIMIT_FIELDS } from './KeyForm';
import { KeySecretDialog } from './KeySecretDialog';
import { usePolling } from './usePolling';

const POLL_MS = 5000;

const MODES: Readonly<Record<string, string>> = {
  shared: 'limits shared by every replica (Redis)',
  local: 'Redis unreachable: each replica enforces its share',
  process: 'one process (no Redis)',
};

function limitsText(item: ClientKeyItem): string {
  const parts = LIMIT_FIELDS.filter((f) => item.limits[f.name] !== undefined).map((f) => `${number(item.limits[f.name]!)} ${f.short}`);
  return parts.length ? parts.join(' · ') : 'no limits';
}

export function KeysPanel({
  api,
  credentials,
  onAuthError,
  notify,
}: {
  api: AdminApi;
  credentials: readonly CredentialStatusItem[];
  onAuthError: (err: unknown) => boolean;
  notify: (kind: 'success' | 'error', text: string) => void;
}) {
  const [data, setData] = useState<ClientKeysResponse>();
  const [loadError, setLoadError] = useState<string>();
  const [editing, setEditing] = useState<ClientKeyItem | 'new'>();
  const [created, setCreated] = useState<{ name: string; secret: string }>();
  const [confirmDelete, setConfirmDelete] = useState<ClientKeyItem>();

  const load = useCallback(async () => {
    try {
      setData(await api.keys());
      setLoadError(undefined);
    } catch (err) {
      if (!onAuthError(err)) setLoadError(err instanceof AdminApiError ? err.message : String(err));
    }
  }, [api, onAuthError]);

  usePolling(load, POLL_MS);

  async function run(action: () => Promise<{ message: string }>): Promise<boolean> {
    try {
      notify('success', (await action()).message);
      return true;
    } catch (err) {
      if (!onAuthError(err)) notify('error', err instanceof AdminApiError ? `${err.message} (HTTP ${err.status})` : String(err));
      return false;
    } finally {
      await load();
    }
  }

  async function submit(request: ClientKeyRequest): Promise<boolean> {
    if (editing === 'new') {
      let secret: { name: string; secret: string } | undefined;
      const ok = await run(async () => {
        const res = await api.createKey(request);
        secret = { name: res.key.name, secret: res.secret };
        return res;
      });
      if (ok) {
        setEditing(undefined);
        setCreated(secret);
      }
      return ok;
    }
    const ok = await run(() => api.updateKey((editing as ClientKeyItem).id, request));
    if (ok) setEditing(undefined);
    return ok;
  }

  return (
    <section className="card" data-testid="keys-panel">
      <div className="section-head">
        <h2>Client keys</h2>
        {data && (
          <span className="muted" data-testid="keys-summary">
            {data.keys.length} {data.keys.length === 1 ? 'key' : 'keys'} · {MODES[data.limiter.mode] ?? data.limiter.mode}
            {data.limiter.mode !== 'process' && <> · {data.limiter.replicas} live replicas</>}
          </span>
        )}
        <button type="button" className="primary" onClick={() => setEditing('new')} data-testid="key-create-open">
          Create key
        </button>
      </div>
      <p className="hint">The configured <code>apiKey</code> keeps working without limits; its usage is shown as “apiKey (configuration)”.</p>
      {loadError && (
        <p className="error" data-testid="keys-error">
          {loadError}
        </p>
      )}
      {data && data.keys.length === 0 && <p className="empty">No client keys yet.</p>}
      {data && data.keys.length > 0 && (
        <div className="table-wrap">
          <table data-testid="keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key</th>
                <th>Status</th>
                <th>Models</th>
                <th>Credentials</th>
                <th>Limits</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {data.keys.map((k) => (
                <tr key={k.id} data-testid={`key-row-${k.id}`} className={k.enabled ? undefined : 'disabled'}>
                  <td>
                    <strong>{k.name}</strong>
                    {k.owner && <div className="muted small">{k.owner}</div>}
                    <div className="muted small" title={absoluteTime(k.createdAt)}>
                      created {new Date(k.createdAt).toLocaleDateString()}
                    </div>
                  </td>
                  <td>
                    <code>{k.hint}</code>
                    <div className="muted small">
                      <code>{k.id}</code>
                    </div>
                  </td>
                  <td data-testid={`key-status-${k.id}`}>
                    {k.enabled ? <span className="status on">Enabled</span> : <span className="status off">Disabled</span>}
                  </td>
                  <td className="small">{k.models.length ? k.models.join(', ') : <span className="muted">any</span>}</td>
                  <td className="small">{k.credentials.length ? k.credentials.map((c) => `#${c}`).join(', ') : <span className="muted">any</span>}</td>
                  <td className="small" data-testid={`key-limits-${k.id}`}>
                    {limitsText(k)}
                  </td>
                  <td>
                    <div className="row-actions">
                      <button type="button" onClick={() => setEditing(k)} data-testid={`key-edit-${k.id}`}>
                        Edit
                      </button>
                      <button type="button" onClick={() => void run(() => api.updateKey(k.id, { enabled: !k.enabled }))} data-testid={`key-toggle-${k.id}`}>
                        {k.enabled ? 'Disable' : 'Enable'}
                      </button>
                      <button type="button" className="danger" onClick={() => setConfirmDelete(k)} data-testid={`key-delete-${k.id}`}>
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <KeyForm
          existing={editing === 'new' ? undefined : editing}
          credentials={credentials}
          onSubmit={submit}
          onCancel={() => setEditing(undefined)}
        />
      )}
      {created && <KeySecretDialog name={created.name} secret={created.secret} onClose={() => setCreated(undefined)} />}
      {confirmDelete && (
        <ConfirmDialog
          title={`Delete API key ${confirmDelete.name}?`}
          message={`Clients using ${confirmDelete.hint} are refused at once, on every replica. Its usage history stays. This cannot be undone.`}
          confirmLabel="Delete"
          danger
          onCancel={() => setConfirmDelete(undefined)}
          onConfirm={() => {
            const id = confirmDelete.id;
            setConfirmDelete(undefined);
            void run(() => api.deleteKey(id));
          }}
        />
      )}
    </section>
  );
}
