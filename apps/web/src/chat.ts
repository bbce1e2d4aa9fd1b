import type { Span } from '@opentelemetry/api';
import { messageTrace } from './api';
import type { WebConfig } from './api';
import { Connection } from './connection';
import type { ConnectionState } from './connection';
import { Outbox } from './outbox';
import type { PendingSend } from './outbox';
import { Disconnected, ProtocolError } from './protocol';
import type { ChatMessage, HistoryFrame, PushFrame } from './protocol';
import { SessionLog } from './session-log';
import type { HistoryRequest } from './session-log';
import { BrowserTracing, WebAttributes, formatTraceparent } from './tracing';

/**
 * What a message of this user shows: queued, durable (acked), or delivered: another member's page
 * painted it and answered `received`, as its trace records.
 */
export type Mark = 'pending' | 'sent' | 'delivered';

export interface SessionState {
  readonly name: string;
  log: SessionLog | null;
  unread: number;
  loadingOlder: boolean;
}

export interface Notice {
  readonly kind: 'error' | 'info';
  readonly text: string;
}

const RETRY_RATE_LIMITED_MS = 2000;
/** When to look for a recipient's `received` in a sent message's trace (ms after the ack). */
const DELIVERY_CHECKS_MS = [800, 1500, 3000, 6000, 12_000];
/** How many delivered marks a reload keeps (the latest). */
const DELIVERED_KEPT = 500;

interface Tag {
  readonly key: string;
  readonly value: unknown;
}

interface TraceShape {
  readonly spans?: readonly {
    readonly operationName: string;
    readonly processID?: string;
    readonly tags?: readonly Tag[];
  }[];
  readonly processes?: Record<string, { readonly tags?: readonly Tag[] }>;
}

const userOf = (tags: readonly Tag[] | undefined): unknown =>
  tags?.find((t) => t.key === 'chat.user.id' || t.key === 'enduser.id')?.value;

/**
 * Whether a Jaeger trace holds another user's `received`: a delivery ack (`chat.user.id`) or a
 * render on their page (`enduser.id`, on the web process).
 */
export function deliveredToOther(trace: unknown, me: string): boolean {
  const { spans = [], processes = {} } = (trace ?? {}) as TraceShape;
  return spans.some((span) => {
    if (
      span.operationName !== 'gateway.ws.delivery_ack' &&
      span.operationName !== 'web.chat.render'
    ) {
      return false;
    }
    const user = userOf(span.tags) ?? userOf(processes[span.processID ?? '']?.tags);
    return typeof user === 'string' && user !== me;
  });
}

/**
 * The page's chat: one connection, the sessions this user has joined, their logs, the outbox of
 * unacked sends and the browser spans. Components read its fields and re-render on `subscribe`.
 */
export class Chat {
  readonly connection: Connection;
  readonly sessions = new Map<string, SessionState>();
  active: string | null = null;
  notice: Notice | null = null;
  private readonly outbox: Outbox;
  private readonly tracing: BrowserTracing;
  private readonly delivered: Set<string>;
  private stopped = false;
  private readonly sendSpans = new Map<string, Span>();
  private readonly inFlight = new Set<string>();
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly user: string,
    readonly token: string,
    readonly config: WebConfig,
  ) {
    const wsUrl = new URL(config.ws_path, location.href);
    wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    wsUrl.searchParams.set('token', token);
    this.connection = new Connection(wsUrl.href, {
      onState: () => this.changed(),
      onOpen: () => void this.resync(),
      onPush: (frame) => this.onPush(frame),
    });
    this.outbox = new Outbox(sessionStorage, `tracechat.outbox.${user}`);
    this.delivered = new Set(readList(sessionStorage, this.deliveredKey));
    this.tracing = new BrowserTracing(token, config.otlp_path);
    for (const name of readList(localStorage, this.sessionsKey)) this.addSession(name);
    const active = sessionStorage.getItem(this.activeKey);
    if (active && this.sessions.has(active)) this.active = active;
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  start(): void {
    this.connection.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.connection.stop();
    await this.tracing.shutdown().catch(() => undefined);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Joins (creating it when new) and, unless `show` is false, shows a session. */
  async open(name: string, options: { public?: boolean; show?: boolean } = {}): Promise<void> {
    try {
      const joined = await this.connection.request({
        type: 'join',
        session: name,
        ...(options.public ? { public: true } : {}),
      });
      const state = this.addSession(name);
      if (options.show !== false) this.show(name);
      const first = !state.log;
      state.log ??= new SessionLog();
      const page = state.log.start(joined.last_seq);
      if (first) await this.load(name, page);
      await this.fillGap(name);
    } catch (err) {
      this.fail(err, `could not open ${name}`);
    }
  }

  show(name: string): void {
    this.active = name;
    sessionStorage.setItem(this.activeKey, name);
    const state = this.sessions.get(name);
    if (state) state.unread = 0;
    this.changed();
  }

  async invite(user: string): Promise<void> {
    const session = this.active;
    if (!session) return;
    try {
      await this.connection.request({ type: 'invite', session, user });
      this.notice = { kind: 'info', text: `${user} was invited to ${session}` };
      this.changed();
    } catch (err) {
      this.fail(err, `could not invite ${user}`);
    }
  }

  async leave(): Promise<void> {
    const session = this.active;
    if (!session) return;
    try {
      await this.connection.request({ type: 'leave', session });
      this.sessions.delete(session);
      this.saveSessions();
      this.active = null;
      sessionStorage.removeItem(this.activeKey);
      this.changed();
    } catch (err) {
      this.fail(err, `could not leave ${session}`);
    }
  }

  async older(): Promise<void> {
    const state = this.active ? this.sessions.get(this.active) : undefined;
    const page = state?.log?.olderPage();
    if (!state || !page || state.loadingOlder) return;
    state.loadingOlder = true;
    this.changed();
    try {
      await this.load(state.name, page);
    } catch (err) {
      this.fail(err, 'could not load older messages');
    } finally {
      state.loadingOlder = false;
      this.changed();
    }
  }

  /** Queues a message; it is sent now when connected, else as soon as the connection is back. */
  send(text: string, debug: boolean, session = this.active): void {
    if (!session || text.trim() === '') return;
    const entry: PendingSend = {
      client_msg_id: crypto.randomUUID(),
      session,
      text,
      debug,
      queued_at: Date.now(),
    };
    this.sendSpans.set(
      entry.client_msg_id,
      this.tracing.startSend(session, entry.client_msg_id, debug),
    );
    this.outbox.add(entry);
    this.changed();
    void this.trySend(entry);
  }

  /** The sends of a session still waiting for their ack. */
  pending(session: string): PendingSend[] {
    return this.outbox.forSession(session);
  }

  mark(message: ChatMessage): Mark | null {
    if (message.from !== this.user) return null;
    return this.delivered.has(message.message_id) ? 'delivered' : 'sent';
  }

  dismissNotice(): void {
    this.notice = null;
    this.changed();
  }

  private async trySend(entry: PendingSend): Promise<void> {
    if (this.inFlight.has(entry.client_msg_id) || !this.connection.isOpen) return;
    this.inFlight.add(entry.client_msg_id);
    let span = this.sendSpans.get(entry.client_msg_id);
    if (!span) {
      // queued before a reload: the trace starts again here
      span = this.tracing.startSend(entry.session, entry.client_msg_id, entry.debug);
      span.setAttribute(WebAttributes.retries, 1);
      this.sendSpans.set(entry.client_msg_id, span);
    }
    try {
      const ack = await this.connection.request({
        type: 'send',
        session: entry.session,
        text: entry.text,
        client_msg_id: entry.client_msg_id,
        traceparent: formatTraceparent(span.spanContext()),
        ...(entry.debug ? { debug: true } : {}),
      });
      span.setAttribute(WebAttributes.messageId, ack.message_id);
      span.setAttribute(WebAttributes.seq, ack.seq);
      span.end();
      this.sendSpans.delete(entry.client_msg_id);
      this.outbox.remove(entry.client_msg_id);
      const log = this.sessions.get(entry.session)?.log;
      if (log) {
        log.add([
          {
            session: entry.session,
            message_id: ack.message_id,
            seq: ack.seq,
            from: this.user,
            text: entry.text,
            sent_at: new Date().toISOString(),
            trace_id: ack.trace_id,
          },
        ]);
        void this.fillGap(entry.session);
      }
      if (!ack.duplicate) void this.watchDelivery(ack.message_id);
      this.changed();
    } catch (err) {
      if (err instanceof Disconnected) return; // retried with the same client_msg_id on reconnect
      if (err instanceof ProtocolError && err.code === 'RATE_LIMITED') {
        setTimeout(() => void this.trySend(entry), RETRY_RATE_LIMITED_MS);
        return;
      }
      BrowserTracing.fail(span, err as Error);
      this.sendSpans.delete(entry.client_msg_id);
      this.outbox.remove(entry.client_msg_id);
      this.fail(err, 'the message was not sent');
    } finally {
      this.inFlight.delete(entry.client_msg_id);
    }
  }

  /**
   * Looks a few times into the sent message's trace for another member's `received`. The page
   * never gets a push of its own message, so the trace is where a delivery becomes visible; a
   * trace that sampling dropped leaves the mark at "sent".
   */
  private async watchDelivery(messageId: string): Promise<void> {
    let waited = 0;
    for (const at of DELIVERY_CHECKS_MS) {
      await new Promise((r) => setTimeout(r, at - waited));
      waited = at;
      if (this.stopped) return;
      const answer = await messageTrace(this.token, messageId).catch(() => null);
      if (answer?.status === 'not_sampled') return;
      if (answer?.status === 'found' && deliveredToOther(answer.trace, this.user)) {
        this.delivered.add(messageId);
        const kept = [...this.delivered].slice(-DELIVERED_KEPT);
        sessionStorage.setItem(this.deliveredKey, JSON.stringify(kept));
        this.changed();
        return;
      }
    }
  }

  /** After every (re)connect: learn each open session's latest seq, fill gaps, resend the outbox. */
  private async resync(): Promise<void> {
    const active = this.active;
    const loaded = [...this.sessions.values()].filter((s) => s.log).map((s) => s.name);
    if (active && !loaded.includes(active)) await this.open(active);
    await Promise.all(loaded.map((name) => this.open(name, { show: false })));
    for (const entry of this.outbox.all()) void this.trySend(entry);
  }

  private onPush(frame: PushFrame): void {
    const state = this.addSession(frame.session);
    const log = state.log;
    if (log?.has(frame.message_id)) {
      this.changed();
      return;
    }
    if (log) {
      log.add([
        {
          session: frame.session,
          message_id: frame.message_id,
          seq: frame.seq,
          from: frame.from,
          text: frame.text,
          sent_at: frame.sent_at,
          trace_id: frame.trace_id,
        },
      ]);
      if (log.gap()) void this.fillGap(frame.session);
    }
    if (this.active !== frame.session) state.unread++;
    this.changed();
    if (frame.from !== this.user) this.rendered(frame);
  }

  /** Ends `web.chat.render` once the frame with the message is painted, then answers `received`. */
  private rendered(frame: PushFrame): void {
    const span = this.tracing.startRender(
      frame.session,
      frame.message_id,
      frame.seq,
      frame.traceparent,
    );
    span.setAttribute('chat.render.visible', this.active === frame.session && !document.hidden);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      span.end();
      this.connection.notify({
        type: 'received',
        message_id: frame.message_id,
        traceparent: formatTraceparent(span.spanContext()),
      });
    };
    // the callback runs just before the next paint; the timeout after it, once it is on screen.
    // A hidden tab gets no frames, so a second timer closes the span anyway.
    requestAnimationFrame(() => setTimeout(finish, 0));
    setTimeout(finish, 1000);
  }

  private async load(name: string, page: HistoryRequest): Promise<number> {
    const reply: HistoryFrame = await this.connection.request({
      type: 'history',
      session: name,
      ...page,
    });
    const log = this.sessions.get(name)?.log;
    if (!log) return 0;
    const added = log.add(reply.messages.map((m) => ({ ...m, session: name })));
    this.changed();
    return reply.messages.length === 0 ? 0 : Math.max(added, 1);
  }

  private async fillGap(name: string): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const gap = this.sessions.get(name)?.log?.gap();
      if (!gap) return;
      // the journal projects in order, so an empty page only means "not yet": try again shortly
      const got = await this.load(name, gap).catch(() => -1);
      if (got < 0) return;
      if (got === 0) await new Promise((r) => setTimeout(r, 100 * (i + 1)));
    }
  }

  private addSession(name: string): SessionState {
    let state = this.sessions.get(name);
    if (!state) {
      state = { name, log: null, unread: 0, loadingOlder: false };
      this.sessions.set(name, state);
      this.saveSessions();
    }
    return state;
  }

  private saveSessions(): void {
    localStorage.setItem(this.sessionsKey, JSON.stringify([...this.sessions.keys()]));
  }

  private get sessionsKey(): string {
    return `tracechat.sessions.${this.user}`;
  }

  private get deliveredKey(): string {
    return `tracechat.delivered.${this.user}`;
  }

  private get activeKey(): string {
    return `tracechat.active.${this.user}`;
  }

  private fail(err: unknown, what: string): void {
    if (err instanceof Disconnected) return;
    const detail = err instanceof ProtocolError ? `${err.code}: ${err.message}` : String(err);
    this.notice = { kind: 'error', text: `${what} (${detail})` };
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function readList(storage: Pick<Storage, 'getItem'>, key: string): string[] {
  try {
    const value: unknown = JSON.parse(storage.getItem(key) ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
