import { open, readFile, readdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { fsyncDirectory, parseSegmentFile } from './layout';
import { OffsetIndex } from './offset-index';
import type { IndexEntry } from './offset-index';
import { ChunkReader, checkAt, scanSegment } from './scan';
import { Segment } from './segment';

/** Damage found while opening a shard and left in place (reads of it fail with CORRUPT_RECORD). */
export interface DamageReport {
  segment: string;
  /** First offset affected. */
  offset: number;
  position: number;
  reason: string;
}

/** What opening a shard found and repaired. */
export interface ShardRecovery {
  shardId: string;
  segments: number;
  nextOffset: number;
  /** Bytes of torn tail cut from the last segment. */
  truncatedBytes: number;
  /** The first problem in the tail that was cut. */
  tailReason?: string;
  /** Index files written anew or completed. */
  rebuiltIndexes: number;
  damaged: DamageReport[];
  /** Index files without a log, deleted. */
  removedFiles: string[];
}

export interface RecoveredShard {
  segments: Segment[];
  nextOffset: number;
  lastTimestamp: number;
  report: ShardRecovery;
}

const MAX_INDEX_PROBES = 8;

/** Creates the files of a new, empty active segment and makes them durable. */
export async function createSegment(dir: string, baseOffset: number): Promise<Segment> {
  const segment = new Segment(dir, baseOffset, 0);
  const log = await open(segment.logPath, 'wx+');
  let indexFile: FileHandle | undefined;
  try {
    indexFile = await open(segment.indexPath, 'wx+');
    await fsyncDirectory(dir);
  } catch (err) {
    await Promise.all([log.close(), indexFile?.close()]);
    throw err;
  }
  segment.activate(log, indexFile, new OffsetIndex(), 0);
  return segment;
}

async function writeIndexFile(path: string, index: OffsetIndex): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.write(index.encode());
    await file.datasync();
  } finally {
    await file.close();
  }
}

async function readIndexFile(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Opens a shard directory and brings it to a consistent state.
 *
 * Every segment is checked from its last index entry (verified against the log) or, when the
 * index is missing or its last entry does not match, from the start; the index is completed or
 * rebuilt from that scan. In the last segment, a damaged record with no valid record anywhere
 * after it is a torn tail (a write cut short by a crash) and is truncated. A damaged record with
 * valid records after it is corruption of acknowledged data: it is left in place and reported,
 * never cut, so nothing valid is ever lost to a truncation. Sealed segments were fsynced before
 * the next one was created, so they are never truncated.
 */
export async function recoverShard(
  dir: string,
  shardId: string,
  indexIntervalBytes: number,
): Promise<RecoveredShard> {
  const report: ShardRecovery = {
    shardId,
    segments: 0,
    nextOffset: 0,
    truncatedBytes: 0,
    rebuiltIndexes: 0,
    damaged: [],
    removedFiles: [],
  };
  const logs: number[] = [];
  const indexes: number[] = [];
  for (const name of await readdir(dir)) {
    const parsed = parseSegmentFile(name);
    if (parsed) (parsed.kind === 'log' ? logs : indexes).push(parsed.baseOffset);
  }
  logs.sort((a, b) => a - b);
  const logSet = new Set(logs);
  const orphans = indexes.filter((base) => !logSet.has(base));
  for (const base of orphans) {
    const segment = new Segment(dir, base, 0);
    await unlink(segment.indexPath);
    report.removedFiles.push(segment.indexPath);
  }
  if (orphans.length > 0) await fsyncDirectory(dir);

  if (logs.length === 0) {
    const segment = await createSegment(dir, 0);
    report.segments = 1;
    return { segments: [segment], nextOffset: 0, lastTimestamp: 0, report };
  }

  const segments: Segment[] = [];
  let nextOffset = 0;
  let lastTimestamp = 0;
  try {
    for (let i = 0; i < logs.length; i++) {
      const segment = new Segment(dir, logs[i], 0);
      const active = i === logs.length - 1;
      const result = await recoverSegment(segment, active, indexIntervalBytes, report);
      segments.push(segment);
      nextOffset = result.nextOffset;
      lastTimestamp = Math.max(lastTimestamp, result.lastTimestamp);
    }
  } catch (err) {
    await Promise.allSettled(segments.map((s) => s.close()));
    throw err;
  }
  report.segments = segments.length;
  report.nextOffset = nextOffset;
  return { segments, nextOffset, lastTimestamp, report };
}

async function recoverSegment(
  segment: Segment,
  active: boolean,
  indexIntervalBytes: number,
  report: ShardRecovery,
): Promise<{ nextOffset: number; lastTimestamp: number }> {
  const log = await open(segment.logPath, active ? 'r+' : 'r');
  try {
    const logSize = (await log.stat()).size;
    const stored = await readIndexFile(segment.indexPath);
    let { index, complete } = stored
      ? OffsetIndex.decode(stored, logSize)
      : { index: new OffsetIndex(), complete: false };
    const reader = new ChunkReader(log, logSize);
    // Start from the last entry that matches the log. Entries past the durable data (the index
    // is written before the log's fsync) are dropped; an index that keeps failing is rebuilt.
    let start: IndexEntry = { relativeOffset: 0, position: 0 };
    for (let tries = 0, last = index.last(); last; tries++, last = index.last()) {
      const check = await checkAt(reader, last.position);
      if (check.status === 'ok' && check.offset === segment.baseOffset + last.relativeOffset) {
        start = last;
        break;
      }
      complete = false;
      if (tries === MAX_INDEX_PROBES) index = new OffsetIndex();
      else index.truncate(index.length - 1);
    }
    const scan = await scanSegment(reader, segment.baseOffset, start, indexIntervalBytes);
    for (const entry of scan.entries) index.add(entry.relativeOffset, entry.position);
    for (const damage of scan.damaged) {
      report.damaged.push({
        segment: segment.logName,
        offset: damage.offset,
        position: damage.position,
        reason: damage.reason,
      });
    }
    let size = logSize;
    if (scan.end < logSize) {
      if (active) {
        await log.truncate(scan.end);
        await log.datasync();
        report.truncatedBytes += logSize - scan.end;
        report.tailReason = scan.tail;
        size = scan.end;
      } else {
        report.damaged.push({
          segment: segment.logName,
          offset: scan.nextOffset,
          position: scan.end,
          reason: scan.tail ?? 'damaged tail',
        });
      }
    }
    if (!complete || scan.entries.length > 0) {
      await writeIndexFile(segment.indexPath, index);
      report.rebuiltIndexes++;
    }
    segment.size = size;
    if (active) {
      const indexFile = await open(segment.indexPath, 'r+');
      segment.activate(log, indexFile, index, scan.bytesSinceEntry);
    } else {
      await log.close();
    }
    return { nextOffset: scan.nextOffset, lastTimestamp: scan.lastTimestamp };
  } catch (err) {
    if (!segment.isActive) await log.close().catch(() => undefined);
    throw err;
  }
}
