import { EnvReader, sharedEnv } from '@tracechat/config';
import { IdRules, isNodeId } from '@tracechat/contracts';
import type { Env, LogLevel } from '@tracechat/config';

export interface JournalConfig {
  readonly nodeId: string;
  readonly grpcAddress: string;
  /** What placement hands to callers; the bound address when unset. */
  readonly advertiseAddress: string;
  readonly dataDir: string;
  readonly placementAddress: string;
  /** SERVICE_SECRET: signs this service's internal-call tokens and checks its callers'. */
  readonly serviceSecret: string;
  readonly healthHost: string;
  readonly healthPort: number;
  readonly segmentBytes: number;
  readonly groupCommitMaxWaitMs: number;
  readonly rpcDeadlineMs: number;
  /** Most records and bytes one Read returns, whatever the caller asks. */
  readonly readMaxRecords: number;
  readonly readMaxBytes: number;
  /** Where the projector writes message rows and its offsets (tables owned by logic's migrations). */
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly natsStream: string;
  readonly natsSubjectPrefix: string;
  /** The stream's limits (NATS_STREAM_MAX_BYTES, NATS_STREAM_MAX_AGE), the same in task. */
  readonly natsStreamLimits: { readonly maxBytes: number; readonly maxAgeMs: number };
  /** How long a client_msg_id is remembered (IDEMPOTENCY_WINDOW, at least the protocol's 24 h). */
  readonly idempotencyWindowMs: number;
  /** Most records one projection transaction takes. */
  readonly projectionBatchRecords: number;
  readonly logLevel: LogLevel;
}

export function loadConfig(env: Env): Readonly<JournalConfig> {
  const r = new EnvReader('journal', env);
  const shared = sharedEnv(r);
  const nodeId = r.string('JOURNAL_NODE_ID', 'journal-1');
  if (!isNodeId(nodeId)) r.problem(`JOURNAL_NODE_ID must be ${IdRules.node}`);
  const grpcAddress = r.address('JOURNAL_GRPC_ADDRESS', '127.0.0.1:50054');
  return r.done({
    nodeId,
    grpcAddress,
    advertiseAddress: r.address('JOURNAL_ADVERTISE_ADDRESS', grpcAddress),
    dataDir: r.string('JOURNAL_DATA_DIR', `./data/${nodeId}`),
    placementAddress: r.address('PLACEMENT_ADDRESS', '127.0.0.1:50053'),
    serviceSecret: shared.serviceSecret(),
    healthHost: r.string('HEALTH_HOST', '127.0.0.1'),
    healthPort: r.int('HEALTH_PORT', 9155, { min: 0, max: 65535 }),
    segmentBytes: r.int('SEGMENT_BYTES', 128 * 1024 * 1024, { min: 4096 }),
    groupCommitMaxWaitMs: r.number('GROUP_COMMIT_MAX_WAIT_MS', 2, { min: 0, max: 1000 }),
    rpcDeadlineMs: r.int('RPC_DEADLINE_MS', 5000, { min: 100 }),
    readMaxRecords: r.int('JOURNAL_READ_MAX_RECORDS', 1000, { min: 1, max: 100_000 }),
    // a full answer stays under gRPC's default 4 MiB receive limit of the caller
    readMaxBytes: r.int('JOURNAL_READ_MAX_BYTES', 3 * 1024 * 1024, {
      min: 4096,
      max: 3 * 1024 * 1024,
    }),
    databaseUrl: shared.databaseUrl(),
    natsUrl: shared.natsUrl(),
    natsStream: shared.natsStream(),
    natsSubjectPrefix: shared.natsSubjectPrefix(),
    natsStreamLimits: shared.natsStreamLimits(),
    idempotencyWindowMs: r.duration('IDEMPOTENCY_WINDOW', 48 * 3600 * 1000, {
      minMs: 24 * 3600 * 1000,
    }),
    projectionBatchRecords: r.int('PROJECTION_BATCH_RECORDS', 500, { min: 1, max: 10_000 }),
    logLevel: shared.logLevel(),
  });
}
