import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { assertAbsentAfterControl, fetchTrace, setup, viewTrace, waitFor } from '@tracechat/testkit';
import type { ChatClient, Frame, JaegerTrace, TestStack } from '@tracechat/testkit';

// The collector tier between the services and Jaeger, with a short decision wait so the test
// does not sit idle: errors, slow (> 1 s) and debug traces are always kept, 10 % of the rest.
const DECISION_WAIT_MS = 2000;
const SLOW_MS = 1000;
const PERCENT = 10;
const MESSAGES = 200;

/**
 * The collector's probabilistic policy, reproduced: a trace is kept when the FNV-1a 64 hash of
 * the salt ("default-hash-seed") followed by the 16 trace-id bytes is at most PERCENT % of 2^64-1
 * (tailsamplingprocessor internal/sampling/probabilistic.go). Comparing with it per trace id
 * leaves no room for chance: the test fails only when the collector decides otherwise.
 */
function baselineKeeps(traceId: string): boolean {
  const MASK = (1n << 64n) - 1n;
  let hash = 0xcbf29ce484222325n;
  for (const byte of [...Buffer.from('default-hash-seed'), ...Buffer.from(traceId, 'hex')]) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & MASK;
  }
  return hash <= (MASK * BigInt(PERCENT)) / 100n;
}

function traceIdWhere(kept: boolean): string {
  for (;;) {
    const id = randomBytes(16).toString('hex');
    if (baselineKeeps(id) === kept) return id;
  }
}

let stack: TestStack;
let sender: ChatClient;
let reader: ChatClient;
let room: string;
/** Connections this file holds open, for the gateways' connection gauge. */
let open = 0;

const connect = async (name: string, gateway: 1 | 2) => {
  const client = await stack.connect(stack.user(name), gateway);
  open++;
  return client;
};

beforeAll(async () => {
  stack = await setup({ collector: true, collectorEnv: { TAIL_DECISION_WAIT: `${DECISION_WAIT_MS / 1000}s`, TRACECHAT_TAIL_SAMPLE_PERCENT: '10' } });
  room = stack.session('tail');
  sender = await connect('sender', 1);
  reader = await connect('reader', 2);
  for (const c of [sender, reader]) expect(await c.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

const fetchOne = (traceId: string) => fetchTrace(stack.jaegerUrl, traceId);

/** Waits until every trace is in Jaeger and satisfies `ready`; resolves with them in order. */
async function keptTraces(traceIds: string[], ready: (t: JaegerTrace) => boolean = () => true): Promise<JaegerTrace[]> {
  return waitFor(
    async () => {
      const traces = await Promise.all(traceIds.map(fetchOne));
      return traces.every((t) => t !== undefined && ready(t)) ? (traces as JaegerTrace[]) : undefined;
    },
    { timeoutMs: DECISION_WAIT_MS + 20_000, intervalMs: 500, what: `${traceIds.length} traces kept` },
  );
}

function isWhole(trace: JaegerTrace): boolean {
  const names = new Set(trace.spans.map((s) => s.operationName));
  const services = new Set(trace.spans.map((s) => viewTrace(trace).service(s)));
  return (
    ['gateway', 'logic', 'task'].every((s) => services.has(s)) &&
    ['gateway.ws.on_message', 'logic.chat.send_message', 'task.mq.consume', 'gateway.ws.push'].every((n) => names.has(n))
  );
}

/** A trace's whole span, first start to last end, as the latency policy measures it (ms). */
function traceMs(trace: JaegerTrace): number {
  const start = Math.min(...trace.spans.map((s) => s.startTime));
  const end = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
  return (end - start) / 1000;
}

const keptForAnotherReason = (trace: JaegerTrace) =>
  traceMs(trace) > SLOW_MS || trace.spans.some((s) => s.tags.some((t) => t.key === 'error' && t.value === true));

async function sendAndDeliver(text: string, extra: Record<string, unknown> = {}, ack = true): Promise<Frame> {
  const sent = await sender.request({ type: 'send', session: room, text, ...extra });
  expect(sent.type).toBe('ack');
  const pushed = await reader.waitFor((f) => f.type === 'message' && f.message_id === sent.message_id);
  if (ack) reader.send({ type: 'received', message_id: pushed.message_id, traceparent: pushed.traceparent });
  return { ...sent, pushed_traceparent: pushed.traceparent };
}

it('keeps exactly the ordinary messages the probabilistic policy picks by trace id, each whole', async () => {
  const ids: string[] = [];
  for (let i = 0; i < MESSAGES; i++) ids.push(String((await sendAndDeliver(`ordinary ${i}`)).trace_id));
  const picked = ids.filter((id) => baselineKeeps(id));
  const notPicked = ids.filter((id) => !baselineKeeps(id));
  // The policy's choice is a function of the trace id: every picked trace must be kept, whole.
  // P(no id picked among 200 at 10 %) = 0.9^200 < 1e-9, so the check is never empty.
  expect(picked.length).toBeGreaterThan(0);
  for (const trace of await keptTraces(picked, isWhole)) expect(isWhole(trace)).toBe(true);
  // The rest is kept only for another reason (slower than 1 s on a busy machine, or an error).
  // Absence is read after a control that is always kept and was sent after all of them.
  await assertAbsentAfterControl({
    sendControl: () => sendAndDeliver('control', { debug: true }),
    controlArrived: async (control) => {
      const trace = await fetchOne(String(control.trace_id));
      return trace !== undefined && isWhole(trace);
    },
    absent: async () => {
      const unexplained: string[] = [];
      for (const id of notPicked) {
        const trace = await fetchOne(id);
        if (trace && !keptForAnotherReason(trace)) unexplained.push(id);
      }
      expect(unexplained).toEqual([]);
    },
    timeoutMs: DECISION_WAIT_MS + 20_000,
    intervalMs: 500,
  });
}, 240_000);

it('lets late spans follow their trace’s decision: added to a kept trace, dropped with a dropped one', async () => {
  // trace ids chosen on both sides of the policy's line, sent as the client's (sampled) context
  const keptId = traceIdWhere(true);
  const droppedId = traceIdWhere(false);
  const dropped = await sendAndDeliver('to drop', { traceparent: `00-${droppedId}-0123456789abcdef-01` }, false);
  const kept = await sendAndDeliver('to keep', { traceparent: `00-${keptId}-0123456789abcdef-01` }, false);
  expect([dropped.trace_id, kept.trace_id]).toEqual([droppedId, keptId]);
  // the decision is made: the kept trace is in Jaeger, without a delivery ack yet
  const [before] = await keptTraces([keptId], isWhole);
  expect(viewTrace(before!).byName('gateway.ws.delivery_ack')).toEqual([]);
  // then the reader acknowledges both deliveries, the dropped one first, on one connection
  await assertAbsentAfterControl({
    sendControl: () => {
      reader.send({ type: 'received', message_id: dropped.message_id, traceparent: dropped.pushed_traceparent });
      reader.send({ type: 'received', message_id: kept.message_id, traceparent: kept.pushed_traceparent });
    },
    controlArrived: async () => {
      const trace = await fetchOne(keptId);
      return trace !== undefined && viewTrace(trace).byName('gateway.ws.delivery_ack').length === 1;
    },
    absent: async () => {
      const late = await fetchOne(droppedId);
      // dropped, unless it was slow enough for the latency policy (then its ack joins it too)
      if (late) expect(keptForAnotherReason(late)).toBe(true);
    },
    timeoutMs: DECISION_WAIT_MS + 20_000,
    intervalMs: 500,
  });
}, 60_000);

// The next tests send trace ids the probabilistic policy would drop, so only the rule under test
// can keep them.
const unpicked = () => ({ traceparent: `00-${traceIdWhere(false)}-0123456789abcdef-01` });

it('always keeps failing sends', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const reply = await sender.request({ type: 'send', session: stack.session(`not-joined-${i}`), text: 'no', ...unpicked() });
    expect(reply).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    ids.push(String(reply.trace_id));
  }
  const traces = await keptTraces(ids, (t) => viewTrace(t).byName('logic.chat.send_message').length === 1);
  for (const trace of traces) {
    const v = viewTrace(trace);
    expect(v.one('logic.chat.send_message').tags).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'error', value: true })]));
  }
}, 60_000);

it('always keeps debug frames', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push(String((await sendAndDeliver(`debug ${i}`, { debug: true, ...unpicked() })).trace_id));
  const traces = await keptTraces(ids, isWhole);
  expect(viewTrace(traces[0]!).tag(viewTrace(traces[0]!).one('gateway.ws.on_message'), 'chat.debug')).toBe(true);
}, 60_000);

it('always keeps messages whose trace is slow for real (a lock held on the messages table for 1.5 s delays their projection)', async () => {
  const db = new Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    await db.query('BEGIN');
    await db.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
    // three connections: frames of one connection are handled in order, one at a time
    const senders = [sender, await connect('sender', 1), await connect('sender', 2)];
    const pending = senders.map((c, i) => c.request({ type: 'send', session: room, text: `slow ${i}`, ...unpicked() }, 20_000));
    // the lock is what makes them slow: held for 1.5 s, whatever the machine's speed
    await new Promise((r) => setTimeout(r, 1500));
    await db.query('COMMIT');
    const acks = await Promise.all(pending);
    // the ack waits only for the journal; the projection into Postgres waits for the lock, and it
    // is part of the same trace: the trace (first start to last end) takes over a second
    const traces = await keptTraces(
      acks.map((a) => String(a.trace_id)),
      (t) => viewTrace(t).byName('journal.db.save_message').length === 1,
    );
    for (const trace of traces) {
      const first = Math.min(...trace.spans.map((s) => s.startTime));
      const last = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
      expect(last - first).toBeGreaterThan(1_000_000);
    }
  } finally {
    await db.end();
  }
}, 60_000);

describe('metrics on the collector’s Prometheus endpoint', () => {
  // Counters are cumulative over the file: each assertion is on what this block itself sent.
  const SENT = 20;
  const FAILED = 5;
  let before: string;
  let text: string;
  const valueIn = (body: string, name: string, labels: Record<string, string> = {}) =>
    body
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[1]), 0);
  const value = (name: string, labels: Record<string, string> = {}) => valueIn(text, name, labels);
  const delta = (name: string, labels: Record<string, string> = {}) => value(name, labels) - valueIn(before, name, labels);
  const scrape = async () => (await fetch(stack.metricsUrl!)).text();
  const spanCalls = (service: string, span: string, labels: Record<string, string> = {}) =>
    delta('traces_span_metrics_calls_total', { service_name: service, span_name: span, ...labels });
  /** Every counter the tests below assert, with its lower bound: waited for together. */
  const lowerBounds = (): [number, number][] => [
    [spanCalls('gateway', 'gateway.ws.on_message'), SENT + FAILED],
    [spanCalls('logic', 'logic.chat.send_message'), SENT + FAILED],
    [spanCalls('task', 'task.mq.consume'), SENT],
    [spanCalls('logic', 'logic.chat.send_message', { status_code: 'STATUS_CODE_ERROR' }), FAILED],
    [delta('traces_span_metrics_duration_milliseconds_count', { service_name: 'journal', span_name: 'journal.db.save_message' }), SENT],
    [delta('tracechat_messages_sent_total'), SENT],
    [delta('tracechat_messages_delivered_total'), SENT],
    [delta('tracechat_message_delivery_latency_milliseconds_count'), SENT],
    // counted once the spans' export has finished, so up to a metric interval after the others
    [delta('tracechat_telemetry_spans_exported_total', { job: 'logic' }), 2 * (SENT + FAILED)],
  ];

  beforeAll(async () => {
    before = await scrape();
    for (let i = 0; i < SENT; i++) await sendAndDeliver(`counted ${i}`);
    for (let i = 0; i < FAILED; i++) {
      expect(await sender.request({ type: 'send', session: stack.session('never-joined'), text: 'no' })).toMatchObject({ code: 'FORBIDDEN' });
    }
    // metrics are exported every 5 s and span metrics flushed every 5 s
    text = await waitFor(
      async () => {
        text = await scrape();
        return lowerBounds().every(([figure, min]) => figure >= min) &&
          value('tracechat_gateway_connections', { job: 'gateway' }) === open
          ? text
          : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 1000, what: 'metrics of this block' },
    ).catch(() => text); // the assertions below say which one is missing
  }, 90_000);

  it('serves calls and duration histograms per service and span name', () => {
    expect(delta('traces_span_metrics_calls_total', { service_name: 'gateway', span_name: 'gateway.ws.on_message' })).toBeGreaterThanOrEqual(SENT + FAILED);
    expect(delta('traces_span_metrics_calls_total', { service_name: 'logic', span_name: 'logic.chat.send_message' })).toBeGreaterThanOrEqual(SENT + FAILED);
    expect(delta('traces_span_metrics_calls_total', { service_name: 'task', span_name: 'task.mq.consume' })).toBeGreaterThanOrEqual(SENT);
    expect(delta('traces_span_metrics_calls_total', { service_name: 'logic', span_name: 'logic.chat.send_message', status_code: 'STATUS_CODE_ERROR' })).toBeGreaterThanOrEqual(FAILED);
    expect(delta('traces_span_metrics_duration_milliseconds_count', { service_name: 'journal', span_name: 'journal.db.save_message' })).toBeGreaterThanOrEqual(SENT);
    expect(text).toMatch(/traces_span_metrics_duration_milliseconds_bucket\{[^}]*service_name="gateway"[^}]*span_name="gateway.ws.on_message"[^}]*le="1000"/);
  });

  it('serves the service metrics with real values', () => {
    expect(delta('tracechat_messages_sent_total')).toBeGreaterThanOrEqual(SENT);
    expect(delta('tracechat_messages_delivered_total')).toBeGreaterThanOrEqual(SENT);
    expect(delta('tracechat_message_delivery_latency_milliseconds_count')).toBeGreaterThanOrEqual(SENT);
    expect(value('tracechat_gateway_connections', { job: 'gateway' })).toBe(open);
    // every send makes several logic spans
    expect(delta('tracechat_telemetry_spans_exported_total', { job: 'logic' })).toBeGreaterThanOrEqual(2 * (SENT + FAILED));
    expect(text).toMatch(/tracechat_telemetry_spans_dropped_total\{[^}]*job="gateway"/);
  });
});
