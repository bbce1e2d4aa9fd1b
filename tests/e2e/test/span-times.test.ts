import { setup, viewTrace, waitForTrace } from '@tracechat/testkit';
import type { JaegerSpan, JaegerTrace, TestStack, TraceView } from '@tracechat/testkit';

/** Messages sent; each is one trace across both gateways, logic, journal and task. */
const MESSAGES = 6;

/** The spans each trace must hold before it is measured (each service exports on its own). */
const EXPECTED = [
  'gateway.ws.on_message',
  'gateway.ws.send_response',
  'logic.chat.send_message',
  'logic.auth.authorize',
  'logic.placement.lookup_shard',
  'logic.journal.append',
  'journal.append_message',
  'journal.segment.append',
  'journal.index.update',
  'journal.segment.fsync',
  'journal.db.save_message',
  'journal.mq.publish',
  'task.mq.consume',
  'task.route.resolve',
  'gateway.ws.push',
  'gateway.ws.delivery_ack',
];

/** Children of one span in the order the code starts them (each awaits the one before). */
const SIBLINGS: readonly (readonly [parent: string, children: readonly string[]])[] = [
  [
    'logic.chat.send_message',
    ['logic.auth.authorize', 'logic.placement.lookup_shard', 'logic.journal.append'],
  ],
  [
    'journal.append_message',
    ['journal.segment.append', 'journal.index.update', 'journal.segment.fsync'],
  ],
];

let stack: TestStack;
const traces: JaegerTrace[] = [];

beforeAll(async () => {
  stack = await setup();
  const room = stack.session('clock');
  const a = await stack.connect(stack.user('alice'), 1);
  const b = await stack.connect(stack.user('bob'), 2);
  for (const c of [a, b]) await c.request({ type: 'join', session: room, public: true });
  const traceIds: string[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const ack = await a.request({ type: 'send', session: room, text: `tick ${i}` });
    const pushed = await b.waitFor((f) => f.type === 'message' && f.message_id === ack.message_id);
    b.send({ type: 'received', message_id: pushed.message_id, traceparent: pushed.traceparent });
    traceIds.push(String(ack.trace_id));
  }
  for (const id of traceIds) {
    traces.push(
      await waitForTrace(stack.jaegerUrl, id, (t) =>
        EXPECTED.every((name) => t.spans.some((s) => s.operationName === name)),
      ),
    );
  }
}, 240_000);

afterAll(async () => {
  await stack?.cleanup();
});

const onWholeMs = (span: JaegerSpan) => span.startTime % 1000 === 0;
const end = (span: JaegerSpan) => span.startTime + span.duration;

describe('span times on a real stack', () => {
  it('starts at most 10 % of spans on a whole millisecond', () => {
    const spans = traces.flatMap((t) => t.spans);
    const whole = spans.filter(onWholeMs);
    const share = whole.length / spans.length;
    console.log(
      `span times: ${spans.length} spans in ${traces.length} traces, ${whole.length} ` +
        `(${(share * 100).toFixed(1)} %) start on a whole millisecond` +
        (whole.length ? `: ${[...new Set(whole.map((s) => s.operationName))].join(', ')}` : ''),
    );
    expect(spans.length).toBeGreaterThanOrEqual(MESSAGES * EXPECTED.length);
    expect(share).toBeLessThanOrEqual(0.1);
  });

  it('never starts a span before its parent in the same process', () => {
    let pairs = 0;
    let crossEarly = 0;
    const early: string[] = [];
    for (const trace of traces) {
      const v = viewTrace(trace);
      for (const span of trace.spans) {
        const parent = v.parent(span);
        if (!parent) continue;
        if (parent.processID !== span.processID) {
          // another process's clock: anchored to the same wall clock, within ~1 ms
          if (span.startTime < parent.startTime) crossEarly++;
          continue;
        }
        pairs++;
        if (span.startTime < parent.startTime) {
          early.push(
            `${v.service(span)} ${span.operationName} starts ${parent.startTime - span.startTime} µs ` +
              `before its parent ${parent.operationName}`,
          );
        }
      }
    }
    console.log(
      `span times: ${pairs} parent → child pairs within one process, ${early.length} child ` +
        `before its parent; across processes ${crossEarly} child before its parent`,
    );
    expect(pairs).toBeGreaterThanOrEqual(MESSAGES * 10);
    expect(early).toEqual([]);
  });

  it('gives sibling spans of one send distinct, ordered sub-millisecond starts', () => {
    const gaps: number[] = [];
    let siblings = 0;
    let wholeMs = 0;
    for (const trace of traces) {
      const v: TraceView = viewTrace(trace);
      for (const [parentName, names] of SIBLINGS) {
        const parent = v.one(parentName);
        const children = names.map((name) => v.one(name));
        for (const child of children) expect(v.parent(child)).toBe(parent);
        const starts = children.map((c) => c.startTime);
        expect(new Set(starts).size).toBe(children.length);
        for (let i = 1; i < children.length; i++) {
          // started in this order, each after the one before had ended
          expect(starts[i]!).toBeGreaterThan(starts[i - 1]!);
          expect(starts[i]!).toBeGreaterThanOrEqual(end(children[i - 1]!));
          gaps.push(starts[i]! - starts[i - 1]!);
        }
        siblings += children.length;
        wholeMs += children.filter(onWholeMs).length;
      }
    }
    gaps.sort((x, y) => x - y);
    const subMs = gaps.filter((g) => g < 1000).length;
    console.log(
      `span times: ${siblings} siblings, ${wholeMs} on a whole millisecond; start-to-start gaps ` +
        `${gaps[0]}–${gaps[gaps.length - 1]} µs (median ${gaps[gaps.length >> 1]} µs), ` +
        `${subMs} of ${gaps.length} under 1 ms`,
    );
    // a millisecond clock would put siblings less than 1 ms apart on the same start
    expect(wholeMs).toBeLessThanOrEqual(1);
  });
});
