import { useState } from 'preact/hooks';
import { devToken } from './api';
import type { WebConfig } from './api';
import { saveAuth } from './auth';
import type { Auth } from './auth';

export function SignIn({
  config,
  onSignedIn,
}: {
  config: WebConfig;
  onSignedIn(auth: Auth): void;
}) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const token = config.dev_sign_in ? (await devToken(value.trim())).token : value;
      onSignedIn(saveAuth(token));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>tracechat</h1>
      <p class="lede">
        Chat, then click any message to follow its journey from one screen to the other.
      </p>
      <form onSubmit={submit} aria-label="Sign in">
        {config.dev_sign_in ? (
          <label>
            User name
            <input
              name="user"
              autoComplete="username"
              required
              value={value}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
          </label>
        ) : (
          <label>
            Token
            <textarea
              name="token"
              required
              rows={4}
              value={value}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
          </label>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {config.dev_sign_in ? (
          <p class="hint">
            Development sign-in: any user name gets a token ({config.environment}).
          </p>
        ) : (
          <p class="hint">
            Paste a token, e.g. from <code>pnpm token --user alice</code>.
          </p>
        )}
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
