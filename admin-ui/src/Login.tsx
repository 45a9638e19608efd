import { useState, type FormEvent } from 'react';
import { AdminApi, AdminApiError } from './api';

/** Asks for the admin key and checks it against the API before keeping it. */
export function Login({ onLogin, initialError }: { onLogin: (key: string) => void; initialError?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(initialError);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError('Enter the admin API key.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await new AdminApi(trimmed).credentials();
      onLogin(trimmed);
    } catch (err) {
      if (err instanceof AdminApiError && err.status === 401) setError('Wrong admin key.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit} data-testid="login-form">
        <h1>Kiro Gateway admin</h1>
        <label htmlFor="admin-key">Admin API key</label>
        <input
          id="admin-key"
          type="password"
          autoComplete="current-password"
          autoFocus
          value={key}
          onChange={(e) => setKey(e.target.value)}
          data-testid="login-key"
        />
        {error && (
          <p className="error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy} data-testid="login-submit">
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="hint">The key is kept in this tab only (sessionStorage).</p>
      </form>
    </main>
  );
}
