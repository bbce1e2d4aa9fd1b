// `tracechat chat --user U --session S` (`pnpm chat …`): a line-by-line chat in the terminal. It
// follows docs/protocol.md as a client should: joins (creating the session), shows recent history,
// then every new message once and in seq order (gaps filled from history), sends each line with
// its own client_msg_id and retries it until acknowledged, reconnects with backoff and fills what
// it missed. Works the same with a pipe on stdin (one line, one message or command).
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatClient, Frame } from '@tracechat/client';
import { isSessionId, isUserId, signToken } from '@tracechat/contracts';
import { Defaults, UsageError, envValue, tokenSecret } from '../cli-env';
import type { Env } from '../cli-env';
import { connectGateway } from '../connect';
import {
  fetchSettledTrace,
  journeyText,
  notFoundText,
  traceIdOfMessage,
  traceTarget,
} from '../journey-fetch';
import { Timeline } from '../timeline';
import type { ChatEntry } from '../timeline';

export interface ChatOptions {
  readonly user: string;
  readonly session: string;
  readonly public?: boolean;
  readonly gateway: string;
  /** Messages of history shown on joining. */
  readonly history: number;
  readonly jaeger?: string;
  readonly databaseUrl?: string;
}

/** Errors worth sending the same message again for (docs/protocol.md, "Sending safely"). */
const RETRYABLE = new Set(['UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED']);
const REQUEST_TIMEOUT_MS = 10_000;
const HISTORY_PAGE = 200;
const TRACE_WAIT_SECONDS = 10;

const HELP = `commands:
  /history [n]         the last n messages (20)
  /invite USER         add USER to this session
  /leave               leave the session and quit
  /trace [message-id]  the journey of the last message, or of the given one
  /debug               send the next message with debug (its trace is always kept)
  /help                this list
  /quit                quit (also Ctrl-D)
anything else is sent as a message`;

class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';
}

/** The server refused something for good (not a member, bad input): not retried. */
class Refused extends Error {
  override readonly name = 'Refused';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Outgoing {
  readonly clientMsgId: string;
  readonly text: string;
  readonly debug: boolean;
  attempts: number;
}

const time = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '--:--:--' : d.toTimeString().slice(0, 8);
};

/** One message as a line: `#seq hh:mm:ss from: text` (later lines of the text indented). */
export function formatEntry(entry: ChatEntry): string {
  return `#${entry.seq} ${time(entry.sent_at)} ${entry.from}: ${entry.text.replace(/\n/g, '\n    ')}`;
}

function toEntry(frame: Record<string, unknown>): ChatEntry | undefined {
  const { message_id, seq, from, text, sent_at, trace_id, traceparent } = frame;
  if (typeof message_id !== 'string' || typeof seq !== 'number') return undefined;
  return {
    message_id,
    seq,
    from: String(from ?? '?'),
    text: String(text ?? ''),
    sent_at: String(sent_at ?? ''),
    trace_id: String(trace_id ?? ''),
    traceparent: typeof traceparent === 'string' ? traceparent : undefined,
  };
}

class ChatSession {
  private readonly timeline: Timeline;
  private readonly outbox = new Map<string, Outgoing>();
  /** Trace ids of the messages seen here, by message id, for /trace. */
  private readonly traces = new Map<string, string>();
  private lastTraced: { messageId: string; traceId: string } | undefined;
  private client: ChatClient | undefined;
  private joined = false;
  private readonly pending = new Map<
    string,
    { resolve: (f: Frame) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private debugNext = false;
  private quitting = false;
  private quitResolve: (() => void) | undefined;
  private filling: Promise<void> = Promise.resolve();
  private rl: Interface | undefined;
  private readonly tty = process.stdin.isTTY === true && process.stdout.isTTY === true;

  constructor(
    private readonly options: ChatOptions,
    private readonly env: Env,
  ) {
    this.timeline = new Timeline();
  }

  private print(text: string): void {
    if (this.tty && this.rl) {
      process.stdout.write('\r\x1b[2K');
      process.stdout.write(`${text}\n`);
      this.rl.prompt(true);
    } else {
      process.stdout.write(`${text}\n`);
    }
  }

  private token(): string {
    return signToken(this.options.user, tokenSecret(this.env), 24 * 3600);
  }

  /** Sends a frame with a fresh id; resolves with its reply, rejects on an error frame. */
  private request(frame: Record<string, unknown>): Promise<Frame> {
    const client = this.client;
    if (!client || client.closed) return Promise.reject(new ConnectionLost('not connected'));
    const id = String(this.nextId++);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new ConnectionLost(
            `no reply to ${String(frame.type)} within ${REQUEST_TIMEOUT_MS / 1000} s`,
          ),
        );
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply.type === 'error')
            reject(
              new Refused(String(reply.code), `${String(reply.code)}: ${String(reply.message)}`),
            );
          else resolve(reply);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      client.send({ ...frame, id });
    });
  }

  private onFrame(frame: Frame): void {
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    const waiter = id === undefined ? undefined : this.pending.get(id);
    if (waiter && frame.type !== 'message') {
      this.pending.delete(id!);
      waiter.resolve(frame);
      return;
    }
    if (frame.type === 'message' && frame.session === this.options.session) {
      const entry = toEntry(frame);
      if (entry) this.show(this.timeline.offer(entry));
      if (this.timeline.hasGap) this.fillGap();
      return;
    }
    if (frame.type === 'error') this.print(`! ${String(frame.code)}: ${String(frame.message)}`);
  }

  /** Prints messages and answers `received` for the pushed ones. */
  private show(entries: readonly ChatEntry[]): void {
    for (const entry of entries) {
      this.print(formatEntry(entry));
      if (entry.trace_id) {
        this.traces.set(entry.message_id, entry.trace_id);
        this.lastTraced = { messageId: entry.message_id, traceId: entry.trace_id };
      }
      if (entry.traceparent && this.client && !this.client.closed)
        this.client.send({
          type: 'received',
          message_id: entry.message_id,
          traceparent: entry.traceparent,
        });
    }
  }

  /** Reads history after the last shown seq until `target` (or the gap is closed). */
  private fill(target?: number): Promise<void> {
    this.filling = this.filling.then(async () => {
      for (let rounds = 0; rounds < 50; rounds++) {
        if (target === undefined ? !this.timeline.hasGap : this.timeline.last >= target) return;
        const reply = await this.request({
          type: 'history',
          session: this.options.session,
          after_seq: this.timeline.last,
          limit: HISTORY_PAGE,
        });
        const messages = (reply.messages as Record<string, unknown>[] | undefined) ?? [];
        for (const m of messages) {
          const entry = toEntry(m);
          if (entry) this.show(this.timeline.offer(entry));
        }
        // a reply may end below the held message for a few milliseconds (docs/protocol.md)
        if (messages.length === 0) await sleep(100);
      }
    });
    return this.filling;
  }

  private fillGap(): void {
    this.fill().catch((err: Error) => {
      if (!(err instanceof ConnectionLost)) this.print(`! could not fill the gap: ${err.message}`);
    });
  }

  private async transmit(message: Outgoing): Promise<void> {
    for (;;) {
      if (!this.outbox.has(message.clientMsgId) || this.quitting) return;
      message.attempts++;
      try {
        const ack = await this.request({
          type: 'send',
          session: this.options.session,
          text: message.text,
          client_msg_id: message.clientMsgId,
          ...(message.debug ? { debug: true } : {}),
        });
        this.outbox.delete(message.clientMsgId);
        const entry = toEntry({
          ...ack,
          from: this.options.user,
          text: message.text,
          sent_at: new Date().toISOString(),
        });
        if (!entry) return;
        this.traces.set(entry.message_id, entry.trace_id);
        this.lastTraced = { messageId: entry.message_id, traceId: entry.trace_id };
        this.show(this.timeline.offer(entry));
        this.print(
          `  sent #${entry.seq}: message ${entry.message_id} trace ${entry.trace_id || '(none)'}${message.debug ? ' (debug)' : ''}`,
        );
        if (this.timeline.hasGap) this.fillGap();
        return;
      } catch (err) {
        if (err instanceof Refused && !RETRYABLE.has(err.code)) {
          this.outbox.delete(message.clientMsgId);
          this.print(`! not sent (${err.message}): ${message.text}`);
          return;
        }
        // lost connection: the reconnect sends it again; otherwise try again shortly
        if (err instanceof ConnectionLost && (!this.client || this.client.closed)) return;
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(message.attempts, 6)));
      }
    }
  }

  private sendLine(text: string): void {
    const message: Outgoing = {
      clientMsgId: randomUUID(),
      text,
      debug: this.debugNext,
      attempts: 0,
    };
    this.debugNext = false;
    this.outbox.set(message.clientMsgId, message);
    if (this.joined) void this.transmit(message);
  }

  private async traceCommand(arg: string | undefined): Promise<void> {
    let traceId: string | undefined;
    if (arg === undefined) {
      traceId = this.lastTraced?.traceId;
      if (!traceId) {
        this.print(
          'no message yet: /trace shows the journey of the last message, or /trace <message-id>',
        );
        return;
      }
    } else {
      const target = traceTarget(arg);
      if (!target) {
        this.print(`! ${arg} is neither a message id nor a trace id`);
        return;
      }
      traceId =
        target.kind === 'trace'
          ? target.traceId
          : (this.traces.get(target.messageId) ??
            (await traceIdOfMessage(
              this.options.databaseUrl ?? envValue(this.env, 'DATABASE_URL', Defaults.DATABASE_URL),
              target.messageId,
            )));
      if (!traceId) {
        this.print(`! no message ${arg}`);
        return;
      }
    }
    const jaeger =
      this.options.jaeger ?? envValue(this.env, 'JAEGER_QUERY_URL', Defaults.JAEGER_QUERY_URL);
    this.print(`journey of trace ${traceId} (waiting for its spans)…`);
    const trace = await fetchSettledTrace(jaeger, traceId, TRACE_WAIT_SECONDS * 1000);
    if (!trace) {
      this.print(`! ${notFoundText(traceId, TRACE_WAIT_SECONDS)}`);
      return;
    }
    this.print(
      journeyText(trace, {
        width: this.tty ? process.stdout.columns : 100,
        color: this.tty,
      }).trimEnd(),
    );
  }

  private async command(line: string): Promise<void> {
    const [name, ...args] = line.slice(1).trim().split(/\s+/);
    const session = this.options.session;
    switch (name) {
      case 'help':
        this.print(HELP);
        return;
      case 'quit':
      case 'exit':
        this.quit();
        return;
      case 'debug':
        this.debugNext = true;
        this.print('the next message is sent with debug: its trace is always kept');
        return;
      case 'history': {
        const n = args[0] === undefined ? 20 : Number(args[0]);
        if (!Number.isInteger(n) || n < 1 || n > HISTORY_PAGE) {
          this.print(`! /history takes a count from 1 to ${HISTORY_PAGE}`);
          return;
        }
        const reply = await this.request({
          type: 'history',
          session,
          after_seq: Math.max(0, this.timeline.last - n),
          limit: n,
        });
        const entries = ((reply.messages as Record<string, unknown>[]) ?? []).map(toEntry);
        this.print(`-- history of ${session}: ${entries.length} message(s) --`);
        for (const entry of entries) if (entry) this.print(formatEntry(entry));
        this.print('-- end of history --');
        return;
      }
      case 'invite': {
        const user = args[0];
        if (!isUserId(user)) {
          this.print('! /invite takes a user id: /invite bob');
          return;
        }
        await this.request({ type: 'invite', session, user });
        this.print(`invited ${user} to ${session}`);
        return;
      }
      case 'leave':
        await this.request({ type: 'leave', session });
        this.print(`left ${session}`);
        this.quit();
        return;
      case 'trace':
        await this.traceCommand(args[0]);
        return;
      default:
        this.print(`! unknown command /${name}; /help lists them`);
    }
  }

  private async handleLine(raw: string): Promise<void> {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    if (line.startsWith('/')) {
      try {
        await this.command(line);
      } catch (err) {
        this.print(`! ${(err as Error).message}`);
      }
      return;
    }
    this.sendLine(line);
  }

  /** Joins and catches up; throws Refused when the session cannot be joined. */
  private async joinAndCatchUp(first: boolean): Promise<void> {
    const joined = await this.request({
      type: 'join',
      session: this.options.session,
      public: this.options.public === true,
    });
    const lastSeq = Number(joined.last_seq ?? 0);
    if (first) {
      this.print(
        `joined ${this.options.session} as ${this.options.user} (${lastSeq} message(s) so far); type to send, /help for commands`,
      );
      this.timeline.skipTo(Math.max(0, lastSeq - this.options.history));
    }
    await this.fill(lastSeq);
    this.joined = true;
    for (const message of this.outbox.values()) void this.transmit(message);
  }

  private attach(client: ChatClient): Promise<{ code: number; reason: string }> {
    this.client = client;
    client.socket.on('error', () => undefined);
    client.onFrame((frame) => {
      this.onFrame(frame);
      return true;
    });
    return new Promise((resolve) => {
      client.socket.once('close', (code: number, reason: Buffer) => {
        this.joined = false;
        for (const [id, waiter] of this.pending) {
          this.pending.delete(id);
          waiter.reject(new ConnectionLost('connection lost'));
        }
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  private quit(): void {
    if (this.quitting) return;
    this.quitting = true;
    void this.client?.close();
    this.rl?.close();
    this.quitResolve?.();
  }

  async run(): Promise<void> {
    const quitted = new Promise<void>((resolve) => (this.quitResolve = resolve));
    let closed: Promise<{ code: number; reason: string }>;
    // the first connection: any failure ends the command with what to do
    closed = this.attach(await connectGateway(this.options.gateway, this.token()));
    try {
      await this.joinAndCatchUp(true);
    } catch (err) {
      await this.client?.close();
      if (err instanceof Refused && err.code === 'FORBIDDEN')
        throw new Error(
          `cannot join ${this.options.session}: it is private and ${this.options.user} is not a member; ask a member to /invite ${this.options.user}, or choose another session (--public creates it open to all)`,
        );
      throw err;
    }

    this.rl = createInterface({ input: process.stdin, output: process.stdout, terminal: this.tty });
    this.rl.setPrompt(`${this.options.session}> `);
    let lines = Promise.resolve();
    this.rl.on('line', (line) => {
      lines = lines.then(() => this.handleLine(line));
    });
    this.rl.on('SIGINT', () => this.quit());
    this.rl.on('close', () => {
      // end of input (Ctrl-D or the pipe closed): finish what was typed, then quit
      void lines.then(async () => {
        for (let i = 0; i < 100 && this.outbox.size > 0 && !this.quitting; i++) await sleep(100);
        this.quit();
      });
    });
    if (this.tty) this.rl.prompt();

    let backoff = 500;
    while (!this.quitting) {
      const lost = await Promise.race([closed, quitted.then(() => undefined)]);
      if (!lost || this.quitting) break;
      for (;;) {
        const delay = Math.round(backoff * (0.8 + Math.random() * 0.4));
        this.print(
          `! connection lost (${lost.code}${lost.reason ? ` ${lost.reason}` : ''}); reconnecting in ${(delay / 1000).toFixed(1)} s`,
        );
        await Promise.race([sleep(delay), quitted]);
        backoff = Math.min(30_000, backoff * 2);
        if (this.quitting) break;
        try {
          closed = this.attach(await connectGateway(this.options.gateway, this.token()));
          await this.joinAndCatchUp(false);
          this.print(`reconnected; caught up to #${this.timeline.last}`);
          backoff = 500;
          break;
        } catch (err) {
          if (err instanceof Refused && err.code === 'FORBIDDEN') {
            this.print(`! ${err.message}: no longer a member of ${this.options.session}`);
            this.quit();
            break;
          }
          this.print(`! ${(err as Error).message}`);
          void this.client?.close();
        }
      }
    }
    await this.client?.close();
  }
}

export async function chat(options: ChatOptions, env: Env): Promise<void> {
  if (!isUserId(options.user))
    throw new UsageError(
      `--user ${JSON.stringify(options.user)} is not a user id (letters, digits, . _ @ -)`,
    );
  if (!isSessionId(options.session))
    throw new UsageError(
      `--session ${JSON.stringify(options.session)} is not a session id (1–128 letters, digits, _ or -)`,
    );
  tokenSecret(env);
  await new ChatSession(options, env).run();
}
