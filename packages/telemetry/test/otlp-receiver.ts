import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** What bench/receiver.js has been sent since it started (or was reset). */
export interface ReceivedCounts {
  spans: number;
  traceRequests: number;
  protobufRequests: number;
  jsonRequests: number;
  metricRequests: number;
  /** requests it could not decode */
  errors: number;
  names: Record<string, number>;
}

export interface OtlpReceiver {
  /** Base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly url: string;
  counts(): Promise<ReceivedCounts>;
  stop(): Promise<void>;
}

function reply<T>(proc: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type: string } & T) => {
      if (msg.type !== type) return;
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      resolve(msg);
    };
    const onExit = (code: number | null) => reject(new Error(`receiver exited with ${code}`));
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

/** Starts the benchmark's OTLP/HTTP receiver in its own process. */
export async function startReceiver(): Promise<OtlpReceiver> {
  const proc = fork(join(__dirname, '..', 'bench', 'receiver.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await reply<{ port: number }>(proc, 'ready');
  return {
    url: `http://127.0.0.1:${port}`,
    counts: async () => {
      const answer = reply<{ counts: ReceivedCounts }>(proc, 'report');
      proc.send({ type: 'report' });
      return (await answer).counts;
    },
    stop: async () => {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill();
      await exited;
    },
  };
}
