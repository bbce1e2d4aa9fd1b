import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string };

export interface ConnectOptions {
  readonly token?: string;
  /** Send the token as ?token= instead of the Authorization header. */
  readonly tokenInQuery?: boolean;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

/** Refused upgrade: the HTTP status the gateway answered with. */
export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

/**
 * A protocol v1 client for tools and tests: requests resolve with the reply carrying their id,
 * every other frame is kept in `received` and can be awaited with `waitFor`.
 */
export class ChatClient {
  readonly received: Frame[] = [];
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private takers: ((f: Frame) => boolean)[] = [];
  closed: { code: number; reason: string } | undefined;
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      const index = this.waiters.findIndex((w) => w.match(frame));
      if (index >= 0) {
        const [waiter] = this.waiters.splice(index, 1);
        waiter!.resolve(frame);
      } else if (!this.takers.some((take) => take(frame))) {
        this.received.push(frame);
      }
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closed);
    });
  }

  static connect(url: string, options: ConnectOptions = {}): Promise<ChatClient> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...options.headers };
    if (options.token && options.tokenInQuery) target.searchParams.set('token', options.token);
    else if (options.token) headers.authorization = `Bearer ${options.token}`;
    const socket = new WebSocket(target, { headers, handshakeTimeout: options.timeoutMs ?? 5000 });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new ChatClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0));
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Sends a raw text frame (tests use it for malformed input). */
  sendRaw(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  /** Sends a frame with an id (generated when absent) and resolves with the reply to it. */
  request(frame: Record<string, unknown>, timeoutMs = 10_000): Promise<Frame> {
    const id = (frame.id as string | undefined) ?? randomUUID();
    const reply = this.waitFor(
      (f) => f.id === id && f.type !== 'message',
      timeoutMs,
      `reply to ${String(frame.type)} ${id}`,
    );
    this.send({ ...frame, id });
    return reply;
  }

  /**
   * Hands every frame no `request` or `waitFor` is waiting for to `take` first; a frame it
   * answers `true` for is not kept in `received`. For tools that read many frames (the load
   * bench), so they need neither parse each frame again nor let `received` grow.
   */
  onFrame(take: (frame: Frame) => boolean): void {
    this.takers.push(take);
  }

  /** Resolves with the first frame (already received or coming) that matches. */
  waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000, what = 'frame'): Promise<Frame> {
    const index = this.received.findIndex(match);
    if (index >= 0) return Promise.resolve(this.received.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves when the server closes the connection. */
  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connection did not close')), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const done = this.waitClosed().then(
      () => undefined,
      () => undefined,
    );
    this.socket.close(1000);
    return done;
  }
}
