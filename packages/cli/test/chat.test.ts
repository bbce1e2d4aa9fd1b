// `tracechat chat` and `tracechat trace` as a person uses them, driven through stdin and stdout
// against a whole stack of its own: two people in a private session see each other's messages
// live, read history, survive their gateway restarting, and follow a message's journey.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startIsolatedStack } from '../src/isolated';
import type { IsolatedStack } from '../src/isolated';

const BIN = join(__dirname, '..', 'bin', 'tracechat.js');
// a shell secret, not the development one: the stack and the commands must agree on it
const AUTH_SECRET = randomBytes(24).toString('base64url');
const env = { ...process.env, AUTH_SECRET, FORCE_COLOR: '0' };

/** One `tracechat chat` process: lines in on stdin, everything it prints kept. */
class Chat {
  readonly proc: ChildProcessWithoutNullStreams;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [BIN, '--', 'chat', ...args], { env });
    this.proc.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.proc.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  type(line: string): void {
    this.proc.stdin.write(`${line}\n`);
  }

  /** Waits until the output (from `from` on) matches; returns the match. */
  async see(pattern: RegExp, from = 0, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.slice(from).match(pattern);
      if (match) return match;
      if (Date.now() > deadline)
        throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

let stack: IsolatedStack;
const chats: Chat[] = [];

beforeAll(async () => {
  stack = await startIsolatedStack({
    collector: false,
    spanExportDelayMs: 200,
    environment: 'test',
    authSecret: AUTH_SECRET,
  });
}, 90_000);

afterAll(async () => {
  for (const chat of chats) chat.proc.kill();
  await stack?.remove();
});

const startChat = (user: string, session: string, gateway: 0 | 1) => {
  const chat = new Chat([
    '--user',
    user,
    '--session',
    session,
    '--gateway',
    stack.gatewayUrls[gateway],
    '--jaeger',
    stack.jaegerUrl,
    '--database-url',
    stack.databaseUrl,
  ]);
  chats.push(chat);
  return chat;
};

it('two people chat live in a private session, read history, reconnect, and trace a message', async () => {
  const session = `review-${stack.namespace.run}`;
  const alice = startChat('alice', session, 0);
  await alice.see(/joined review-\w+ as alice \(0 message\(s\) so far\)/);
  alice.type('/invite bob');
  await alice.see(/invited bob to review-/);

  // carol was not invited: told why and what to do
  const carol = startChat('carol', session, 1);
  expect(await carol.exited).toBe(1);
  expect(carol.output).toContain('ask a member to /invite carol');

  const bob = startChat('bob', session, 1);
  await bob.see(/joined review-\w+ as bob/);

  alice.type('hello bob');
  const [, messageId] = await alice.see(/sent #1: message ([0-9a-f-]{36}) trace [0-9a-f]{32}/);
  await bob.see(/#1 \d\d:\d\d:\d\d alice: hello bob/);
  bob.type('hi alice');
  await alice.see(/#2 \d\d:\d\d:\d\d bob: hi alice/);

  const before = bob.output.length;
  bob.type('/history 5');
  const history = await bob.see(
    /-- history of review-\w+: 2 message\(s\) --\n(.*)\n(.*)\n-- end of history --/,
    before,
  );
  expect(history[1]).toMatch(/^#1 .* alice: hello bob$/);
  expect(history[2]).toMatch(/^#2 .* bob: hi alice$/);

  // bob's gateway goes away; what alice sends meanwhile reaches him once he is back
  const down = bob.output.length;
  await stack.stopService('gateway-2');
  await bob.see(/connection lost/, down);
  alice.type('while you were away');
  await alice.see(/sent #3:/);
  await stack.startService('gateway-2');
  await bob.see(/reconnected; caught up to #3/, down, 30_000);
  expect(bob.output.slice(down)).toMatch(/#3 \d\d:\d\d:\d\d alice: while you were away/);
  expect(bob.output.match(/alice: hello bob/g)).toHaveLength(2); // live + /history, not again

  // the journey of the last message, from inside the chat
  const tracing = bob.output.length;
  bob.type('/trace');
  await bob.see(/hops \(at, latency\):\n(.*\n)* {2}logic\s+logic\s+\+/, tracing);
  expect(bob.output.slice(tracing)).toMatch(/\* .* journal\.append_message\s+journal/);

  alice.type('/quit');
  bob.proc.stdin.end(); // end of input quits too
  expect(await alice.exited).toBe(0);
  expect(await bob.exited).toBe(0);

  // the journey of alice's first message, from her gateway to bob's acknowledgement
  const traced = spawnSync(
    process.execPath,
    [
      BIN,
      '--',
      'trace',
      messageId!,
      '--jaeger',
      stack.jaegerUrl,
      '--database-url',
      stack.databaseUrl,
      '--no-color',
    ],
    { encoding: 'utf8', env, timeout: 30_000 },
  );
  expect(traced.stderr).toBe('');
  expect(traced.status).toBe(0);
  const lines = traced.stdout.split('\n');
  const span = (name: string) => lines.find((l) => l.includes(` ${name} `) || l.endsWith(name));
  for (const [name, service] of [
    ['gateway.ws.on_message', 'gateway'],
    ['logic.chat.send_message', 'logic'],
    ['journal.append_message', 'journal'],
    ['task.mq.consume', 'task'],
    ['gateway.ws.delivery_ack', 'gateway'],
  ]) {
    expect(span(name!)).toMatch(
      new RegExp(`^\\*.*\\+[\\d.]+ (µs|ms).* ${name!.replace(/\./g, '\\.')}\\s+${service}\\s+█`),
    );
  }
  expect(traced.stdout).toMatch(/^hops \(at, latency\):$/m);
  for (const hop of [
    'gateway',
    'logic',
    'journal',
    'projection',
    'NATS',
    'task',
    'gateway push',
    "recipient's client",
  ])
    expect(traced.stdout).toMatch(
      new RegExp(`^  ${hop}\\s+\\w+\\s+\\+[\\d.]+ (µs|ms)\\s+[\\d.]+ (µs|ms)$`, 'm'),
    );
}, 120_000);
