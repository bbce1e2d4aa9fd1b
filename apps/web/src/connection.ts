import { Disconnected, ProtocolError } from './protocol';
import type { ClientRequest, PushFrame, ReplyTo, ServerFrame } from './protocol';

export type ConnectionState =
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'open' }
  | { readonly kind: 'waiting'; readonly attempt: number; readonly retryAt: number }
  | { readonly kind: 'closed'; readonly reason: string };

export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000 };
/** A ping this often shows a dead socket that never said goodbye (a sleeping laptop, a lost route). */
const PING_EVERY_MS = 20_000;
const PONG_WITHIN_MS = 10_000;

/**
 * The wait before reconnect attempt `attempt` (1 = first retry): exponential from `baseMs`, capped
 * at `maxMs`, with jitter over its upper half so many pages dropped at once do not return in step.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

interface Waiter {
  resolve(frame: ServerFrame): void;
  reject(error: Error): void;
}

export interface ConnectionEvents {
  onState(state: ConnectionState): void;
  /** Each time the socket opens (first time and after every reconnect). */
  onOpen(): void;
  onPush(frame: PushFrame): void;
}

/**
 * One WebSocket to the gateway that reconnects by itself with backoff. Requests get an `id` and
 * resolve with the frame that echoes it; an error frame rejects with ProtocolError and a drop
 * rejects with Disconnected (the caller decides whether to retry).
 */
export class Connection {
  private socket: WebSocket | null = null;
  private readonly waiters = new Map<string, Waiter>();
  private counter = 0;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private pinger: ReturnType<typeof setInterval> | null = null;
  state: ConnectionState = { kind: 'connecting', attempt: 0 };

  constructor(
    private readonly url: string,
    private readonly events: ConnectionEvents,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Closes for good (sign out). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pinger) clearInterval(this.pinger);
    this.socket?.close(1000, 'signed out');
    this.socket = null;
    this.failWaiters();
    this.setState({ kind: 'closed', reason: 'signed out' });
  }

  /** Drops the socket now and reconnects after the backoff (used when the network comes back). */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.state.kind === 'waiting') {
      if (this.timer) clearTimeout(this.timer);
      this.open();
    }
  }

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  request<R extends ClientRequest>(request: R): Promise<ReplyTo<R>> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.reject(new Disconnected());
    const id = `r${++this.counter}`;
    return new Promise<ReplyTo<R>>((resolve, reject) => {
      this.waiters.set(id, { resolve: (f) => resolve(f as ReplyTo<R>), reject });
      socket.send(JSON.stringify({ ...request, id }));
    });
  }

  /** Sends a frame that has no reply (`received`); dropped silently when offline. */
  notify(frame: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private open(): void {
    this.setState({ kind: 'connecting', attempt: this.attempt });
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setState({ kind: 'open' });
      this.startPinging(socket);
      this.events.onOpen();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket || typeof event.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        return;
      }
      this.dispatch(frame);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.pinger) clearInterval(this.pinger);
      this.failWaiters();
      if (this.stopped) return;
      this.attempt++;
      const delay = backoffDelay(this.attempt, this.backoff);
      this.setState({ kind: 'waiting', attempt: this.attempt, retryAt: Date.now() + delay });
      this.timer = setTimeout(() => this.open(), delay);
    };
  }

  private startPinging(socket: WebSocket): void {
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      const timeout = setTimeout(() => socket.close(4000, 'no pong'), PONG_WITHIN_MS);
      this.request({ type: 'ping' }).then(
        () => clearTimeout(timeout),
        () => clearTimeout(timeout),
      );
    }, PING_EVERY_MS);
  }

  private dispatch(frame: ServerFrame): void {
    if (frame.type === 'message') {
      this.events.onPush(frame);
      return;
    }
    const id = 'id' in frame ? frame.id : null;
    if (id === null) return;
    const waiter = this.waiters.get(id);
    if (!waiter) return;
    this.waiters.delete(id);
    if (frame.type === 'error') waiter.reject(new ProtocolError(frame.code, frame.message));
    else waiter.resolve(frame);
  }

  private failWaiters(): void {
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of waiters) w.reject(new Disconnected());
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.events.onState(state);
  }
}
