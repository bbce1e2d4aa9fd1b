/**
 * Property-based fuzzing of WebSocket protocol v1 against a real gateway: thousands of generated
 * frames (random JSON, valid-looking frames with wrong values, huge numbers, deep nesting,
 * prototype keys, long and broken unicode, invalid UTF-8, binary, oversized, fragmented and
 * malformed WebSocket frames) over parallel connections, while two users keep chatting.
 *
 * FUZZ_SEED=<n> replays a run; fast-check prints the seed and the failing frame of each worker.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { ErrorCode } from '@tracechat/contracts';
import { setup } from '@tracechat/testkit';
import type { Frame, TestStack, ChatClient } from '@tracechat/testkit';
import { chatPair } from './chat-pair';
import { expectationOf, fuzzCase, rawCases, replyProblem } from './fuzz-frames';
import type { FuzzCase } from './fuzz-frames';

const WORKERS = 12;
const TOTAL_CASES = 10_200;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
/** A reply or a close takes milliseconds; this long means the gateway hangs on the frame. */
const REPLY_TIMEOUT_MS = 10_000;
/** What the gateway may grow by while it handles the fuzz (spans queued for export included). */
const RSS_GROWTH_LIMIT_MB = 200;

let stack: TestStack;
let gatewayPid: number;
const pidsAtStart = new Map<string, number | undefined>();

beforeAll(async () => {
  stack = await setup({
    // the fuzz is one fast client per connection: the rate limit would answer most frames
    // RATE_LIMITED before they reach the parser
    serviceEnv: { 'gateway-1': { RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000' } },
  });
  for (const [name, proc] of stack.processes) pidsAtStart.set(name, proc.pid);
  gatewayPid = stack.processes.get('gateway-1')!.pid!;
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return kb ? Number(kb[1]) / 1024 : NaN;
}

/** One fuzzing connection: every frame it receives (pushes aside), and how it closed. */
class FuzzConnection {
  readonly inbox: Frame[] = [];
  closeCode: number | undefined;
  private wake: (() => void) | undefined;

  constructor(readonly client: ChatClient) {
    client.onFrame((frame) => {
      if (frame.type !== 'message') this.inbox.push(frame);
      this.wake?.();
      return true;
    });
    client.socket.on('close', (code) => {
      this.closeCode = code;
      this.wake?.();
    });
  }

  /** Resolves true once `done()` holds, false after `ms`. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  /** The TCP socket under the WebSocket, for frames the ws library would refuse to write. */
  get tcp(): Socket {
    return (this.client.socket as unknown as { _socket: Socket })._socket;
  }
}

interface Outcome {
  readonly replies: Frame[];
  readonly closeCode?: number;
}

/** One worker: a user and its connection, reopened whenever a case closes it. */
class Worker {
  private conn: FuzzConnection | undefined;
  private syncs = 0;
  cases = 0;
  reconnects = 0;

  constructor(private readonly user: string) {}

  private async connection(): Promise<FuzzConnection> {
    if (!this.conn || this.conn.closeCode !== undefined) {
      if (this.conn) this.reconnects++;
      this.conn = new FuzzConnection(await stack.connect(this.user, 1));
    }
    return this.conn;
  }

  /**
   * Sends one case and collects what it caused: the frames that arrive before the pong of a
   * ping sent right after it (frames of a connection are answered in order), or the close.
   */
  async run(c: FuzzCase): Promise<Outcome> {
    const conn = await this.connection();
    this.cases++;
    const socket = conn.client.socket;
    conn.inbox.length = 0;
    if (c.raw) {
      conn.tcp.write(c.raw);
    } else {
      const pieces = c.pieces ?? [c.payload];
      pieces.forEach((piece, i) =>
        socket.send(piece, { binary: c.binary, fin: i === pieces.length - 1 }),
      );
    }
    const syncId = `zz-sync-${++this.syncs}`;
    if (socket.readyState === socket.OPEN)
      socket.send(JSON.stringify({ type: 'ping', id: syncId }));
    const isSync = (f: Frame) => f.type === 'pong' && f.id === syncId;
    const finished = await conn.until(
      () => conn.closeCode !== undefined || conn.inbox.some(isSync),
      REPLY_TIMEOUT_MS,
    );
    if (!finished) throw new Error(`no reply and no close within ${REPLY_TIMEOUT_MS} ms`);
    const end = conn.inbox.findIndex(isSync);
    return {
      replies: end >= 0 ? conn.inbox.slice(0, end) : [...conn.inbox],
      closeCode: end >= 0 ? undefined : conn.closeCode,
    };
  }

  async close(): Promise<void> {
    await this.conn?.client.close();
  }
}

const stats = {
  cases: 0,
  byLabel: new Map<string, number>(),
  byCode: new Map<string, number>(),
  closes: new Map<number, number>(),
};

function count<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Checks one case's outcome against what the protocol promises; a message when it breaks. */
function verdict(c: FuzzCase, outcome: Outcome): string | undefined {
  const expected = expectationOf(c);
  if ('close' in expected) {
    if (outcome.closeCode !== expected.close) {
      return `expected close ${expected.close}, got ${outcome.closeCode ?? 'no close'} after ${JSON.stringify(outcome.replies)}`;
    }
    return undefined;
  }
  if (outcome.closeCode !== undefined) return `the connection closed with ${outcome.closeCode}`;
  if (outcome.replies.length !== expected.replies) {
    return `expected ${expected.replies} replies, got ${JSON.stringify(outcome.replies)}`;
  }
  for (const reply of outcome.replies) {
    const problem = replyProblem(expected, reply);
    if (problem) return problem;
  }
  return undefined;
}

/** Every process of the stack still runs as the one started: none exited or was restarted. */
function expectNoProcessRestarted(): void {
  for (const [name, proc] of stack.processes) {
    expect({ name, running: proc.running, restarts: proc.restarts, pid: proc.pid }).toEqual({
      name,
      running: true,
      restarts: 0,
      pid: pidsAtStart.get(name),
    });
  }
}

describe('WebSocket protocol fuzzing', () => {
  it('answers every frame with a protocol frame or a documented close, and nothing else breaks', async () => {
    const started = Date.now();
    const { alice, bob, send } = await chatPair(stack, 'fuzz-chat', [1, 1]);

    /** One message each way: acked to its sender, pushed to the other. */
    let exchanged = 0;
    const exchange = async (n: number) => {
      for (const [from, to] of [
        [alice, bob],
        [bob, alice],
      ] as const) {
        try {
          await send(from, to, `chat ${n} ${from === alice ? 'a→b' : 'b→a'}`);
        } catch (err) {
          // chat stalls when a process died: name that rather than the timeout it caused
          expectNoProcessRestarted();
          throw err;
        }
        exchanged++;
      }
    };
    await exchange(0);

    const rssBefore = rssMb(gatewayPid);
    let rssMax = rssBefore;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, rssMb(gatewayPid));
    }, 200);

    let fuzzing = true;
    const chatting = (async () => {
      for (let n = 1; fuzzing; n++) {
        await exchange(n);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const workers = Array.from({ length: WORKERS }, (_, i) => new Worker(stack.user(`fuzzer${i}`)));
    const property = (worker: Worker) =>
      fc.asyncProperty(fuzzCase, async (c) => {
        const outcome = await worker.run(c);
        const problem = verdict(c, outcome);
        if (problem) throw new Error(`${c.label}: ${problem}`);
        stats.cases++;
        count(stats.byLabel, c.label);
        for (const reply of outcome.replies)
          count(stats.byCode, reply.type === 'error' ? String(reply.code) : String(reply.type));
        if (outcome.closeCode !== undefined) count(stats.closes, outcome.closeCode);
      });
    try {
      await Promise.all(
        workers.map((worker, i) =>
          fc.assert(property(worker), {
            numRuns: Math.ceil(TOTAL_CASES / WORKERS),
            seed: SEED + i,
          }),
        ),
      );
      // every malformed WebSocket frame once, on top of the generated ones
      for (const c of rawCases) {
        const problem = verdict(c, await workers[0]!.run(c));
        if (problem) throw new Error(`${c.label}: ${problem}`);
        stats.cases++;
        count(stats.byLabel, c.label);
      }
    } finally {
      fuzzing = false;
      clearInterval(sampler);
      await chatting;
      await Promise.all(workers.map((w) => w.close()));
    }
    await exchange(-1);

    const seconds = (Date.now() - started) / 1000;
    console.log(
      [
        `fuzz seed ${SEED}: ${stats.cases} frames in ${seconds.toFixed(1)} s over ${WORKERS} connections`,
        `  cases: ${JSON.stringify(Object.fromEntries(stats.byLabel))}`,
        `  replies: ${JSON.stringify(Object.fromEntries(stats.byCode))}`,
        `  closes: ${JSON.stringify(Object.fromEntries(stats.closes))}, reconnects: ${workers.reduce((n, w) => n + w.reconnects, 0)}`,
        `  chat: ${exchanged} messages acked and pushed; gateway RSS ${rssBefore.toFixed(0)} MB → max ${rssMax.toFixed(0)} MB`,
      ].join('\n'),
    );

    expect(stats.cases).toBeGreaterThanOrEqual(10_000);
    // every kind of case was generated, so none of them is silently missing from the fuzz
    for (const label of [
      'frame',
      'json',
      'anything',
      'deep',
      'text',
      'invalid-utf8',
      'binary',
      'oversized',
      'boundary',
      'fragmented',
    ]) {
      expect(stats.byLabel.get(label) ?? 0).toBeGreaterThan(0);
    }
    // valid frames got through to their handlers, malformed ones got errors (only replies every
    // seed gives by the dozen: a `history` or `TOO_LARGE` reply depends on a generated frame
    // meeting a session its user joined, or a text just over the limit, which a seed may miss)
    for (const reply of ['pong', 'joined', 'INVALID_FRAME', 'FORBIDDEN']) {
      expect([reply, stats.byCode.get(reply) ?? 0]).toEqual([reply, expect.any(Number)]);
      expect(stats.byCode.get(reply) ?? 0).toBeGreaterThan(0);
    }
    // a client's frame is never an internal error, and the limit was not what answered
    expect(stats.byCode.get(ErrorCode.INTERNAL) ?? 0).toBe(0);
    expect(stats.byCode.get(ErrorCode.RATE_LIMITED) ?? 0).toBe(0);
    expect(exchanged).toBeGreaterThanOrEqual(4);
    expect(rssMax - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expectNoProcessRestarted();
    expect(readFileSync(`${stack.logDir}/gateway-1.log`, 'utf8')).not.toMatch(
      /frame handling failed|uncaught/i,
    );
  }, 300_000);
});
