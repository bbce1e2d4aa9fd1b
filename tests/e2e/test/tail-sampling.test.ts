import { Client } from 'pg';
import { fetchTrace, setup, viewTrace } from '@tracechat/stack';
import type { ChatClient, Frame, JaegerTrace, TestStack } from '@tracechat/stack';

// The collector tier between the services and Jaeger, with a short decision wait so the test
// does not sit idle: errors, slow (> 1 s) and debug traces are always kept, 10 % of the rest.
const DECISION_WAIT_MS = 2000;

let stack: TestStack;
let sender: ChatClient;
let reader: ChatClient;
let room: string;

beforeAll(async () => {
  stack = await setup({ collector: true, collectorEnv: { TAIL_DECISION_WAIT: `${DECISION_WAIT_MS / 1000}s` } });
  room = stack.session('tail');
  sender = await stack.connect(stack.user('sender'), 1);
  reader = await stack.connect(stack.user('reader'), 2);
  for (const c of [sender, reader]) expect(await c.request({ type: 'join', session: room, public: true })).toMatchObject({ type: 'joined' });
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
});

/** Waits past the decision, then asks Jaeger for each trace; undefined where it was dropped. */
async function kept(traceIds: string[]): Promise<(JaegerTrace | undefined)[]> {
  await new Promise((r) => setTimeout(r, DECISION_WAIT_MS + 3000));
  return Promise.all(traceIds.map((id) => fetchTrace(stack.jaegerUrl, id)));
}

function isWhole(trace: JaegerTrace): boolean {
  const names = new Set(trace.spans.map((s) => s.operationName));
  const services = new Set(trace.spans.map((s) => viewTrace(trace).service(s)));
  return (
    ['gateway', 'logic', 'task'].every((s) => services.has(s)) &&
    ['gateway.ws.on_message', 'logic.chat.send_message', 'task.mq.consume', 'gateway.ws.push'].every((n) => names.has(n))
  );
}

async function sendAndDeliver(text: string, extra: Record<string, unknown> = {}): Promise<Frame> {
  const ack = await sender.request({ type: 'send', session: room, text, ...extra });
  expect(ack.type).toBe('ack');
  const pushed = await reader.waitFor((f) => f.type === 'message' && f.message_id === ack.message_id);
  reader.send({ type: 'received', message_id: pushed.message_id, traceparent: pushed.traceparent });
  return ack;
}

it('keeps about 10 % of 200 ordinary messages, each kept trace whole', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) ids.push(String((await sendAndDeliver(`ordinary ${i}`)).trace_id));
  const traces = await kept(ids);
  const found = traces.filter((t): t is JaegerTrace => t !== undefined);
  // Keeping is a fair coin per trace id with p = 0.1: Binomial(200, 0.1), mean 20, sd 4.2.
  // 6..40 holds with probability > 0.9999; a trace slower than 1 s on a busy machine is also kept,
  // which only moves the count up, inside the bound.
  expect(found.length).toBeGreaterThanOrEqual(6);
  expect(found.length).toBeLessThanOrEqual(40);
  for (const trace of found) expect(isWhole(trace)).toBe(true);
}, 180_000);

it('always keeps failing sends', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const reply = await sender.request({ type: 'send', session: stack.session(`not-joined-${i}`), text: 'no' });
    expect(reply).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    ids.push(String(reply.trace_id));
  }
  const traces = await kept(ids);
  expect(traces.every((t) => t !== undefined)).toBe(true);
  for (const trace of traces) {
    const v = viewTrace(trace!);
    expect(v.one('logic.chat.send_message').tags).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'error', value: true })]));
  }
}, 60_000);

it('always keeps debug frames', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push(String((await sendAndDeliver(`debug ${i}`, { debug: true })).trace_id));
  const traces = await kept(ids);
  expect(traces.every((t) => t !== undefined && isWhole(t))).toBe(true);
  expect(viewTrace(traces[0]!).tag(viewTrace(traces[0]!).one('gateway.ws.on_message'), 'chat.debug')).toBe(true);
}, 60_000);

it('always keeps messages made slow for real (a lock held on the messages table for 1.5 s)', async () => {
  const db = new Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    await db.query('BEGIN');
    await db.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
    // three connections: frames of one connection are handled in order, one at a time
    const senders = [sender, await stack.connect(stack.user('sender'), 1), await stack.connect(stack.user('sender'), 2)];
    const pending = senders.map((c, i) => c.request({ type: 'send', session: room, text: `slow ${i}` }, 20_000));
    await new Promise((r) => setTimeout(r, 1500));
    await db.query('COMMIT');
    const acks = await Promise.all(pending);
    const traces = await kept(acks.map((a) => String(a.trace_id)));
    expect(traces.every((t) => t !== undefined)).toBe(true);
    for (const trace of traces) {
      const root = viewTrace(trace!).one('gateway.ws.on_message');
      expect(root.duration).toBeGreaterThan(1_000_000);
    }
  } finally {
    await db.end();
  }
}, 60_000);

describe('metrics on the collector’s Prometheus endpoint', () => {
  let text: string;
  const value = (name: string, labels: Record<string, string> = {}) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[1]), 0);

  beforeAll(async () => {
    // metrics are exported every 5 s and span metrics flushed every 5 s
    const deadline = Date.now() + 30_000;
    for (;;) {
      text = await (await fetch(stack.metricsUrl!)).text();
      if (value('tracechat_messages_sent_total') >= 213 && value('tracechat_messages_delivered_total') >= 210) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }, 40_000);

  it('serves calls and duration histograms per service and span name', () => {
    expect(value('traces_span_metrics_calls_total', { service_name: 'gateway', span_name: 'gateway.ws.on_message' })).toBeGreaterThanOrEqual(220);
    expect(value('traces_span_metrics_calls_total', { service_name: 'logic', span_name: 'logic.chat.send_message' })).toBeGreaterThanOrEqual(220);
    expect(value('traces_span_metrics_calls_total', { service_name: 'task', span_name: 'task.mq.consume' })).toBeGreaterThanOrEqual(210);
    expect(value('traces_span_metrics_calls_total', { service_name: 'logic', span_name: 'logic.chat.send_message', status_code: 'STATUS_CODE_ERROR' })).toBeGreaterThanOrEqual(10);
    expect(value('traces_span_metrics_duration_milliseconds_count', { service_name: 'journal', span_name: 'journal.db.save_message' })).toBeGreaterThanOrEqual(213);
    expect(text).toMatch(/traces_span_metrics_duration_milliseconds_bucket\{[^}]*service_name="gateway"[^}]*span_name="gateway.ws.on_message"[^}]*le="1000"/);
  });

  it('serves the service metrics with real values', () => {
    expect(value('tracechat_messages_sent_total')).toBeGreaterThanOrEqual(213);
    expect(value('tracechat_messages_delivered_total')).toBeGreaterThanOrEqual(210);
    expect(value('tracechat_message_delivery_latency_milliseconds_count')).toBeGreaterThanOrEqual(213);
    expect(value('tracechat_gateway_connections', { job: 'gateway' })).toBe(4);
    expect(value('tracechat_telemetry_spans_exported_total', { job: 'logic' })).toBeGreaterThan(1000);
    expect(text).toMatch(/tracechat_telemetry_spans_dropped_total\{[^}]*job="gateway"/);
  });
});
