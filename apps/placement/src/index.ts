export { MAX_SHARD_COUNT, loadConfig } from './config';
export type { PlacementConfig } from './config';
export { PlacementError, PlacementErrorCode } from './errors';
export { buildPlacement } from './server';
export type { Placement } from './server';
export { fnv1a32, shardOf } from './shard-key';
