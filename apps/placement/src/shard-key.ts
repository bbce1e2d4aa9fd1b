const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of the bytes, as an unsigned integer. */
export function fnv1a32(bytes: Uint8Array): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/**
 * The shard of a session: FNV-1a-32 of the session id's UTF-8 bytes, modulo `shardCount`.
 * Pure and stable across processes, versions and platforms, so a session never changes shard
 * while the shard count stays the same.
 */
export function shardOf(sessionId: string, shardCount: number): number {
  return fnv1a32(Buffer.from(sessionId, 'utf8')) % shardCount;
}
