import { crc32c } from './crc32c';

/**
 * One record on disk, all integers big-endian:
 *
 *   0   u32  length      bytes that follow the CRC field: 16 + payload length
 *   4   u32  crc         CRC-32C of the `length` bytes from position 8 (offset, timestamp, payload)
 *   8   u64  offset      position of the record in its shard, from 0, +1 per record
 *   16  u64  timestamp   milliseconds since the Unix epoch
 *   24  payload          u16 session id byte length, session id (UTF-8), data
 *
 * Offsets and timestamps are JavaScript numbers, so values above 2^53 - 1 count as corrupt.
 */
export const LENGTH_FIELDS_BYTES = 8;
export const RECORD_HEADER_BYTES = 24;
export const SESSION_ID_LENGTH_BYTES = 2;
/** Smallest possible record: a header, an empty session id and no data. */
export const MIN_RECORD_BYTES = RECORD_HEADER_BYTES + SESSION_ID_LENGTH_BYTES;
const MIN_LENGTH = MIN_RECORD_BYTES - LENGTH_FIELDS_BYTES;
/** Longest `length` field accepted when reading; anything larger is damage, not data. */
export const MAX_LENGTH = 256 * 1024 * 1024;
/** Longest session id, in UTF-8 bytes. */
export const MAX_SESSION_ID_BYTES = 1024;

/** A record as appended. */
export interface AppendRecord {
  sessionId: string;
  data: Uint8Array;
}

/** A record as read back. `data` may share memory with other records of the same read. */
export interface JournalRecord {
  offset: number;
  /** Milliseconds since the Unix epoch, set by the journal when the record's batch was written. */
  timestamp: number;
  sessionId: string;
  data: Buffer;
}

const TWO_32 = 2 ** 32;
const MAX_SAFE_HIGH = Math.floor(Number.MAX_SAFE_INTEGER / TWO_32);

/** Reads a u64 as a number; -1 when it does not fit a safe integer. */
export function readU64(buf: Buffer, at: number): number {
  const high = buf.readUInt32BE(at);
  if (high > MAX_SAFE_HIGH) return -1;
  return high * TWO_32 + buf.readUInt32BE(at + 4);
}

function writeU64(buf: Buffer, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  buf.writeUInt32BE(high, at);
  buf.writeUInt32BE(value - high * TWO_32, at + 4);
}

export function recordBytes(sessionIdBytes: number, dataBytes: number): number {
  return MIN_RECORD_BYTES + sessionIdBytes + dataBytes;
}

/**
 * Encodes records for an append, before its offsets are known: lengths, payloads, and zeros
 * where `stampRecords` later writes offset, timestamp and CRC. Copies the caller's bytes, so
 * they may change once `append` returns.
 */
export function encodeRecords(
  records: readonly AppendRecord[],
  sessionIdBytes: readonly number[],
  totalBytes: number,
): Buffer {
  const out = Buffer.allocUnsafe(totalBytes);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const { sessionId, data } = records[i];
    const idBytes = sessionIdBytes[i];
    const size = recordBytes(idBytes, data.length);
    out.writeUInt32BE(size - LENGTH_FIELDS_BYTES, at);
    out.writeUInt16BE(idBytes, at + RECORD_HEADER_BYTES);
    out.write(sessionId, at + MIN_RECORD_BYTES, idBytes, 'utf8');
    out.set(data, at + MIN_RECORD_BYTES + idBytes);
    at += size;
  }
  return out;
}

/** Size of the encoded record at `at`, from its length field. */
export function encodedSize(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) + LENGTH_FIELDS_BYTES;
}

/** Fills in offset, timestamp and CRC of an encoded record; returns its size. */
export function stampRecord(buf: Buffer, at: number, offset: number, timestamp: number): number {
  const size = encodedSize(buf, at);
  writeU64(buf, at + 8, offset);
  writeU64(buf, at + 16, timestamp);
  buf.writeUInt32BE(crc32c(buf, at + LENGTH_FIELDS_BYTES, at + size), at + 4);
  return size;
}

export type RecordCheck =
  | { status: 'ok'; size: number; offset: number; timestamp: number }
  /** Fewer than `need` bytes were available from `at`. */
  | { status: 'short'; need: number }
  | { status: 'invalid'; reason: string };

/** Validates the record at `at`, given `available` bytes of `buf` from there. */
export function checkRecord(buf: Buffer, at: number, available: number): RecordCheck {
  if (available < LENGTH_FIELDS_BYTES) return { status: 'short', need: LENGTH_FIELDS_BYTES };
  const length = buf.readUInt32BE(at);
  if (length < MIN_LENGTH || length > MAX_LENGTH) {
    return { status: 'invalid', reason: `implausible length ${length}` };
  }
  const size = length + LENGTH_FIELDS_BYTES;
  if (available < size) return { status: 'short', need: size };
  if (crc32c(buf, at + LENGTH_FIELDS_BYTES, at + size) !== buf.readUInt32BE(at + 4)) {
    return { status: 'invalid', reason: 'CRC32C mismatch' };
  }
  const offset = readU64(buf, at + 8);
  const timestamp = readU64(buf, at + 16);
  if (offset < 0 || timestamp < 0)
    return { status: 'invalid', reason: 'offset or timestamp out of range' };
  if (buf.readUInt16BE(at + RECORD_HEADER_BYTES) > size - MIN_RECORD_BYTES) {
    return { status: 'invalid', reason: 'session id longer than the record' };
  }
  return { status: 'ok', size, offset, timestamp };
}

/** Decodes a record that `checkRecord` accepted; `data` is a view into `buf`. */
export function decodeRecord(buf: Buffer, at: number, size: number): JournalRecord {
  const idBytes = buf.readUInt16BE(at + RECORD_HEADER_BYTES);
  const idAt = at + MIN_RECORD_BYTES;
  return {
    offset: readU64(buf, at + 8),
    timestamp: readU64(buf, at + 16),
    sessionId: buf.toString('utf8', idAt, idAt + idBytes),
    data: buf.subarray(idAt + idBytes, at + size),
  };
}
