import type { JaegerTrace } from '@tracechat/client';
import { ACK_RETURN_HOP, HOPS, TOTAL_HOP, hopMs } from '../src/bench/hops';
import type { LoadResult } from '../src/bench/load';
import { benchOptionsFrom } from '../src/bench/options';
import { formatReport } from '../src/bench/report';
import type { BenchReport } from '../src/bench/report';
import type { RunResult } from '../src/bench/run';
import { parsePrometheus, serviceSpans } from '../src/bench/spans';
import { percentile, summarize } from '../src/bench/stats';

/** A trace of spans given as [id, parent, name, start ms, end ms]. */
function trace(spans: [string, string | null, string, number, number][]): JaegerTrace {
  return {
    traceID: 't',
    processes: { p: { serviceName: 'svc', tags: [] } },
    spans: spans.map(([id, parent, name, start, end]) => ({
      traceID: 't',
      spanID: id,
      operationName: name,
      references: parent ? [{ refType: 'CHILD_OF', traceID: 't', spanID: parent }] : [],
      startTime: start * 1000,
      duration: (end - start) * 1000,
      tags: [],
      processID: 'p',
    })),
  };
}

const MESSAGE = trace([
  ['a', null, 'gateway.ws.on_message', 0, 30],
  ['b', 'a', 'gateway.grpc.send_message', 1, 29],
  ['c', 'b', 'logic.chat.send_message', 3, 28],
  ['d', 'c', 'logic.journal.append', 6, 27],
  ['e', 'd', 'journal.append_message', 8, 20],
  ['f', 'e', 'journal.db.save_message', 21, 30],
  ['g', 'e', 'journal.mq.publish', 31, 33],
  ['h', 'g', 'task.mq.consume', 35, 60],
  // task pushes to both gateways; only gateway-2's has the receiver's connection
  ['i1', 'h', 'task.push.gateway', 40, 45],
  ['j1', 'i1', 'gateway.push.deliver', 42, 43],
  ['i2', 'h', 'task.push.gateway', 41, 55],
  ['j2', 'i2', 'gateway.push.deliver', 50, 54],
  ['k', 'j2', 'gateway.ws.push', 52, 53],
  ['l', 'k', 'gateway.ws.delivery_ack', 70, 71],
]);

describe('the per-hop breakdown', () => {
  it('cuts the path to the push into hops that add up to the total', () => {
    const hops = HOPS.map((hop) => [hop.name, hopMs(MESSAGE, hop)]);
    expect(hops).toEqual([
      ['gateway in (on_message → grpc send)', 1],
      ['logic (grpc send → journal append)', 5],
      ['journal append (→ durable)', 14],
      ['projection (append end → mq.publish)', 11],
      ['NATS (publish → consume)', 4],
      // to the deliver of the gateway that pushed to the receiver, not the first one
      ['task (consume → push.deliver)', 15],
      ['push (push.deliver → ws.push end)', 3],
    ]);
    expect(hopMs(MESSAGE, TOTAL_HOP)).toBe(53);
    expect(hopMs(MESSAGE, ACK_RETURN_HOP)).toBe(10);
    expect(hops.reduce((sum, [, ms]) => sum + (ms as number), 0)).toBe(53);
  });

  it('leaves out a hop whose span is missing', () => {
    const partial = { ...MESSAGE, spans: MESSAGE.spans.filter((s) => s.spanID !== 'g') };
    expect(hopMs(partial, HOPS[3]!)).toBeUndefined();
    expect(hopMs(partial, HOPS[4]!)).toBeUndefined();
    expect(hopMs(partial, TOTAL_HOP)).toBe(53);
  });

  it('finds a span whose operation moved to another service by its operation name', () => {
    const moved = {
      ...MESSAGE,
      spans: MESSAGE.spans.map((s) =>
        s.operationName === 'journal.mq.publish'
          ? { ...s, operationName: 'projector.mq.publish' }
          : s,
      ),
    };
    expect(hopMs(moved, HOPS[4]!)).toBe(4);
  });
});

describe('the per-hop breakdown of a message published over MQTT', () => {
  it('takes the PUBLISH span for the sender’s frame span', () => {
    const mqtt = trace([
      ['a', null, 'gateway.mqtt.publish', 0, 30],
      ['b', 'a', 'gateway.grpc.send_message', 1, 29],
      ['c', 'b', 'logic.chat.send_message', 3, 28],
      ['d', 'c', 'logic.journal.append', 6, 27],
      ['e', 'd', 'journal.append_message', 8, 20],
      ['g', 'e', 'journal.mq.publish', 31, 33],
      ['h', 'g', 'task.mq.consume', 35, 60],
      ['i', 'h', 'task.push.gateway', 41, 55],
      ['j', 'i', 'gateway.push.deliver', 50, 54],
      ['k', 'j', 'gateway.ws.push', 52, 53],
    ]);
    expect(hopMs(mqtt, TOTAL_HOP)).toBe(53);
    expect(hopMs(mqtt, HOPS[0]!)).toBe(1);
    expect(hopMs(mqtt, ACK_RETURN_HOP)).toBe(10);
  });
});

describe('the span counters', () => {
  const exposition = [
    '# TYPE tracechat_telemetry_spans_exported_total counter',
    'tracechat_telemetry_spans_exported_total{instance="gateway-1-x",job="gateway"} 120',
    'tracechat_telemetry_spans_exported_total{instance="logic-1",job="logic"} 300',
    'tracechat_telemetry_spans_dropped_total{error_type="queue_full",instance="logic-1",job="logic"} 7',
    'tracechat_telemetry_spans_dropped_total{error_type="export_failed",instance="logic-1",job="logic"} 2',
    'tracechat_telemetry_spans_dropped_total{error_type="queue_full",instance="gateway-1-x",job="gateway"} 0',
    'other_metric{label="a \\"quoted\\" value"} 1.5e3',
  ].join('\n');

  it('parses the Prometheus exposition, labels and values', () => {
    expect(parsePrometheus(exposition).at(-1)).toEqual({
      name: 'other_metric',
      labels: { label: 'a "quoted" value' },
      value: 1500,
    });
  });

  it('reads spans exported and dropped per service instance', async () => {
    const fetchMock = jest
      .spyOn(globalThis, 'fetch')
      .mockResolvedValue(new Response(exposition, { status: 200 }));
    try {
      expect(await serviceSpans('http://collector/metrics')).toEqual([
        {
          instance: 'gateway-1-x',
          service: 'gateway',
          exported: 120,
          droppedQueueFull: 0,
          droppedExportFailed: 0,
        },
        {
          instance: 'logic-1',
          service: 'logic',
          exported: 300,
          droppedQueueFull: 7,
          droppedExportFailed: 2,
        },
      ]);
    } finally {
      fetchMock.mockRestore();
    }
  });
});

describe('latency percentiles', () => {
  it('are nearest-rank over the samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(
      percentile(
        [...samples].sort((a, b) => a - b),
        99,
      ),
    ).toBe(99);
    expect(summarize(samples)).toEqual({
      count: 100,
      p50: 50,
      p90: 90,
      p99: 99,
      max: 100,
      mean: 50.5,
    });
    expect(summarize([])).toMatchObject({ count: 0, p50: null, max: null });
  });
});

describe('the printed report', () => {
  const latency = { count: 10, p50: 2, p90: 3, p99: 4, max: 5, mean: 2.5 };
  const load = (sender: LoadResult['sender']): LoadResult => ({
    mode: 'open',
    sender,
    sessions: 2,
    targetRate: 40,
    inFlight: null,
    warmupSeconds: 1,
    windowSeconds: 3,
    sent: 160,
    acked: 160,
    delivered: 160,
    duplicatePushes: 0,
    window: { sent: 120, acked: 120, delivered: 120 },
    sentPerSecond: 40,
    ackedPerSecond: 40,
    deliveredPerSecond: 40,
    ack: latency,
    push: latency,
    errors: { total: 0, byKind: {} },
  });
  const report = (mqtt: boolean): string => {
    const options = benchOptionsFrom({ rate: 40, sessions: 2, seconds: 3, floors: false, mqtt });
    const run: RunResult = {
      label: 'traced',
      telemetry: true,
      collector: true,
      load: load(mqtt ? 'mqtt' : 'websocket'),
      cpu: null,
      memory: [],
      spans: null,
      hops: null,
      idle: null,
      notes: [],
    };
    const full: BenchReport = {
      options: { ...options, inFlight: options.inFlight ?? null },
      runs: [run],
      ratios: null,
      floors: null,
    };
    return formatReport(full, options);
  };

  it('says the senders publish over MQTT with --mqtt, and names the latency MQTT publish → push', () => {
    const text = report(true);
    expect(text).toContain('senders publish over MQTT 5 QoS 1 to gateway-1');
    expect(text).toContain('MQTT PUBACK ms');
    expect(text).toContain('MQTT publish → WebSocket push ms');
    expect(text).not.toContain('WebSocket send → push');
  });

  it('says both ends are WebSocket without it', () => {
    const text = report(false);
    expect(text).toContain('both WebSocket');
    expect(text).toContain('WebSocket send → push ms');
    expect(text).not.toContain('MQTT');
  });
});
