// The floors: what the same machine does with nothing of tracechat in the way, measured in the
// same run as the stack so the two compare. (a) the bench's own load, closed loop, against a
// no-op WebSocket server in a child process; (b) a bare @grpc/grpc-js bidi stream to a child
// process echoing 200-byte payloads, 64 in flight.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import type { Client, ClientDuplexStream } from '@grpc/grpc-js';
import { ECHO_SERVICE } from './floor-grpc-server';
import { runLoad } from './load';
import type { LoadResult } from './load';
import { round } from './stats';

export interface Floors {
  readonly ws: LoadResult | null;
  readonly grpc: {
    readonly messagesPerSecond: number | null;
    readonly payloadBytes: number;
    readonly inFlight: number;
    readonly seconds: number;
  } | null;
  readonly notes: string[];
}

/** Starts a floor server (a script beside this file) and resolves with it and its port. */
async function startChild(script: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(__dirname, script)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 10_000);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return { child, port };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

export async function wsFloor(options: {
  readonly sessions: number;
  readonly inFlight: number;
  readonly seconds: number;
  readonly warmup: number;
}): Promise<LoadResult> {
  const { child, port } = await startChild('floor-ws-server.js');
  try {
    const url = `ws://127.0.0.1:${port}/ws`;
    const { result } = await runLoad(
      {
        senderUrl: url,
        receiverUrl: url,
        run: randomBytes(4).toString('hex'),
        token: () => undefined,
      },
      {
        sessions: options.sessions,
        rate: 0,
        inFlight: options.inFlight,
        seconds: options.seconds,
        warmup: options.warmup,
        drainSeconds: 2,
      },
    );
    return result;
  } finally {
    await stopChild(child);
  }
}

/** Round trips per second over one bidi stream kept `inFlight` messages deep. */
export async function grpcFloor(options: {
  readonly payloadBytes: number;
  readonly inFlight: number;
  readonly seconds: number;
  readonly warmup: number;
}): Promise<number> {
  const { child, port } = await startChild('floor-grpc-server.js');
  const Floor = makeGenericClientConstructor(ECHO_SERVICE, 'Floor');
  const client = new Floor(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
  ) as unknown as Client & {
    echo(): ClientDuplexStream<Buffer, Buffer>;
  };
  try {
    const payload = randomBytes(options.payloadBytes);
    const call = client.echo();
    let echoes = 0;
    let running = true;
    call.on('data', () => {
      echoes++;
      if (running) call.write(payload);
    });
    const failed = new Promise<never>((_, reject) => call.on('error', reject));
    for (let i = 0; i < options.inFlight; i++) call.write(payload);
    const wait = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));
    await Promise.race([wait(options.warmup), failed]);
    const from = echoes;
    const startedAt = performance.now();
    await Promise.race([wait(options.seconds), failed]);
    const rate = ((echoes - from) * 1000) / (performance.now() - startedAt);
    running = false;
    call.end();
    call.on('error', () => undefined);
    return rate;
  } finally {
    client.close();
    await stopChild(child);
  }
}

export async function measureFloors(log: (line: string) => void): Promise<Floors> {
  const notes: string[] = [];
  let ws: Floors['ws'] = null;
  let grpc: Floors['grpc'] = null;
  const wsOptions = { sessions: 4, inFlight: 32, seconds: 3, warmup: 1 };
  log('floor: no-op WebSocket server, closed loop 4 sessions × 32 in flight');
  try {
    ws = await wsFloor(wsOptions);
  } catch (err) {
    notes.push(`WebSocket floor failed: ${(err as Error).message}`);
  }
  const grpcOptions = { payloadBytes: 200, inFlight: 64, seconds: 3, warmup: 0.5 };
  log('floor: bare gRPC bidi stream, 200-byte payloads, 64 in flight');
  try {
    grpc = { ...grpcOptions, messagesPerSecond: round(await grpcFloor(grpcOptions), 0) };
  } catch (err) {
    notes.push(`gRPC floor failed: ${(err as Error).message}`);
  }
  return { ws, grpc, notes };
}
