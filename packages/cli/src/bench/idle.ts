// Memory of an idle connection: gateway-1's memory before and after N authenticated WebSocket
// connections that send nothing. Each figure is read twice: as the process's resident memory
// once it has settled, and after a full garbage collection asked for through the gateway's
// inspector (loopback only, opened for this measurement), which leaves out the garbage of
// opening the connections and counts what they hold.
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { ChatClient } from '@tracechat/client';
import { rssKb } from './procstat';
import { mapLimit, round } from './stats';

export interface IdleResult {
  readonly connections: number;
  readonly opened: number;
  readonly rssBeforeKb: number | null;
  readonly rssAfterKb: number | null;
  /** Resident memory per connection, garbage of opening them included. */
  readonly kbPerConnection: number | null;
  /** Resident memory per connection after a full collection before and after. */
  readonly collectedKbPerConnection: number | null;
  /** V8 heap in use per connection after a full collection before and after. */
  readonly heapKbPerConnection: number | null;
  readonly errors: number;
}

/**
 * Waits until RSS stops moving: the last 4 readings, 500 ms apart, within 1 % (at least 256 KiB)
 * of each other, or 15 s; resolves with their median.
 */
export async function settledRssKb(pid: () => number | undefined): Promise<number | null> {
  const readings: number[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const kb = rssKb(pid());
    if (kb === undefined) return null;
    readings.push(kb);
    const last = readings.slice(-4);
    if (last.length === 4) {
      const spread = Math.max(...last) - Math.min(...last);
      if (spread <= Math.max(256, 0.01 * Math.max(...last)) || Date.now() > deadline)
        return [...last].sort((a, b) => a - b)[1]!;
    }
    await sleep(500);
  }
}

interface Collected {
  readonly rssKb: number;
  readonly heapUsedKb: number;
}

/** One DevTools protocol call to the inspector at `port`. */
async function inspectorCall(port: number, method: string, params: object = {}): Promise<unknown> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), 30_000);
      ws.on('message', (data) => {
        const reply = JSON.parse(String(data)) as {
          id?: number;
          result?: unknown;
          error?: unknown;
        };
        if (reply.id !== 1) return;
        clearTimeout(timer);
        if (reply.error) reject(new Error(`${method}: ${JSON.stringify(reply.error)}`));
        else resolve(reply.result);
      });
      ws.send(JSON.stringify({ id: 1, method, params }));
    });
  } finally {
    ws.close();
  }
}

/** RSS and heap in use right after a full collection; null when the inspector is not there. */
async function collected(
  port: number | undefined,
  pid: () => number | undefined,
): Promise<Collected | null> {
  if (port === undefined) return null;
  try {
    await inspectorCall(port, 'HeapProfiler.collectGarbage');
    const result = (await inspectorCall(port, 'Runtime.evaluate', {
      expression: 'process.memoryUsage().heapUsed',
      returnByValue: true,
    })) as { result: { value: number } };
    const rss = rssKb(pid());
    return rss === undefined ? null : { rssKb: rss, heapUsedKb: result.result.value / 1024 };
  } catch {
    return null;
  }
}

export async function measureIdleConnections(options: {
  readonly url: string;
  readonly connections: number;
  readonly pid: () => number | undefined;
  /** The gateway's inspector port, for the figures after a full collection. */
  readonly inspectorPort?: number;
  readonly token: (user: string) => string;
  readonly run: string;
  readonly log?: (line: string) => void;
}): Promise<IdleResult> {
  const before = await settledRssKb(options.pid);
  const collectedBefore = await collected(options.inspectorPort, options.pid);
  const clients: ChatClient[] = [];
  let errors = 0;
  try {
    await mapLimit(
      Array.from({ length: options.connections }, (_, i) => i),
      16,
      async (i) => {
        try {
          const token = options.token(`idle-${i}-${options.run}`);
          clients.push(await ChatClient.connect(options.url, { token, timeoutMs: 15_000 }));
        } catch {
          errors++;
        }
        if ((i + 1) % 1000 === 0) options.log?.(`idle connections: ${i + 1} opened`);
      },
    );
    const after = await settledRssKb(options.pid);
    const collectedAfter = await collected(options.inspectorPort, options.pid);
    const opened = clients.length;
    const per = (a: number | null | undefined, b: number | null | undefined) =>
      a != null && b != null && opened > 0 ? round((b - a) / opened, 2) : null;
    return {
      connections: options.connections,
      opened,
      rssBeforeKb: before,
      rssAfterKb: after,
      kbPerConnection: per(before, after),
      collectedKbPerConnection: per(collectedBefore?.rssKb, collectedAfter?.rssKb),
      heapKbPerConnection: per(collectedBefore?.heapUsedKb, collectedAfter?.heapUsedKb),
      errors,
    };
  } finally {
    await mapLimit(clients, 64, (c) => c.close());
  }
}
