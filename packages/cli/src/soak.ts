import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@tracechat/messaging';
import { createPool } from '@tracechat/postgres';
import { ChatClient } from '@tracechat/client';
import type { Frame } from '@tracechat/client';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';
import { startIsolatedStack } from './isolated';
import type { IsolatedStack } from './isolated';
import { ManagedProcess, freePort } from './process';
import type { ServiceName } from './stack';

/** The stack the soak drives, with names unique to its run. */
interface SoakStack extends IsolatedStack {
  user(name: string): string;
  session(name: string): string;
  token(userId: string): string;
  connect(userId: string, gateway: 1 | 2): Promise<ChatClient>;
}

function soakStack(stack: IsolatedStack, authSecret: string): SoakStack {
  const run = stack.namespace.run;
  const token = (userId: string) => signToken(userId, authSecret, 3600);
  return {
    ...stack,
    user: (name) => `${name}-${run}`,
    session: (name) => `${name}-${run}`,
    token,
    connect: (userId, gateway) =>
      ChatClient.connect(stack.gatewayUrls[gateway - 1], { token: token(userId) }),
  };
}

/** The faults the soak injects, in this order, evenly spread over the run. */
export const SOAK_FAULTS = [
  'kill -9 logic',
  'kill -9 task',
  'kill -9 journal-1',
  'kill -9 gateway-1',
  'restart nats',
  'terminate postgres connections',
] as const;
export type SoakFault = (typeof SOAK_FAULTS)[number] | 'none';

export interface SoakOptions {
  /** How long senders send; faults are spread over it. */
  readonly seconds: number;
  readonly sessions?: number;
  /** Senders per gateway. */
  readonly sendersPerGateway?: number;
  /** Pause between one sender's messages. */
  readonly pauseMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** The gateways' AUTH_SECRET and the clients' (`userTokenSecret`); default the development secret. */
  readonly authSecret?: string;
}

/** What happened to the messages first sent during one phase (after one fault, until the next). */
export interface SoakPhase {
  readonly fault: SoakFault;
  readonly atSeconds: number;
  /** Messages whose sender got an ack (on the first try or a retry). */
  acked: number;
  /** Sends that needed at least one retry. */
  retried: number;
  /** Messages never acked although retried until the end. */
  unacked: number;
  /** Acked messages missing from history. */
  lost: number;
  /** Messages in history more than once (same client_msg_id stored twice). */
  duplicated: number;
  /** Messages in history whose sender never got an ack. */
  stored_unacked: number;
  /** Seqs missing from history just below a message first sent in this phase. */
  holes: number;
}

export interface SoakReceiverReport {
  readonly name: string;
  /** Sessions where the receiver lacks some seq of 1..N (N = the session's last seq in history). */
  holes: number;
  /** Seqs the receiver was given with two different message ids. */
  conflicts: number;
  /** Seqs the receiver holds that do not match history's message id at that seq. */
  mismatches: number;
  /** Pushes of a message the receiver already had (allowed: at least once). */
  repeatedPushes: number;
  pushes: number;
  reconnects: number;
}

export interface SoakReport {
  readonly seconds: number;
  readonly sent: number;
  readonly acked: number;
  readonly phases: SoakPhase[];
  readonly receivers: SoakReceiverReport[];
  /** Seqs missing from history: per session, the numbers of 1..N that no message has. */
  readonly historyHoles: number;
  /** The first few missing seqs, as `<session>#<seq>` or a range. */
  readonly holeSamples: string[];
  readonly historyMessages: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly storedUnacked: number;
  readonly unacked: number;
  /** Pushes task gave up on and parked in the dead-letter stream. */
  readonly deadLettered: number;
  /** Faults whose restart did not come back. */
  readonly faultErrors: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const RETRYABLE = new Set(['UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED']);

interface SendRecord {
  readonly session: string;
  readonly text: string;
  readonly phase: number;
  attempts: number;
  ack?: { messageId: string; seq: number };
  error?: string;
}

/** A request that also fails as soon as the connection drops. */
async function ask(
  client: ChatClient,
  frame: Record<string, unknown>,
  timeoutMs: number,
): Promise<Frame> {
  if (client.closed) throw new Error('connection closed');
  return Promise.race([
    client.request(frame, timeoutMs),
    client.waitClosed(timeoutMs + 1000).then(() => {
      throw new Error('connection closed');
    }),
  ]);
}

/** A nats-server with JetStream, on free ports, its store in `dir`; restartable. */
export async function startNatsServer(
  dir: string,
): Promise<{ url: string; server: ManagedProcess }> {
  const port = await freePort();
  const monitor = await freePort();
  const server = new ManagedProcess({
    name: 'nats',
    command: 'nats-server',
    args: [
      '-js',
      '-p',
      String(port),
      '-a',
      '127.0.0.1',
      '-sd',
      join(dir, 'jetstream'),
      '-m',
      String(monitor),
    ],
    cwd: dir,
    env: {},
    logFile: join(dir, 'nats.log'),
    readyUrl: `http://127.0.0.1:${monitor}/healthz`,
  });
  await server.start();
  return { url: `nats://127.0.0.1:${port}`, server };
}

class Receiver {
  readonly have = new Map<string, Map<number, string>>();
  readonly last = new Map<string, number>();
  private readonly filling = new Map<string, Promise<void>>();
  client: ChatClient | undefined;
  conflicts = 0;
  repeatedPushes = 0;
  pushes = 0;
  reconnects = 0;
  done = false;

  constructor(
    readonly name: string,
    private readonly connect: () => Promise<ChatClient>,
    private readonly sessions: readonly string[],
  ) {
    for (const s of sessions) {
      this.have.set(s, new Map());
      this.last.set(s, 0);
    }
  }

  /** Stays connected (reconnecting with backoff) until `done`, filling gaps from history. */
  async run(): Promise<void> {
    let backoff = 200;
    while (!this.done) {
      try {
        const client = await this.connect();
        this.client = client;
        client.socket.on('message', (data) => {
          const frame = JSON.parse(data.toString()) as Frame;
          if (frame.type === 'message') this.onPush(frame);
          client.received.length = 0;
        });
        for (const s of this.sessions)
          await ask(client, { type: 'join', session: s, public: true }, 10_000);
        await Promise.all(this.sessions.map((s) => this.fill(s)));
        backoff = 200;
        await client.waitClosed(2 ** 31 - 1).catch(() => undefined);
      } catch {
        // reconnect below
      }
      this.client?.socket.terminate();
      this.client = undefined;
      if (this.done) break;
      this.reconnects++;
      await sleep(backoff);
      backoff = Math.min(5000, backoff * 2);
    }
  }

  private record(session: string, seq: number, messageId: string): void {
    const seen = this.have.get(session)!;
    const before = seen.get(seq);
    if (before !== undefined && before !== messageId) this.conflicts++;
    seen.set(seq, messageId);
    let last = this.last.get(session)!;
    while (seen.has(last + 1)) last++;
    this.last.set(session, last);
  }

  private onPush(frame: Frame): void {
    const session = String(frame.session);
    if (!this.have.has(session)) return;
    this.pushes++;
    const seq = Number(frame.seq);
    if (this.have.get(session)!.get(seq) === String(frame.message_id)) this.repeatedPushes++;
    this.record(session, seq, String(frame.message_id));
    if (seq > this.last.get(session)! + 1) void this.fill(session).catch(() => undefined);
  }

  /** history after the last contiguous seq, paged, one fill per session at a time. */
  fill(session: string): Promise<void> {
    const running = this.filling.get(session);
    if (running) return running;
    const work = (async () => {
      const client = this.client;
      if (!client) return;
      for (;;) {
        const reply = await ask(
          client,
          { type: 'history', session, after_seq: this.last.get(session)!, limit: 200 },
          10_000,
        );
        if (reply.type !== 'history') throw new Error(`history failed: ${String(reply.code)}`);
        const messages = reply.messages as Frame[];
        for (const m of messages) this.record(session, Number(m.seq), String(m.message_id));
        if (messages.length < 200) return;
      }
    })().finally(() => this.filling.delete(session));
    this.filling.set(session, work);
    return work;
  }
}

/**
 * The fault soak: senders on both gateways send with `client_msg_id` and retry on errors and
 * lost connections; receivers on both gateways reconnect and fill gaps with `history`, as
 * docs/protocol.md tells clients; meanwhile logic, task, a journal node and a gateway are killed
 * (the supervisor restarts them), the NATS server is restarted and the services' Postgres
 * connections are terminated. Then every acked message must be in history exactly once, nothing
 * unacked stored, and every receiver must hold every session's seqs 1..N.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const natsDir = mkdtempSync(join(tmpdir(), 'tracechat-soak-nats-'));
  const nats = await startNatsServer(natsDir);
  let stack: SoakStack | undefined;
  try {
    const authSecret = options.authSecret ?? DEV_AUTH_SECRET;
    const isolated = await startIsolatedStack({
      authSecret,
      natsUrl: nats.url,
      onNotice: (_service, message) => log(`supervisor: ${message}`),
      // redeliveries after task is killed come back within seconds, not the default 30
      serviceEnv: { task: { ACK_WAIT_MS: '5000', RETRY_DELAY_MS: '500' } },
      // the journal projects into the run's NATS too
      collector: false,
      spanExportDelayMs: 100,
    });
    stack = soakStack(isolated, authSecret);
    return await soak(stack, nats, options, log);
  } finally {
    await stack?.remove().catch((err: unknown) => log(`cleanup failed: ${(err as Error).message}`));
    await nats.server.stop();
    rmSync(natsDir, { recursive: true, force: true });
  }
}

async function soak(
  stack: SoakStack,
  nats: { url: string; server: ManagedProcess },
  options: SoakOptions,
  log: (line: string) => void,
): Promise<SoakReport> {
  const sessionCount = options.sessions ?? 4;
  const perGateway = options.sendersPerGateway ?? 2;
  const pauseMs = options.pauseMs ?? 100;
  const sessions = Array.from({ length: sessionCount }, (_, i) => stack.session(`soak${i}`));
  const gatewayOf = (n: number): 1 | 2 => (n % 2 === 0 ? 1 : 2);
  const connectTo = (user: string, gateway: 1 | 2) => () =>
    ChatClient.connect(stack.gatewayUrls[gateway - 1]!, {
      token: stack.token(user),
      timeoutMs: 5000,
    });

  const phases: SoakPhase[] = [
    {
      fault: 'none',
      atSeconds: 0,
      acked: 0,
      retried: 0,
      unacked: 0,
      lost: 0,
      duplicated: 0,
      stored_unacked: 0,
      holes: 0,
    },
  ];
  let phase = 0;
  const started = Date.now();
  const records = new Map<string, SendRecord>();
  let sending = true;
  const giveUpAt = () => started + options.seconds * 1000 + 90_000;

  const receivers = [1, 2].map(
    (g) =>
      new Receiver(`receiver-${g}`, connectTo(stack.user(`receiver${g}`), g as 1 | 2), sessions),
  );
  const receiving = receivers.map((r) => r.run());

  async function sender(i: number): Promise<void> {
    const user = stack.user(`sender${i}`);
    const connect = connectTo(user, gatewayOf(i));
    let client: ChatClient | undefined;
    const ensure = async (): Promise<ChatClient> => {
      let backoff = 200;
      for (;;) {
        if (client && !client.closed) return client;
        try {
          client = await connect();
          client.socket.on('message', () => (client!.received.length = 0));
          for (const s of sessions) {
            const joined = await ask(client, { type: 'join', session: s, public: true }, 10_000);
            if (joined.type !== 'joined') throw new Error(`join failed: ${String(joined.code)}`);
          }
          return client;
        } catch {
          client?.socket.terminate();
          client = undefined;
          if (Date.now() > giveUpAt()) throw new Error('gave up connecting');
          await sleep(backoff);
          backoff = Math.min(5000, backoff * 2);
        }
      }
    };
    for (let n = 0; sending; n++) {
      const cmid = `${user}-${n}`;
      const record: SendRecord = {
        session: sessions[(i + n) % sessions.length]!,
        text: `soak ${cmid}`,
        phase,
        attempts: 0,
      };
      records.set(cmid, record);
      let backoff = 200;
      while (!record.ack && Date.now() < giveUpAt()) {
        record.attempts++;
        try {
          const c = await ensure();
          const reply = await ask(
            c,
            { type: 'send', session: record.session, text: record.text, client_msg_id: cmid },
            40_000,
          );
          if (reply.type === 'ack') {
            record.ack = { messageId: String(reply.message_id), seq: Number(reply.seq) };
            break;
          }
          record.error = String(reply.code);
          if (!RETRYABLE.has(record.error)) break;
        } catch (err) {
          record.error = (err as Error).message;
          client?.socket.terminate();
          client = undefined;
        }
        await sleep(backoff);
        backoff = Math.min(5000, backoff * 2);
      }
      await sleep(pauseMs);
    }
    await client?.close();
  }
  const senders = Array.from({ length: perGateway * 2 }, (_, i) => sender(i));

  // the faults, one after another, over the middle of the run
  const faultErrors: string[] = [];
  const step = (options.seconds * 1000) / (SOAK_FAULTS.length + 1);
  const pg = createPool(stack.databaseUrl, 'tracechat-soak', 1);
  const database = decodeURIComponent(new URL(stack.databaseUrl).pathname.slice(1));
  try {
    for (const fault of SOAK_FAULTS) {
      await sleep(Math.max(0, started + step * phases.length - Date.now()));
      phases.push({
        fault,
        atSeconds: Math.round((Date.now() - started) / 1000),
        acked: 0,
        retried: 0,
        unacked: 0,
        lost: 0,
        duplicated: 0,
        stored_unacked: 0,
        holes: 0,
      });
      phase = phases.length - 1;
      log(`${((Date.now() - started) / 1000).toFixed(0)} s: ${fault}`);
      try {
        if (fault.startsWith('kill -9 ')) {
          await stack.crashService(fault.slice('kill -9 '.length) as ServiceName);
        } else if (fault === 'restart nats') {
          await nats.server.stop();
          await nats.server.start();
        } else {
          const { rowCount } = await pg.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [database],
          );
          log(`  terminated ${rowCount} connections`);
        }
      } catch (err) {
        faultErrors.push(`${fault}: ${(err as Error).message}`);
      }
    }
  } finally {
    await pg.end();
  }
  await sleep(Math.max(0, started + options.seconds * 1000 - Date.now()));
  sending = false;
  log(
    `${((Date.now() - started) / 1000).toFixed(0)} s: senders stop; waiting for their last retries`,
  );
  await Promise.all(senders);

  // history as it stands, read by a member of every session
  const verifier = await stack.connect(stack.user('verifier'), 1);
  const history = new Map<string, Frame[]>();
  for (const s of sessions) {
    await ask(verifier, { type: 'join', session: s, public: true }, 10_000);
    const all: Frame[] = [];
    for (;;) {
      const after = all.length > 0 ? Number(all[all.length - 1]!.seq) : 0;
      const reply = await ask(
        verifier,
        { type: 'history', session: s, after_seq: after, limit: 200 },
        20_000,
      );
      const page = reply.messages as Frame[];
      all.push(...page);
      if (page.length < 200) break;
    }
    history.set(s, all);
  }

  // receivers catch up (pushes still in flight, then history) for up to 60 s
  const target = new Map(
    [...history].map(([s, ms]) => [s, ms.length > 0 ? Number(ms[ms.length - 1]!.seq) : 0]),
  );
  const caughtUp = () =>
    receivers.every((r) => sessions.every((s) => r.last.get(s)! >= target.get(s)!));
  const catchUpUntil = Date.now() + 60_000;
  while (!caughtUp() && Date.now() < catchUpUntil) {
    await Promise.all(
      receivers.flatMap((r) => sessions.map((s) => r.fill(s).catch(() => undefined))),
    );
    await sleep(500);
  }
  for (const r of receivers) {
    r.done = true;
    r.client?.socket.terminate();
  }
  await Promise.all(receiving);

  // the counts
  let historyHoles = 0;
  const holeSamples: string[] = [];
  const stored = new Map<string, number>();
  const storedIds = new Map<string, Map<number, string>>();
  for (const [s, ms] of history) {
    const bySeq = new Map<number, string>();
    let previous = 0;
    ms.forEach((m) => {
      // seqs missing below this one (the contract: 1..N with no hole)
      const missing = Number(m.seq) - previous - 1;
      if (missing > 0) {
        historyHoles += missing;
        if (holeSamples.length < 10) {
          holeSamples.push(
            missing === 1 ? `${s}#${previous + 1}` : `${s}#${previous + 1}-${Number(m.seq) - 1}`,
          );
        }
      }
      previous = Number(m.seq);
      bySeq.set(Number(m.seq), String(m.message_id));
      const cmid = String(m.text).replace(/^soak /, '');
      stored.set(cmid, (stored.get(cmid) ?? 0) + 1);
    });
    storedIds.set(s, bySeq);
  }
  for (const [cmid, r] of records) {
    const p = phases[r.phase]!;
    if (r.attempts > 1) p.retried++;
    const count = stored.get(cmid) ?? 0;
    if (r.ack) {
      p.acked++;
      if (count === 0) p.lost++;
    } else {
      p.unacked++;
      if (count > 0) p.stored_unacked++;
    }
    if (count > 1) p.duplicated++;
  }
  // a hole is charged to the phase of the first message above it
  const phaseOf = new Map<string, number>();
  for (const r of records.values()) if (r.ack) phaseOf.set(`${r.session}#${r.ack.seq}`, r.phase);
  for (const [s, ms] of history) {
    let previous = 0;
    for (const m of ms) {
      const missing = Number(m.seq) - previous - 1;
      if (missing > 0) phases[phaseOf.get(`${s}#${Number(m.seq)}`) ?? 0]!.holes += missing;
      previous = Number(m.seq);
    }
  }
  const receiverReports = receivers.map((r) => {
    let holes = 0;
    let mismatches = 0;
    for (const s of sessions) {
      const seen = r.have.get(s)!;
      const expected = storedIds.get(s)!;
      for (let seq = 1; seq <= target.get(s)!; seq++) {
        if (!seen.has(seq)) holes++;
        else if (expected.get(seq) !== undefined && expected.get(seq) !== seen.get(seq))
          mismatches++;
      }
    }
    return {
      name: r.name,
      holes,
      conflicts: r.conflicts,
      mismatches,
      repeatedPushes: r.repeatedPushes,
      pushes: r.pushes,
      reconnects: r.reconnects,
    };
  });
  const natsClient = await connectNats(nats.url, 'tracechat-soak');
  let deadLettered = 0;
  try {
    const jsm = await natsClient.jetstreamManager();
    deadLettered = (await jsm.streams.info(`${stack.natsStream}_DLQ`)).state.messages;
  } catch {
    // no dead-letter stream: nothing was dead-lettered
  } finally {
    await natsClient.close();
  }
  const sum = (k: keyof SoakPhase) => phases.reduce((n, p) => n + (p[k] as number), 0);
  return {
    seconds: options.seconds,
    sent: records.size,
    acked: sum('acked'),
    phases,
    receivers: receiverReports,
    historyHoles,
    holeSamples,
    historyMessages: [...history.values()].reduce((n, ms) => n + ms.length, 0),
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    storedUnacked: sum('stored_unacked'),
    unacked: sum('unacked'),
    deadLettered,
    faultErrors,
  };
}

/** The report as a table, for the command's output and the test's log. */
export function formatSoakReport(report: SoakReport): string {
  const lines = [
    `tracechat soak: ${report.seconds} s, ${report.sent} messages sent, ${report.acked} acked, ${report.historyMessages} in history`,
    '',
    'phase (from)                          at s   acked  retried  unacked   lost  duplicated  stored-unacked  holes',
  ];
  for (const p of report.phases) {
    lines.push(
      `${p.fault.padEnd(36)} ${String(p.atSeconds).padStart(5)} ${String(p.acked).padStart(7)} ${String(p.retried).padStart(8)} ${String(p.unacked).padStart(8)} ${String(p.lost).padStart(6)} ${String(p.duplicated).padStart(11)} ${String(p.stored_unacked).padStart(15)} ${String(p.holes).padStart(6)}`,
    );
  }
  lines.push('');
  lines.push(
    `history: ${report.historyHoles} seqs missing (holes) below the sessions' last seqs, ${report.historyMessages} messages`,
  );
  if (report.holeSamples.length > 0) lines.push(`  missing: ${report.holeSamples.join(', ')}`);
  for (const r of report.receivers) {
    lines.push(
      `${r.name}: ${r.holes} holes, ${r.conflicts} conflicting seqs, ${r.mismatches} mismatches with history, ${r.pushes} pushes (${r.repeatedPushes} repeated), ${r.reconnects} reconnects`,
    );
  }
  lines.push(`dead-lettered pushes: ${report.deadLettered}`);
  if (report.faultErrors.length > 0) lines.push(`fault errors: ${report.faultErrors.join('; ')}`);
  lines.push(
    `TOTAL acked ${report.acked}, lost ${report.lost}, duplicated ${report.duplicated}, stored-unacked ${report.storedUnacked}, unacked ${report.unacked}, history holes ${report.historyHoles}, receiver holes ${report.receivers.reduce((n, r) => n + r.holes, 0)}`,
  );
  return lines.join('\n');
}
