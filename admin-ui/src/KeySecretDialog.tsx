/** The one time a new client key is shown: copy it now, it cannot be retrieved later. */
import { useRef, useState } from 'react';

export function KeySecretDialog({ name, secret, onClose }: { name: string; secret: string; onClose: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);

  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      // No clipboard API (plain http): select it for Ctrl+C instead.
      input.current?.select();
      document.execCommand('copy');
    }
    setCopied(true);
  }

  return (
    <div className="overlay" role="presentation">
      <div className="card dialog wide" role="dialog" aria-modal="true" aria-labelledby="secret-title" data-testid="key-secret-dialog">
        <h2 id="secret-title">API key {name} created</h2>
        <p>
          Copy the key now: it is shown <strong>only this once</strong>. The gateway keeps just its hash, so it cannot be
          shown again; if it is lost, create a new key and delete this one.
        </p>
        <div className="secret">
          <input ref={input} readOnly value={secret} onFocus={(e) => e.target.select()} data-testid="key-secret" aria-label="New API key" />
          <button type="button" onClick={() => void copy()} data-testid="key-secret-copy">
            {copied ? 'Copied' : 'Copy'}
          </button>
        </div>
        <div className="actions">
          <button type="button" className="primary" onClick={onClose} data-testid="key-secret-close">
            I have stored it
          </button>
        </div>
      </div>
    </div>
  );
}
