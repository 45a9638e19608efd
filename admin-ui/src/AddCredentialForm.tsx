import { useState, type FormEvent } from 'react';
import type { AddCredentialRequest } from './api';

type Field = Exclude<keyof AddCredentialRequest, 'priority' | 'authMethod' | 'endpoint'>;

interface FieldSpec {
  name: Field;
  label: string;
  secret?: boolean;
  multiline?: boolean;
  placeholder?: string;
  /** Only shown for these auth methods. */
  only?: ReadonlyArray<string>;
}

const FIELDS: ReadonlyArray<FieldSpec> = [
  { name: 'refreshToken', label: 'Refresh token', secret: true, multiline: true, only: ['social', 'idc'] },
  { name: 'clientId', label: 'Client ID', only: ['idc'] },
  { name: 'clientSecret', label: 'Client secret', secret: true, only: ['idc'] },
  { name: 'kiroApiKey', label: 'Kiro API key', secret: true, placeholder: 'ksk_…', only: ['api_key'] },
  { name: 'email', label: 'Email (display only)' },
  { name: 'region', label: 'Region', placeholder: 'us-east-1' },
  { name: 'authRegion', label: 'Auth region', placeholder: 'defaults to region' },
  { name: 'apiRegion', label: 'API region', placeholder: 'defaults to region' },
  { name: 'machineId', label: 'Machine ID', placeholder: '64 hex or UUID; derived when empty' },
  { name: 'proxyUrl', label: 'Proxy URL', placeholder: 'socks5://host:1080, http://…, or direct' },
  { name: 'proxyUsername', label: 'Proxy username' },
  { name: 'proxyPassword', label: 'Proxy password', secret: true },
];

/** Form for AddCredentialRequest. Empty fields are left out so the server applies its defaults. */
export function AddCredentialForm({
  onSubmit,
  onCancel,
}: {
  onSubmit: (request: AddCredentialRequest) => Promise<boolean>;
  onCancel: () => void;
}) {
  const [authMethod, setAuthMethod] = useState('social');
  const [priority, setPriority] = useState('0');
  const [endpoint, setEndpoint] = useState('');
  const [values, setValues] = useState<Partial<Record<Field, string>>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const p = Number(priority);
    if (!Number.isInteger(p) || p < 0) {
      setError('Priority must be a whole number ≥ 0.');
      return;
    }
    const request: AddCredentialRequest = { authMethod, priority: p };
    if (endpoint) request.endpoint = endpoint;
    for (const spec of FIELDS) {
      const value = values[spec.name]?.trim();
      if (value && (!spec.only || spec.only.includes(authMethod))) request[spec.name] = value;
    }
    setError(undefined);
    setBusy(true);
    try {
      if (await onSubmit(request)) setValues({});
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="overlay" role="presentation">
      <form
        className="card dialog wide"
        role="dialog"
        aria-modal="true"
        aria-labelledby="add-title"
        onSubmit={submit}
        data-testid="add-form"
      >
        <h2 id="add-title">Add credential</h2>
        <p className="hint">OAuth credentials are checked with a real token refresh before they are saved.</p>
        <div className="form-grid">
          <label>
            Auth method
            <select value={authMethod} onChange={(e) => setAuthMethod(e.target.value)} data-testid="add-field-authMethod">
              <option value="social">social (Kiro / Google / GitHub login)</option>
              <option value="idc">idc (Builder ID / IAM Identity Center)</option>
              <option value="api_key">api_key (Kiro API key)</option>
            </select>
          </label>
          <label>
            Priority (0 = preferred)
            <input
              type="number"
              min={0}
              step={1}
              value={priority}
              onChange={(e) => setPriority(e.target.value)}
              data-testid="add-field-priority"
            />
          </label>
          <label>
            Endpoint
            <select value={endpoint} onChange={(e) => setEndpoint(e.target.value)} data-testid="add-field-endpoint">
              <option value="">server default (defaultEndpoint)</option>
              <option value="ide">ide (Kiro IDE wire)</option>
              <option value="cli">cli (kiro-cli wire, for ksk_ keys and kiro-cli logins)</option>
            </select>
          </label>
          {FIELDS.filter((f) => !f.only || f.only.includes(authMethod)).map((f) => (
            <label key={f.name} className={f.multiline ? 'span-2' : undefined}>
              {f.label}
              {f.multiline ? (
                <textarea
                  rows={3}
                  value={values[f.name] ?? ''}
                  placeholder={f.placeholder}
                  spellCheck={false}
                  autoComplete="off"
                  onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
                  data-testid={`add-field-${f.name}`}
                />
              ) : (
                <input
                  type={f.secret ? 'password' : 'text'}
                  value={values[f.name] ?? ''}
                  placeholder={f.placeholder}
                  spellCheck={false}
                  autoComplete="off"
                  onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
                  data-testid={`add-field-${f.name}`}
                />
              )}
            </label>
          ))}
        </div>
        {error && (
          <p className="error" role="alert" data-testid="add-error">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={onCancel} disabled={busy} data-testid="add-cancel">
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy} data-testid="add-submit">
            {busy ? 'Validating…' : 'Add credential'}
          </button>
        </div>
      </form>
    </div>
  );
}
