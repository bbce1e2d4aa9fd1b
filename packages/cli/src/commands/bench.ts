// `tracechat bench [--senders 8] [--messages 200] [--no-collector]` (`pnpm bench …`): starts a
// stack of its own on free ports (its own database, stream, Redis keys and journal folder), drives
// chat traffic through both gateways and prints ack latency, end-to-end delivery latency,
// throughput and the memory of every process. Bounded: it sends `senders × messages` messages and
// stops.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ChatClient } from '@tracechat/client';
import type { Frame } from '@tracechat/client';
import { DEV_AUTH_SECRET, signToken } from '@tracechat/contracts';
import { startIsolatedStack } from '../isolated';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function rssMiB(pid: number | undefined): string {
  if (!pid) return '-';
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return (kb / 1024).toFixed(0);
  } catch {
    return '-';
  }
}

export async function bench(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      senders: { type: 'string', default: '8' },
      messages: { type: 'string', default: '200' },
      'no-collector': { type: 'boolean', default: false },
    },
  });
  const senders = Number(values.senders);
  const perSender = Number(values.messages);
  const stack = await startIsolatedStack({
    databaseBaseUrl: process.env.TEST_DATABASE_BASE_URL || undefined,
    environment: 'test',
    collector: !values['no-collector'],
    spanExportDelayMs: 1000,
  });
  const clients: ChatClient[] = [];
  const connect = async (name: string, gateway: 1 | 2) => {
    const token = signToken(`${name}-${stack.namespace.run}`, DEV_AUTH_SECRET);
    const client = await ChatClient.connect(stack.gatewayUrls[gateway - 1], { token });
    clients.push(client);
    return client;
  };
  try {
    const room = `bench-${stack.namespace.run}`;
    const writers: ChatClient[] = [];
    for (let i = 0; i < senders; i++) writers.push(await connect(`w${i}`, i % 2 === 0 ? 1 : 2));
    const reader = await connect('reader', 2);
    for (const c of [...writers, reader])
      await c.request({ type: 'join', session: room, public: true });

    const sentAt = new Map<string, number>();
    const deliveries: number[] = [];
    const total = senders * perSender;
    let delivered = 0;
    const allDelivered = new Promise<void>((resolve) => {
      reader.socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type !== 'message') return;
        const start = sentAt.get(String(frame.message_id));
        if (start !== undefined) deliveries.push(performance.now() - start);
        reader.send({
          type: 'received',
          message_id: frame.message_id,
          traceparent: frame.traceparent,
        });
        if (++delivered === total) resolve();
      });
    });
    const acks: number[] = [];
    const started = performance.now();
    await Promise.all(
      writers.map(async (c, i) => {
        for (let n = 0; n < perSender; n++) {
          const t0 = performance.now();
          const ack = await c.request(
            { type: 'send', session: room, text: `bench ${i}:${n} ${'x'.repeat(100)}` },
            30_000,
          );
          if (ack.type !== 'ack') throw new Error(`send failed: ${JSON.stringify(ack)}`);
          acks.push(performance.now() - t0);
          sentAt.set(String(ack.message_id), t0);
        }
      }),
    );
    const sendSeconds = (performance.now() - started) / 1000;
    await Promise.race([allDelivered, new Promise((r) => setTimeout(r, 60_000))]);
    const allSeconds = (performance.now() - started) / 1000;
    acks.sort((a, b) => a - b);
    deliveries.sort((a, b) => a - b);
    const f = (x: number) => x.toFixed(1).padStart(8);
    console.log(
      `\ntracechat bench: ${senders} senders × ${perSender} messages, 1 reader, collector ${values['no-collector'] ? 'off' : 'on'}`,
    );
    console.log(`                          p50 ms   p90 ms   p99 ms   max ms`);
    console.log(
      `ack (send → ack)       ${f(percentile(acks, 50))} ${f(percentile(acks, 90))} ${f(percentile(acks, 99))} ${f(acks[acks.length - 1] ?? NaN)}`,
    );
    console.log(
      `delivery (send → push) ${f(percentile(deliveries, 50))} ${f(percentile(deliveries, 90))} ${f(percentile(deliveries, 99))} ${f(deliveries[deliveries.length - 1] ?? NaN)}`,
    );
    console.log(
      `throughput: ${(total / sendSeconds).toFixed(0)} messages/s acked, ${delivered}/${total} delivered in ${allSeconds.toFixed(1)} s`,
    );
    console.log(
      `memory (RSS MiB): ${[...stack.processes].map(([name, p]) => `${name} ${rssMiB(p.pid)}`).join(', ')}`,
    );
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await stack.remove();
  }
}
