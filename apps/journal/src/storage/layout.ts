import { open } from 'node:fs/promises';
import { IdRules, isShardId } from '@tracechat/contracts';
import { InvalidArgumentError } from './errors';

/** `<dataDir>/shards/<shardId>/` holds a shard's segments. */
export const SHARDS_DIR = 'shards';
export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';

const SEGMENT_FILE = /^(\d{20})\.(log|index)$/;

export const isValidShardId = isShardId;

/** Shard ids become directory names, so only their own alphabet is accepted. */
export function assertShardId(shardId: unknown): asserts shardId is string {
  if (!isValidShardId(shardId)) {
    throw new InvalidArgumentError(
      `invalid shard id ${JSON.stringify(shardId)}: expected ${IdRules.shard}`,
    );
  }
}

/** A segment's files are named by its base offset, zero-padded to 20 digits. */
export function segmentStem(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

export function parseSegmentFile(
  name: string,
): { baseOffset: number; kind: 'log' | 'index' } | undefined {
  const match = SEGMENT_FILE.exec(name);
  if (!match) return undefined;
  const baseOffset = Number(match[1]);
  if (!Number.isSafeInteger(baseOffset)) return undefined;
  return { baseOffset, kind: match[2] as 'log' | 'index' };
}

/** Makes a directory's entries (new or removed files) durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
