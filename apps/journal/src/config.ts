import { EnvReader } from '@tracechat/config';
import type { Env } from '@tracechat/config';

export interface JournalConfig {
  readonly nodeId: string;
  readonly grpcAddress: string;
  /** What placement hands to callers; the bound address when unset. */
  readonly advertiseAddress: string;
  readonly dataDir: string;
  readonly placementAddress: string;
  readonly healthHost: string;
  readonly healthPort: number;
  readonly segmentBytes: number;
  readonly groupCommitMaxWaitMs: number;
  readonly rpcDeadlineMs: number;
  readonly logLevel: string;
}

export function loadConfig(env: Env): Readonly<JournalConfig> {
  const r = new EnvReader('journal', env);
  const nodeId = r.string('JOURNAL_NODE_ID', 'journal-1');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) r.problem('JOURNAL_NODE_ID must be 1-64 letters, digits, _ or -');
  const grpcAddress = r.address('JOURNAL_GRPC_ADDRESS', '127.0.0.1:50054');
  return r.done({
    nodeId,
    grpcAddress,
    advertiseAddress: r.address('JOURNAL_ADVERTISE_ADDRESS', grpcAddress),
    dataDir: r.string('JOURNAL_DATA_DIR', `./data/${nodeId}`),
    placementAddress: r.address('PLACEMENT_ADDRESS', '127.0.0.1:50053'),
    healthHost: r.string('HEALTH_HOST', '127.0.0.1'),
    healthPort: r.int('HEALTH_PORT', 9155, { min: 0, max: 65535 }),
    segmentBytes: r.int('SEGMENT_BYTES', 128 * 1024 * 1024, { min: 4096 }),
    groupCommitMaxWaitMs: r.number('GROUP_COMMIT_MAX_WAIT_MS', 2, { min: 0, max: 1000 }),
    rpcDeadlineMs: r.int('RPC_DEADLINE_MS', 5000, { min: 100 }),
    logLevel: r.string('LOG_LEVEL', 'info'),
  });
}
