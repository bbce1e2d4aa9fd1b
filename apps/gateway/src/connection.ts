import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { CloseCode } from '@tracechat/contracts';
import { pushToWebSocket } from './push';
import type { Delivery, PushTarget } from './push';

/** A token bucket: `rate` frames a second on average, bursts up to `burst`. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `cost` tokens if there are that many; false (and nothing taken) otherwise. */
  take(now = Date.now(), cost = 1): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Whether at least one token is there now (taking none). */
  hasTokens(now = Date.now()): boolean {
    return Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate) >= 1;
  }
}

/** How many recent pushes a connection remembers for `received` (their push span's traceparent). */
export const PUSH_WINDOW = 256;

/** What a connection may hold and what it does when a limit is hit. */
export interface ConnectionOptions {
  /** Bytes waiting to be written (ws's queue and the socket's buffer) past which it is closed. */
  readonly maxBufferedBytes: number;
  /** Called once when the connection is closed because its send buffer is full. */
  readonly onSendBufferFull?: (conn: Connection) => void;
  /** Remember pushes for `received`; off when the gateway ignores clients' trace context. */
  readonly rememberPushes: boolean;
}

/** How long a connection closed for its full send buffer has to take the close frame. */
const CLOSE_GRACE_MS = 1000;

/** One authenticated WebSocket connection. */
export class Connection implements PushTarget {
  readonly id = randomUUID();
  readonly connectedAt = Date.now();
  private corked = false;
  /** Recent pushes, oldest first: message id → the push span's traceparent. */
  private pushes: Map<string, string> | undefined;

  constructor(
    readonly userId: string,
    readonly socket: WebSocket,
    readonly limiter: RateLimiter,
    private readonly options: ConnectionOptions,
  ) {}

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  push(delivery: Delivery): Promise<boolean> {
    return pushToWebSocket(this, delivery);
  }

  shutdown(): void {
    this.socket.close(CloseCode.GOING_AWAY, 'gateway shutting down');
  }

  /**
   * Closes the connection with a close frame, and ends the socket if the close handshake is not
   * over within a second (a client that does not read never sees the close frame).
   */
  end(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.CLOSED) return;
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  /**
   * Closes the connection when its send buffer is already past the limit; for what the WebSocket
   * library writes on its own (the pong of every ping). True when it closed it.
   */
  checkSendBuffer(): boolean {
    if (!this.open || this.socket.bufferedAmount <= this.options.maxBufferedBytes) return false;
    this.sendBufferFull();
    return true;
  }

  private sendBufferFull(): void {
    this.end(CloseCode.POLICY_VIOLATION, 'send buffer full');
    this.options.onSendBufferFull?.(this);
  }

  /** Remembers a push written to this connection, for the `received` that may follow. */
  rememberPush(messageId: string, traceparent: string): void {
    if (!this.options.rememberPushes || !traceparent) return;
    this.pushes ??= new Map();
    this.pushes.delete(messageId);
    this.pushes.set(messageId, traceparent);
    if (this.pushes.size > PUSH_WINDOW) {
      this.pushes.delete(this.pushes.keys().next().value!);
    }
  }

  /**
   * The traceparent of a recent push of `messageId` to this connection, forgotten as it is
   * returned (a delivery is closed once); undefined when there was none.
   */
  takePush(messageId: string): string | undefined {
    const traceparent = this.pushes?.get(messageId);
    if (traceparent !== undefined) this.pushes!.delete(messageId);
    return traceparent;
  }

  /**
   * Writes a frame if the socket is open; false when it could not be written. The frames written
   * to a connection in one turn of the event loop (acks of a batch, pushes of a DeliverBatch)
   * leave in one write: the socket is corked at the first and uncorked once the turn is over.
   * A frame that would take the bytes waiting to be written past `maxBufferedBytes` is not
   * written: the client is not reading, and the connection is closed with 1008 instead. (A frame
   * larger than the limit still leaves when nothing is waiting.)
   */
  send(frame: object): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
    const data = JSON.stringify(frame);
    const waiting = this.socket.bufferedAmount;
    if (waiting > 0 && waiting + data.length > this.options.maxBufferedBytes) {
      this.sendBufferFull();
      return false;
    }
    if (!this.corked) {
      // ws keeps its net.Socket private; cork/uncork nest with its own
      const raw = (this.socket as unknown as { _socket?: Socket })._socket;
      if (raw) {
        raw.cork();
        this.corked = true;
        setImmediate(() => {
          this.corked = false;
          raw.uncork();
        });
      }
    }
    this.socket.send(data);
    return true;
  }
}

/** The connections of this gateway (WebSocket and MQTT), by user. */
export class Hub {
  private readonly byUser = new Map<string, Set<PushTarget>>();
  private count = 0;

  /** Adds a connection; true when it is the user's first on this gateway. */
  add(conn: PushTarget): boolean {
    let set = this.byUser.get(conn.userId);
    const first = !set;
    if (!set) {
      set = new Set();
      this.byUser.set(conn.userId, set);
    }
    set.add(conn);
    this.count++;
    return first;
  }

  /** Removes a connection; true when the user has no connection left here. */
  remove(conn: PushTarget): boolean {
    const set = this.byUser.get(conn.userId);
    if (!set || !set.delete(conn)) return false;
    this.count--;
    if (set.size === 0) {
      this.byUser.delete(conn.userId);
      return true;
    }
    return false;
  }

  connectionsOf(userId: string): readonly PushTarget[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  users(): IterableIterator<string> {
    return this.byUser.keys();
  }

  all(): PushTarget[] {
    return [...this.byUser.values()].flatMap((set) => [...set]);
  }

  get size(): number {
    return this.count;
  }
}
