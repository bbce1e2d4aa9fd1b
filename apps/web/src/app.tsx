import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { WebConfig } from './api';
import { clearAuth, loadAuth } from './auth';
import type { Auth } from './auth';
import { Chat } from './chat';
import { SessionPane, Sidebar, connectionLabel } from './chat-view';
import { JourneyPanel } from './journey-panel';
import type { ChatMessage } from './protocol';
import { SignIn } from './sign-in';

export function App({ config }: { config: WebConfig }) {
  const [auth, setAuth] = useState<Auth | null>(loadAuth);
  if (!auth) return <SignIn config={config} onSignedIn={setAuth} />;
  return (
    <ChatApp
      key={auth.token}
      auth={auth}
      config={config}
      onSignOut={() => {
        clearAuth();
        setAuth(null);
      }}
    />
  );
}

function useChat(chat: Chat, onExpired: () => void): void {
  const [, setVersion] = useState(0);
  const expired = useRef(onExpired);
  expired.current = onExpired;
  useEffect(() => {
    const off = chat.subscribe(() => setVersion((v) => v + 1));
    chat.start();
    const online = () => chat.connection.reconnectNow();
    window.addEventListener('online', online);
    // the countdown of a waiting reconnect
    // and the token's expiry: the gateway refuses an expired one, so sign in again
    const tick = setInterval(() => {
      if (!loadAuth()) expired.current();
      else if (chat.state.kind === 'waiting') setVersion((v) => v + 1);
    }, 1000);
    return () => {
      off();
      clearInterval(tick);
      window.removeEventListener('online', online);
      void chat.stop();
    };
  }, [chat]);
}

function ChatApp({
  auth,
  config,
  onSignOut,
}: {
  auth: Auth;
  config: WebConfig;
  onSignOut(): void;
}) {
  const chat = useMemo(() => new Chat(auth.user, auth.token, config), [auth, config]);
  useChat(chat, onSignOut);
  const [selected, setSelected] = useState<ChatMessage | null>(null);
  const state = chat.state;
  return (
    <div class="app">
      <header class="top">
        <h1>tracechat</h1>
        <span
          class={`connection ${state.kind}`}
          role="status"
          aria-label="Connection"
          data-state={state.kind}
        >
          {connectionLabel(state, Date.now())}
        </span>
        <span class="who">
          signed in as <strong>{auth.user}</strong>
        </span>
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {chat.notice && (
        <div
          class={`notice ${chat.notice.kind}`}
          role={chat.notice.kind === 'error' ? 'alert' : 'status'}
        >
          {chat.notice.text}
          <button
            type="button"
            class="link"
            aria-label="Dismiss"
            onClick={() => chat.dismissNotice()}
          >
            ×
          </button>
        </div>
      )}
      <div class="body">
        <Sidebar chat={chat} />
        <SessionPane chat={chat} selected={selected?.message_id ?? null} onSelect={setSelected} />
        {selected && (
          <JourneyPanel
            key={selected.message_id}
            message={selected}
            token={auth.token}
            onResend={(text) => chat.send(text, true, selected.session)}
            onClose={() => setSelected(null)}
          />
        )}
      </div>
    </div>
  );
}
