import { useState, type FormEvent } from 'react';
import type { Balance, CredentialStatusItem } from './api';
import { absoluteTime, number, relativeTime, tokenState } from './format';

export interface BalanceState {
  loading: boolean;
  balance?: Balance;
  error?: string;
}

export interface RowActions {
  setDisabled(id: number, disabled: boolean): void;
  setPriority(id: number, priority: number): void;
  reset(id: number): void;
  refresh(id: number): void;
  remove(item: CredentialStatusItem): void;
  loadBalance(id: number, fresh: boolean): void;
}

const REASONS: Readonly<Record<string, string>> = {
  Manual: 'disabled by an admin',
  TooManyFailures: 'too many failures',
  TooManyRefreshFailures: 'token refresh keeps failing',
  QuotaExceeded: 'monthly quota used up',
  InvalidRefreshToken: 'refresh token rejected',
  InvalidConfig: 'invalid configuration',
  Suspended: 'account suspended',
};

function PriorityEditor({ item, onSave }: { item: CredentialStatusItem; onSave: (priority: number) => void }) {
  const [value, setValue] = useState(String(item.priority));
  const parsed = Number(value);
  const valid = value.trim() !== '' && Number.isInteger(parsed) && parsed >= 0;
  const dirty = valid && parsed !== item.priority;
  function submit(e: FormEvent) {
    e.preventDefault();
    if (dirty) onSave(parsed);
  }
  return (
    <form className="priority" onSubmit={submit}>
      <input
        type="number"
        min={0}
        step={1}
        aria-label={`Priority of credential ${item.id}`}
        value={value}
        onChange={(e) => setValue(e.target.value)}
        className={valid ? undefined : 'invalid'}
        data-testid={`priority-input-${item.id}`}
      />
      <button type="submit" disabled={!dirty} data-testid={`priority-save-${item.id}`}>
        Set
      </button>
    </form>
  );
}

function BalanceCell({ id, state, onLoad }: { id: number; state?: BalanceState; onLoad: (fresh: boolean) => void }) {
  const b = state?.balance;
  return (
    <div className="balance" data-testid={`balance-${id}`}>
      {state?.loading && !b && <span className="muted">loading…</span>}
      {b && (
        <>
          <div>
            <strong>{number(b.remaining)}</strong> / {number(b.usageLimit)} left
          </div>
          <div className="meter" title={`${number(b.usagePercentage)} % used`}>
            <span style={{ width: `${Math.min(100, Math.max(0, b.usagePercentage))}%` }} />
          </div>
          <div className="muted small">
            {number(b.usagePercentage, 1)} % used
            {b.nextResetAt ? ` · resets ${relativeTime(new Date(b.nextResetAt * 1000).toISOString())}` : ''}
          </div>
        </>
      )}
      {state?.error && <div className="error small">{state.error}</div>}
      <button
        type="button"
        className="link"
        onClick={() => onLoad(true)}
        disabled={state?.loading}
        data-testid={`balance-refresh-${id}`}
      >
        {state?.loading ? 'refreshing…' : 'refresh'}
      </button>
    </div>
  );
}

function Row({ item, balance, actions }: { item: CredentialStatusItem; balance?: BalanceState; actions: RowActions }) {
  const token = tokenState(item.expiresAt);
  return (
    <tr data-testid={`credential-row-${item.id}`} className={item.disabled ? 'disabled' : undefined}>
      <td>
        <strong>#{item.id}</strong>
        {item.isCurrent && <span className="badge current">current</span>}
      </td>
      <td>
        <div>{item.email ?? <span className="muted">no email</span>}</div>
        <div className="muted small">
          {item.authMethod}
          <span data-testid={`credential-endpoint-${item.id}`} title="wire: ide (Kiro IDE) or cli (kiro-cli)">
            {' · '}
            {item.endpoint}
          </span>
          {item.fingerprint && (
            <>
              {' · '}
              <code title="first 8 hex of SHA-256 of the refresh token / API key">{item.fingerprint}</code>
            </>
          )}
          {item.subscriptionTitle && <> · {item.subscriptionTitle}</>}
          {item.hasProxy && <> · proxy {item.proxyUrl}</>}
        </div>
      </td>
      <td data-testid={`credential-status-${item.id}`}>
        {item.disabled ? (
          <span className="status off" title={item.disabledReason}>
            Disabled{item.disabledReason ? ` — ${REASONS[item.disabledReason] ?? item.disabledReason}` : ''}
          </span>
        ) : (
          <span className="status on">Enabled</span>
        )}
        {item.disabledUntil && (
          <div className="muted small" title={absoluteTime(item.disabledUntil)}>
            until {relativeTime(item.disabledUntil)}
          </div>
        )}
        {item.lastError && (
          <div className="error small" title={item.lastError}>
            {item.lastError}
          </div>
        )}
      </td>
      <td>
        <span className="sr-only" data-testid={`credential-priority-${item.id}`}>
          {item.priority}
        </span>
        <PriorityEditor key={item.priority} item={item} onSave={(p) => actions.setPriority(item.id, p)} />
      </td>
      <td>
        <BalanceCell id={item.id} state={balance} onLoad={(fresh) => actions.loadBalance(item.id, fresh)} />
      </td>
      <td className="small usage">
        <div title="successful / failed requests">
          ✔ {item.successCount} · ✖ {item.failureTotal}
        </div>
        <div title="Kiro credits metered to this credential (all replicas)" data-testid={`credential-credits-${item.id}`}>
          {number(item.creditsUsed, 4)} credits
        </div>
        <div className="muted" title="consecutive request failures / consecutive refresh failures (3 disables)">
          in a row {item.failureCount} / {item.refreshFailureCount}
        </div>
        <div className="muted">in flight {item.inFlight}</div>
        <div className="muted" title={absoluteTime(item.lastUsedAt)}>
          used {relativeTime(item.lastUsedAt)}
        </div>
      </td>
      <td className={`small token-${token}`} title={absoluteTime(item.expiresAt)} data-testid={`token-${item.id}`}>
        {item.authMethod === 'api_key' ? 'API key' : token === 'unknown' ? '—' : relativeTime(item.expiresAt)}
      </td>
      <td>
        <div className="row-actions">
        <button
          type="button"
          onClick={() => actions.setDisabled(item.id, !item.disabled)}
          data-testid={`toggle-disabled-${item.id}`}
        >
          {item.disabled ? 'Enable' : 'Disable'}
        </button>
        <button type="button" onClick={() => actions.reset(item.id)} data-testid={`reset-${item.id}`}>
          Reset
        </button>
        {item.authMethod !== 'api_key' && (
          <button type="button" onClick={() => actions.refresh(item.id)} data-testid={`refresh-${item.id}`}>
            Refresh token
          </button>
        )}
        <button
          type="button"
          className="danger"
          onClick={() => actions.remove(item)}
          disabled={!item.disabled}
          title={item.disabled ? undefined : 'Disable the credential before deleting it'}
          data-testid={`delete-${item.id}`}
        >
          Delete
        </button>
        </div>
      </td>
    </tr>
  );
}

export function CredentialTable({
  items,
  balances,
  actions,
}: {
  items: CredentialStatusItem[];
  balances: ReadonlyMap<number, BalanceState>;
  actions: RowActions;
}) {
  if (items.length === 0) {
    return (
      <p className="empty" data-testid="credentials-empty">
        No credentials yet. Add one to start serving requests.
      </p>
    );
  }
  return (
    <div className="table-wrap">
      <table data-testid="credentials-table">
        <thead>
          <tr>
            <th>ID</th>
            <th>Account</th>
            <th>Status</th>
            <th>Priority</th>
            <th>Balance</th>
            <th>Usage</th>
            <th>Token expires</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <Row key={item.id} item={item} balance={balances.get(item.id)} actions={actions} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
