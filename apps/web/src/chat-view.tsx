import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Chat, Mark } from './chat';
import type { ConnectionState } from './connection';
import type { ChatMessage } from './protocol';

const MARK_TEXT: Record<Mark, { symbol: string; title: string }> = {
  pending: {
    symbol: '○',
    title:
      'pending: not acknowledged yet; it is sent again with the same id until the gateway confirms it',
  },
  sent: {
    symbol: '✓',
    title:
      'sent: the gateway acknowledged it, so it is stored durably and is pushed to every online member',
  },
  delivered: {
    symbol: '✓✓',
    title:
      'delivered: another member’s page showed it and answered "received" (seen in the message’s trace)',
  },
};

export function connectionLabel(state: ConnectionState, now: number): string {
  switch (state.kind) {
    case 'open':
      return 'connected';
    case 'connecting':
      return state.attempt === 0 ? 'connecting…' : `reconnecting (attempt ${state.attempt})…`;
    case 'waiting':
      return `offline, retrying in ${Math.max(0, Math.ceil((state.retryAt - now) / 1000))} s`;
    case 'closed':
      return 'disconnected';
  }
}

export function Sidebar({ chat }: { chat: Chat }) {
  const [name, setName] = useState('');
  const [isPublic, setPublic] = useState(false);
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const join = (event.submitter as HTMLButtonElement | null)?.value === 'join';
    const session = name.trim() || (join ? '' : `s-${crypto.randomUUID().slice(0, 8)}`);
    if (!session) return;
    setName('');
    void chat.open(session, join ? {} : { public: isPublic });
  };
  return (
    <nav class="sidebar" aria-label="Sessions">
      <form onSubmit={submit} class="session-form" aria-label="Open a session">
        <label>
          Session name
          <input
            name="session"
            value={name}
            placeholder="e.g. team-room"
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label class="inline">
          <input
            type="checkbox"
            checked={isPublic}
            onChange={(e) => setPublic(e.currentTarget.checked)}
          />
          Public (anyone may join)
        </label>
        <div class="buttons">
          <button type="submit" value="create">
            Create
          </button>
          <button type="submit" value="join" class="secondary">
            Join
          </button>
        </div>
      </form>
      <ul class="session-list">
        {[...chat.sessions.values()].map((s) => (
          <li key={s.name}>
            <button
              type="button"
              class={s.name === chat.active ? 'session active' : 'session'}
              aria-current={s.name === chat.active ? 'true' : undefined}
              onClick={() => void chat.open(s.name)}
            >
              <span class="session-name">{s.name}</span>
              {s.unread > 0 && (
                <span class="unread" aria-label={`${s.unread} unread`}>
                  {s.unread}
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? ''
    : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function MarkView({ mark }: { mark: Mark }) {
  const { symbol, title } = MARK_TEXT[mark];
  return (
    <span class={`mark ${mark}`} data-mark={mark} title={title} aria-label={mark}>
      {symbol}
    </span>
  );
}

export function SessionPane({
  chat,
  selected,
  onSelect,
}: {
  chat: Chat;
  selected: string | null;
  onSelect(message: ChatMessage): void;
}) {
  const session = chat.active ? chat.sessions.get(chat.active) : undefined;
  const listRef = useRef<HTMLOListElement>(null);
  const stick = useRef(true);
  const before = useRef<{ height: number; top: number; first: number } | null>(null);
  const messages = session?.log?.messages() ?? [];
  const pending = session ? chat.pending(session.name) : [];
  const first = messages[0]?.seq ?? 0;

  useLayoutEffect(() => {
    const list = listRef.current;
    if (!list) return;
    const prev = before.current;
    if (prev && prev.first !== first && first < prev.first) {
      // older messages were put on top: keep what the reader was looking at in place
      list.scrollTop = prev.top + (list.scrollHeight - prev.height);
    } else if (stick.current) {
      list.scrollTop = list.scrollHeight;
    }
    before.current = { height: list.scrollHeight, top: list.scrollTop, first };
  });

  if (!session) {
    return (
      <section class="pane empty" aria-label="Chat">
        <p>Create a session or join one by name. Invite someone, then chat.</p>
      </section>
    );
  }

  const onScroll = () => {
    const list = listRef.current;
    if (!list) return;
    stick.current = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    before.current = { height: list.scrollHeight, top: list.scrollTop, first };
    if (list.scrollTop < 40) void chat.older();
  };

  const older = session.log?.olderPage();
  return (
    <section class="pane" aria-label="Chat">
      <header class="pane-header">
        <h2>{session.name}</h2>
        <InviteForm chat={chat} />
        <button type="button" class="secondary" onClick={() => void chat.leave()}>
          Leave
        </button>
      </header>
      <ol class="messages" role="log" aria-label="Messages" ref={listRef} onScroll={onScroll}>
        <li class="older">
          {older ? (
            <button
              type="button"
              class="link"
              disabled={session.loadingOlder}
              onClick={() => void chat.older()}
            >
              {session.loadingOlder ? 'loading…' : 'Load older messages'}
            </button>
          ) : (
            session.log && <span>start of {session.name}</span>
          )}
        </li>
        {messages.map((m) => {
          const mark = chat.mark(m);
          return (
            <li
              key={m.message_id}
              class={`message${m.from === chat.user ? ' own' : ''}${selected === m.message_id ? ' selected' : ''}`}
              data-seq={m.seq}
            >
              <button
                type="button"
                class="message-body"
                title="Show this message's journey"
                aria-label={`${m.from}: ${m.text}`}
                onClick={() => onSelect(m)}
              >
                <span class="meta">
                  <span class="from">{m.from}</span>
                  <span class="seq">#{m.seq}</span>
                  <time dateTime={m.sent_at}>{time(m.sent_at)}</time>
                  {mark && <MarkView mark={mark} />}
                </span>
                <span class="text">{m.text}</span>
              </button>
            </li>
          );
        })}
        {pending.map((p) => (
          <li key={p.client_msg_id} class="message own pending-message">
            <div class="message-body" aria-label={`${chat.user}: ${p.text}`}>
              <span class="meta">
                <span class="from">{chat.user}</span>
                <MarkView mark="pending" />
              </span>
              <span class="text">{p.text}</span>
            </div>
          </li>
        ))}
      </ol>
      <Composer chat={chat} session={session.name} />
    </section>
  );
}

function InviteForm({ chat }: { chat: Chat }) {
  const [user, setUser] = useState('');
  return (
    <form
      class="invite"
      aria-label="Invite"
      onSubmit={(e) => {
        e.preventDefault();
        if (!user.trim()) return;
        void chat.invite(user.trim());
        setUser('');
      }}
    >
      <label>
        <span class="visually-hidden">Invite user</span>
        <input
          name="invite"
          placeholder="user to invite"
          aria-label="Invite user"
          value={user}
          onInput={(e) => setUser(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="secondary">
        Invite
      </button>
    </form>
  );
}

function Composer({ chat, session }: { chat: Chat; session: string }) {
  const [text, setText] = useState('');
  const [debug, setDebug] = useState(false);
  const send = () => {
    if (!text.trim()) return;
    chat.send(text, debug, session);
    setText('');
  };
  return (
    <form
      class="composer"
      aria-label="Send a message"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label class="visually-hidden" for="composer-text">
        Message
      </label>
      <textarea
        id="composer-text"
        name="text"
        rows={2}
        placeholder={`Message ${session} (Enter sends, Shift+Enter is a new line)`}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
      />
      <label
        class="inline debug"
        title="Debug: the trace of this message is always kept by sampling"
      >
        <input
          type="checkbox"
          checked={debug}
          onChange={(e) => setDebug(e.currentTarget.checked)}
        />
        debug
      </label>
      <button type="submit">Send</button>
    </form>
  );
}
