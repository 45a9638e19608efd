/** The form that creates a client key or changes one: name, owner, models, pinned credentials, limits. */
import { useState, type FormEvent } from 'react';
import type { ClientKeyItem, ClientKeyRequest, CredentialStatusItem, KeyLimits } from './api';

type LimitField = keyof KeyLimits;

export const LIMIT_FIELDS: ReadonlyArray<{ name: LimitField; label: string; short: string; integer: boolean }> = [
  { name: 'requestsPerMinute', label: 'Requests per minute', short: 'req/min', integer: true },
  { name: 'tokensPerMinute', label: 'Tokens per minute (input + output)', short: 'tok/min', integer: true },
  { name: 'tokensPerDay', label: 'Tokens per day (UTC)', short: 'tok/day', integer: true },
  { name: 'creditsPerDay', label: 'Kiro credits per day (UTC)', short: 'credits/day', integer: false },
  { name: 'concurrentStreams', label: 'Concurrent requests', short: 'at once', integer: true },
];

export function KeyForm({
  existing,
  credentials,
  onSubmit,
  onCancel,
}: {
  /** The key being changed; a new key when absent. */
  existing?: ClientKeyItem;
  credentials: readonly CredentialStatusItem[];
  onSubmit: (request: ClientKeyRequest) => Promise<boolean>;
  onCancel: () => void;
}) {
  const [name, setName] = useState(existing?.name ?? '');
  const [owner, setOwner] = useState(existing?.owner ?? '');
  const [enabled, setEnabled] = useState(existing?.enabled ?? true);
  const [models, setModels] = useState(existing?.models.join(', ') ?? '');
  const [pinned, setPinned] = useState<ReadonlySet<number>>(new Set(existing?.credentials ?? []));
  const [limits, setLimits] = useState<Partial<Record<LimitField, string>>>(
    Object.fromEntries(LIMIT_FIELDS.map((f) => [f.name, existing?.limits[f.name] !== undefined ? String(existing.limits[f.name]) : ''])),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) {
      setError('Give the key a name.');
      return;
    }
    const request: ClientKeyRequest = {
      name: name.trim(),
      owner: owner.trim(),
      enabled,
      models: models.split(/[\s,]+/).filter(Boolean),
      credentials: [...pinned],
      limits: {},
    };
    for (const f of LIMIT_FIELDS) {
      const text = limits[f.name]?.trim() ?? '';
      if (text === '') {
        request.limits![f.name] = null;
        continue;
      }
      const value = Number(text);
      if (!Number.isFinite(value) || value < 0 || (f.integer && !Number.isInteger(value))) {
        setError(`${f.label} must be ${f.integer ? 'a whole number' : 'a number'} ≥ 0 (empty = no limit).`);
        return;
      }
      request.limits![f.name] = value;
    }
    setError(undefined);
    setBusy(true);
    try {
      await onSubmit(request);
    } finally {
      setBusy(false);
    }
  }

  function togglePinned(id: number, on: boolean) {
    const next = new Set(pinned);
    if (on) next.add(id);
    else next.delete(id);
    setPinned(next);
  }

  return (
    <div className="overlay" role="presentation">
      <form className="card dialog wide" role="dialog" aria-modal="true" aria-labelledby="key-form-title" onSubmit={submit} data-testid="key-form">
        <h2 id="key-form-title">{existing ? `Change API key ${existing.name}` : 'Create API key'}</h2>
        <div className="form-grid">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} data-testid="key-field-name" autoComplete="off" />
          </label>
          <label>
            Owner (note)
            <input value={owner} onChange={(e) => setOwner(e.target.value)} data-testid="key-field-owner" autoComplete="off" />
          </label>
          <label className="span-2">
            Models it may use (comma-separated, * as wildcard; empty = any)
            <input value={models} onChange={(e) => setModels(e.target.value)} placeholder="claude-sonnet-*, claude-haiku-4-5-20251001" data-testid="key-field-models" />
          </label>
          {LIMIT_FIELDS.map((f) => (
            <label key={f.name}>
              {f.label}
              <input
                type="number"
                min={0}
                step={f.integer ? 1 : 'any'}
                value={limits[f.name] ?? ''}
                placeholder="no limit"
                onChange={(e) => setLimits({ ...limits, [f.name]: e.target.value })}
                data-testid={`key-field-${f.name}`}
              />
            </label>
          ))}
          <label className="checkbox">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} data-testid="key-field-enabled" />
            Enabled
          </label>
          <fieldset className="span-2 pinned">
            <legend>Served only by these credentials (none ticked = any)</legend>
            {credentials.map((c) => (
              <label key={c.id} className="checkbox">
                <input
                  type="checkbox"
                  checked={pinned.has(c.id)}
                  onChange={(e) => togglePinned(c.id, e.target.checked)}
                  data-testid={`key-field-credential-${c.id}`}
                />
                #{c.id} {c.email ?? c.fingerprint ?? ''}
              </label>
            ))}
          </fieldset>
        </div>
        {error && (
          <p className="error" role="alert" data-testid="key-form-error">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={onCancel} disabled={busy} data-testid="key-cancel">
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy} data-testid="key-submit">
            {existing ? 'Save' : 'Create key'}
          </button>
        </div>
      </form>
    </div>
  );
}
