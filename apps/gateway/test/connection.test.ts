import type { WebSocket } from 'ws';
import { Connection, PUSH_WINDOW, RateLimiter } from '../src/connection';

describe('RateLimiter', () => {
  it('allows a burst, then the steady rate', () => {
    const limiter = new RateLimiter(10, 3, 0);
    expect([limiter.take(0), limiter.take(0), limiter.take(0), limiter.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(limiter.take(50)).toBe(false);
    expect(limiter.take(100)).toBe(true);
    expect(limiter.take(10_000)).toBe(true);
  });
});

/** A stand-in for ws's WebSocket: what Connection reads and calls. */
class FakeSocket {
  readonly OPEN = 1;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith: [number, string] | undefined;
  send(data: string) {
    this.sent.push(data);
    this.bufferedAmount += data.length;
  }
  close(code: number, reason: string) {
    this.closedWith = [code, reason];
    this.readyState = 2;
  }
  terminate() {
    this.readyState = 3;
  }
}

function connection(maxBufferedBytes: number, rememberPushes = true) {
  const socket = new FakeSocket();
  const full: Connection[] = [];
  const conn = new Connection('alice', socket as unknown as WebSocket, new RateLimiter(1, 1), {
    maxBufferedBytes,
    rememberPushes,
    onSendBufferFull: (c) => full.push(c),
  });
  return { socket, conn, full };
}

describe('Connection send buffer', () => {
  it('writes while the buffer has room, then closes with 1008 once, dropping the frame', () => {
    const { socket, conn, full } = connection(100);
    expect(conn.send({ text: 'a'.repeat(30) })).toBe(true);
    expect(conn.send({ text: 'b'.repeat(30) })).toBe(true);
    expect(conn.send({ text: 'c'.repeat(30) })).toBe(false);
    expect(socket.sent).toHaveLength(2);
    expect(socket.closedWith).toEqual([1008, 'send buffer full']);
    expect(conn.send({ text: 'd' })).toBe(false);
    expect(full).toEqual([conn]);
  });

  it('lets one frame larger than the cap leave when nothing is waiting', () => {
    const { socket, conn } = connection(100);
    expect(conn.send({ text: 'x'.repeat(500) })).toBe(true);
    expect(socket.closedWith).toBeUndefined();
    expect(conn.send({ text: 'y' })).toBe(false);
    expect(socket.closedWith).toEqual([1008, 'send buffer full']);
  });

  it('closes on a ping when what ws wrote by itself is past the cap', () => {
    const { socket, conn, full } = connection(100);
    socket.bufferedAmount = 100;
    expect(conn.checkSendBuffer()).toBe(false);
    socket.bufferedAmount = 101;
    expect(conn.checkSendBuffer()).toBe(true);
    expect(socket.closedWith).toEqual([1008, 'send buffer full']);
    expect(full).toHaveLength(1);
  });
});

describe('Connection push window', () => {
  it('returns a remembered push once, and forgets the oldest past the window', () => {
    const { conn } = connection(1 << 20);
    for (let i = 0; i < PUSH_WINDOW + 1; i++) conn.rememberPush(`m${i}`, `tp${i}`);
    expect(conn.takePush('m0')).toBeUndefined();
    expect(conn.takePush('m1')).toBe('tp1');
    expect(conn.takePush('m1')).toBeUndefined();
    expect(conn.takePush(`m${PUSH_WINDOW}`)).toBe(`tp${PUSH_WINDOW}`);
    expect(conn.takePush('never-pushed')).toBeUndefined();
  });

  it('remembers nothing when clients’ trace context is not followed', () => {
    const { conn } = connection(1 << 20, false);
    conn.rememberPush('m', 'tp');
    expect(conn.takePush('m')).toBeUndefined();
  });
});
