import { buildJourney, formatDuration, renderHops, renderWaterfall, serviceColor } from '../src';
import type { JaegerTrace } from '../src';
import fixture from './fixtures/two-recipients.json';

const trace = (fixture as unknown as { data: JaegerTrace[] }).data[0]!;
const clone = (): JaegerTrace => JSON.parse(JSON.stringify(trace)) as JaegerTrace;
// eslint-disable-next-line no-control-regex -- ANSI escapes are what is looked for
const ANSI = /\x1b\[[0-9;]*m/g;

describe('buildJourney', () => {
  const journey = buildJourney(trace);
  const byName = (name: string) => journey.spans.filter((s) => s.name === name);

  it('orders the spans depth-first from the sender, children by start', () => {
    expect(journey.traceId).toBe(trace.traceID);
    expect(journey.spans).toHaveLength(trace.spans.length);
    expect(journey.spans.slice(0, 4).map((s) => [s.name, s.depth])).toEqual([
      ['web.chat.send', 0],
      ['gateway.ws.on_message', 1],
      ['gateway.grpc.send_message', 2],
      ['logic.chat.send_message', 3],
    ]);
    // the ack frame starts after the gRPC call, so it is the root's last child in the list
    expect(journey.spans.at(-1)!.name).toBe('gateway.ws.send_response');
    for (const [i, span] of journey.spans.entries()) {
      if (span.parentId === null) continue;
      const parentIndex = journey.spans.findIndex((s) => s.spanId === span.parentId);
      expect(parentIndex).toBeGreaterThanOrEqual(0);
      expect(parentIndex).toBeLessThan(i);
      expect(span.depth).toBe(journey.spans[parentIndex]!.depth + 1);
    }
  });

  it('takes services from processes, offsets from the first start and attributes from tags', () => {
    const min = Math.min(...trace.spans.map((s) => s.startTime));
    const max = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
    expect(journey.startUs).toBe(min);
    expect(journey.durationUs).toBe(max - min);
    const [render] = byName('web.chat.render');
    expect(render!.service).toBe('web');
    expect(render!.offsetUs).toBe(5600);
    expect(render!.durationUs).toBe(2200);
    const [onMessage] = byName('gateway.ws.on_message');
    expect(onMessage!.service).toBe('gateway');
    expect(onMessage!.attributes['chat.user.id']).toBe('alice');
    expect(onMessage!.attributes['chat.frame.size']).toBe(121);
    expect(byName('logic.auth.authorize')[0]!.attributes['chat.cache.hit']).toBe(true);
    expect(journey.spans.every((s) => !s.error)).toBe(true);
  });

  it('follows the critical path to the last delivery, past parents that ended before it', () => {
    const names = journey.criticalPath.map(
      (id) => journey.spans.find((s) => s.spanId === id)!.name,
    );
    expect(names).toEqual([
      'web.chat.send',
      'gateway.ws.on_message',
      'gateway.grpc.send_message',
      'logic.chat.send_message',
      'logic.journal.append',
      'journal.append_message',
      'journal.mq.publish',
      'task.mq.consume',
      'task.push.gateway',
      'gateway.push.deliver',
      'gateway.ws.push',
      'web.chat.render',
      'gateway.ws.delivery_ack',
    ]);
    const onPath = journey.spans.filter((s) => s.onCriticalPath).map((s) => s.spanId);
    expect(new Set(onPath)).toEqual(new Set(journey.criticalPath));
    // the path goes to bob's gateway, whose push is the one the last event hangs on
    const lastPush = journey.spans.find((s) => s.spanId === journey.criticalPath[10]);
    expect(lastPush!.attributes['chat.user.id']).toBe('bob');
  });

  it('ends the critical path at the last arrival, not at later housekeeping', () => {
    const t = clone();
    const append = t.spans.find((s) => s.operationName === 'journal.append_message')!;
    t.spans.push({
      ...append,
      spanID: 'ffffffffffff0001',
      operationName: 'pg.query:UPDATE',
      references: [{ refType: 'CHILD_OF', traceID: t.traceID, spanID: append.spanID }],
      startTime: append.startTime + 500_000,
      duration: 12_000,
      tags: [],
    });
    const j = buildJourney(t);
    const last = j.spans.find((s) => s.spanId === j.criticalPath.at(-1))!;
    expect(last.name).toBe('gateway.ws.delivery_ack');
    expect(last.attributes['chat.user.id']).toBe('bob');
    expect(j.spans.find((s) => s.name === 'pg.query:UPDATE')!.onCriticalPath).toBe(false);
    expect(j.durationUs).toBeGreaterThan(500_000);
  });

  it('names the hops in travel order, one push and recipient per connection', () => {
    expect(journey.hops.map((h) => [h.key, h.label, h.service])).toEqual([
      ['sender', "sender's browser", 'web'],
      ['gateway', 'gateway', 'gateway'],
      ['logic', 'logic', 'logic'],
      ['journal', 'journal', 'journal'],
      ['projection', 'projection', 'journal'],
      ['nats', 'NATS', 'journal'],
      ['task', 'task', 'task'],
      ['push', 'gateway push (gateway-1 → alice)', 'gateway'],
      ['recipient', "recipient's client (alice)", 'gateway'],
      ['push', 'gateway push (gateway-2 → bob)', 'gateway'],
      ['recipient', "recipient's screen (bob)", 'web'],
    ]);
    const hop = (label: string) => journey.hops.find((h) => h.label === label)!;
    // NATS: from the publish's start to the consume's start
    expect(hop('NATS').offsetUs).toBe(3705);
    expect(hop('NATS').durationUs).toBe(4300 - 3705);
    // a push runs from the gateway's deliver start to the frame written
    expect(hop('gateway push (gateway-2 → bob)').offsetUs).toBe(4900);
    expect(hop('gateway push (gateway-2 → bob)').durationUs).toBe(5030 - 4900);
    expect(hop("recipient's screen (bob)").durationUs).toBe(2200);
  });

  it('keeps plain labels and leaves out missing hops when one recipient has no browser', () => {
    const t = clone();
    const drop = new Set([
      'web.chat.send',
      'web.chat.render',
      'task.push.gateway',
      'gateway.push.deliver',
      'gateway.ws.push',
      'gateway.ws.delivery_ack',
    ]);
    const aliceAck = t.spans.find(
      (s) =>
        s.operationName === 'gateway.ws.delivery_ack' && s.tags!.some((g) => g.value === 'alice'),
    )!;
    t.spans = t.spans.filter((s) => !drop.has(s.operationName) || s.processID === 'p2');
    const ackParent = aliceAck.references![0]!.spanID;
    expect(t.spans.some((s) => s.spanID === ackParent)).toBe(true);
    const j = buildJourney(t);
    expect(j.hops.map((h) => h.label)).toEqual([
      'gateway',
      'logic',
      'journal',
      'projection',
      'NATS',
      'task',
      'gateway push',
      "recipient's client",
    ]);
  });

  it('makes orphans roots and starts the critical path at the gateway without the browser span', () => {
    const t = clone();
    t.spans = t.spans.filter(
      (s) => s.operationName !== 'web.chat.send' && s.operationName !== 'task.mq.consume',
    );
    const j = buildJourney(t);
    const roots = j.spans.filter((s) => s.parentId === null).map((s) => s.name);
    expect(roots).toEqual([
      'gateway.ws.on_message',
      'task.route.resolve',
      'task.push.gateway',
      'task.push.gateway',
    ]);
    expect(j.spans.find((s) => s.name === 'gateway.ws.on_message')!.depth).toBe(0);
    expect(j.spans.find((s) => s.spanId === j.criticalPath[0])!.name).toBe('gateway.ws.on_message');
    expect(j.spans).toHaveLength(t.spans.length);
  });

  it('uses FOLLOWS_FROM when there is no CHILD_OF and marks errors', () => {
    const t = clone();
    const consume = t.spans.find((s) => s.operationName === 'task.mq.consume')!;
    consume.references = consume.references!.map((r) => ({ ...r, refType: 'FOLLOWS_FROM' }));
    consume.tags!.push({ key: 'otel.status_code', type: 'string', value: 'ERROR' });
    t.spans
      .find((s) => s.operationName === 'logic.auth.authorize')!
      .tags!.push({ key: 'error', type: 'bool', value: true });
    const j = buildJourney(t);
    const c = j.spans.find((s) => s.name === 'task.mq.consume')!;
    expect(j.spans.find((s) => s.spanId === c.parentId)!.name).toBe('journal.mq.publish');
    expect(
      j.spans
        .filter((s) => s.error)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['logic.auth.authorize', 'task.mq.consume']);
  });

  it('survives an empty trace and a reference cycle', () => {
    expect(buildJourney({ traceID: 'x', spans: [], processes: {} })).toMatchObject({
      spans: [],
      hops: [],
      criticalPath: [],
      durationUs: 0,
    });
    const span = (id: string, parent: string) => ({
      traceID: 'x',
      spanID: id,
      operationName: id,
      processID: 'p',
      startTime: 10,
      duration: 5,
      references: [{ refType: 'CHILD_OF', traceID: 'x', spanID: parent }],
    });
    const j = buildJourney({
      traceID: 'x',
      spans: [span('a', 'b'), span('b', 'a')],
      processes: {},
    });
    expect(j.spans.map((s) => s.name).sort()).toEqual(['a', 'b']);
    expect(j.spans[0]!.service).toBe('unknown');
    expect(j.criticalPath.length).toBeGreaterThan(0);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 µs'],
    [850, '850 µs'],
    [999.4, '999 µs'],
    [999.7, '1.000 ms'],
    [1234, '1.234 ms'],
    [999_999, '1.00 s'],
    [2_100_000, '2.10 s'],
    [-1500, '-1.500 ms'],
  ])('%p µs reads %p', (us, text) => expect(formatDuration(us)).toBe(text));
});

describe('serviceColor', () => {
  it('gives tracechat services fixed distinct colours and others a stable one', () => {
    const known = ['web', 'gateway', 'logic', 'journal', 'task', 'placement'].map(serviceColor);
    expect(new Set(known).size).toBe(known.length);
    for (const c of known) expect(c).toMatch(/^#[0-9a-f]{6}$/);
    expect(serviceColor('postgres')).toBe(serviceColor('postgres'));
    expect(serviceColor('postgres')).toMatch(/^#[0-9a-f]{6}$/);
  });
});

describe('renderWaterfall', () => {
  const journey = buildJourney(trace);

  it('prints one line per span with µs offsets, durations, services and the critical path', () => {
    const text = renderWaterfall(journey, { width: 120 });
    expect(text).not.toMatch(ANSI);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toContain(trace.traceID);
    expect(lines[0]).toContain('8.340 ms');
    expect(lines).toHaveLength(1 + trace.spans.length);
    const render = lines.find((l) => l.includes('web.chat.render'))!;
    expect(render).toMatch(/^\* \+5\.600 ms 2\.200 ms\s+ {11}web\.chat\.render\s+web\s+ +█+$/);
    const authorize = lines.find((l) => l.includes('logic.auth.authorize'))!;
    expect(authorize).toMatch(/^ {2}\+1\.030 ms\s+45 µs/);
    for (const line of lines.slice(1)) expect(line.length).toBeLessThanOrEqual(120);
    // bars sit on the time line: the last ack ends at the right edge, the root starts at the left
    const barStart = (l: string) => l.indexOf('█');
    expect(barStart(lines[1]!)).toBeLessThan(barStart(render));
  });

  it('colours bars by service and bolds the critical path when asked', () => {
    const text = renderWaterfall(journey, { color: true });
    expect(text).toContain('\x1b[38;2;47;128;237m█'); // web's #2f80ed
    expect(text).toContain('\x1b[1m');
    expect(text.replace(ANSI, '')).toBe(renderWaterfall(journey, { color: false }));
  });

  it('lists the hops with their latencies', () => {
    const text = renderHops(journey);
    expect(text).toMatch(/NATS\s+journal\s+\+3\.705 ms\s+595 µs/);
    expect(text).toMatch(/recipient's screen \(bob\)\s+web\s+\+5\.600 ms\s+2\.200 ms/);
  });
});
