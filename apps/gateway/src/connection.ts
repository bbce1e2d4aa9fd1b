import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

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

  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** One authenticated WebSocket connection. */
export class Connection {
  readonly id = randomUUID();
  readonly connectedAt = Date.now();
  private corked = false;

  constructor(
    readonly userId: string,
    readonly socket: WebSocket,
    readonly limiter: RateLimiter,
  ) {}

  /**
   * Writes a frame if the socket is open; false when it could not be written. The frames written
   * to a connection in one turn of the event loop (acks of a batch, pushes of a DeliverBatch)
   * leave in one write: the socket is corked at the first and uncorked once the turn is over.
   */
  send(frame: object): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
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
    this.socket.send(JSON.stringify(frame));
    return true;
  }
}

/** The connections of this gateway, by user. */
export class Hub {
  private readonly byUser = new Map<string, Set<Connection>>();
  private count = 0;

  /** Adds a connection; true when it is the user's first on this gateway. */
  add(conn: Connection): boolean {
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
  remove(conn: Connection): boolean {
    const set = this.byUser.get(conn.userId);
    if (!set || !set.delete(conn)) return false;
    this.count--;
    if (set.size === 0) {
      this.byUser.delete(conn.userId);
      return true;
    }
    return false;
  }

  connectionsOf(userId: string): readonly Connection[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  users(): IterableIterator<string> {
    return this.byUser.keys();
  }

  all(): Connection[] {
    return [...this.byUser.values()].flatMap((set) => [...set]);
  }

  get size(): number {
    return this.count;
  }
}
