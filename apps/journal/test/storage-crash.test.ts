import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { JournalStore } from '../src/storage';
import type { JournalRecord, JournalStoreOptions } from '../src/storage';
import { codeOf, ensureBuilt, tempDir } from './fixtures/storage-kit';

const WORKER = join(__dirname, 'fixtures', 'append-worker.js');
const SHARDS = ['a', 'b'];
const OPTIONS: JournalStoreOptions = { segmentBytes: 256 * 1024, indexIntervalBytes: 4096 };

jest.setTimeout(120_000);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest();

/** Data that carries its own checksum, as the worker writes it. */
function selfChecked(): Buffer {
  const body = randomBytes(100);
  return Buffer.concat([sha256(body), body]);
}

interface Ack {
  type: 'ack';
  shard: string;
  offset: number;
  digest: string;
}

/** Starts the worker, lets it append for `runMs` after it is ready, kills it with SIGKILL. */
function runAndKill(dataDir: string, runMs: number): Promise<{ acks: Ack[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [WORKER, dataDir, JSON.stringify({ shards: SHARDS, concurrency: 16, options: OPTIONS })],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!timer && stdout.includes('"ready"')) {
        timer = setTimeout(() => child.kill('SIGKILL'), runMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`worker ended by itself (code ${code}): ${stderr}`));
        return;
      }
      // Only whole lines count: a line cut by the kill was never a complete acknowledgement.
      const lines = stdout.split('\n').slice(0, -1);
      const acks = lines
        .map((l) => JSON.parse(l) as { type: string })
        .filter((m): m is Ack => m.type === 'ack');
      resolve({ acks, stderr });
    });
  });
}

async function readAll(store: JournalStore, shard: string): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  const { nextOffset } = store.info(shard);
  while (out.length < nextOffset) {
    const page = await store.read(shard, out.length, { maxRecords: 500 });
    expect(page.length).toBeGreaterThan(0);
    out.push(...page);
  }
  return out;
}

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(() => ensureBuilt());

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('journal-crash-'));
});

afterEach(() => cleanup());

describe('crash recovery with a real process', () => {
  it('SIGKILL mid-stream, 3 times — every acknowledged append survives, nothing else is served, offsets continue', async () => {
    const acked = new Map<string, Map<number, string>>(SHARDS.map((s) => [s, new Map()]));

    for (let cycle = 0; cycle < 3; cycle++) {
      const { acks, stderr } = await runAndKill(dir, 700 + Math.floor(Math.random() * 600));
      expect(stderr).toBe('');
      expect(acks.length).toBeGreaterThan(50);
      for (const ack of acks) {
        const seen = acked.get(ack.shard)!;
        expect(seen.has(ack.offset)).toBe(false);
        seen.set(ack.offset, ack.digest);
      }

      const store = await JournalStore.open(dir, OPTIONS);
      try {
        for (const shard of SHARDS) {
          const records = await readAll(store, shard);
          const { nextOffset } = store.info(shard);

          // Dense offsets, every record intact (acknowledged or written just before the kill).
          expect(records.map((r) => r.offset)).toEqual([...Array(nextOffset).keys()]);
          const damaged = records.filter(
            (r) => !sha256(r.data.subarray(32)).equals(r.data.subarray(0, 32)),
          );
          expect(damaged.map((r) => r.offset)).toEqual([]);

          // Every acknowledged record is there, with its bytes.
          const mismatched: number[] = [];
          for (const [offset, digest] of acked.get(shard)!) {
            if (offset >= nextOffset || sha256(records[offset].data).toString('hex') !== digest) {
              mismatched.push(offset);
            }
          }
          expect(mismatched).toEqual([]);

          // Nothing past the durable end.
          expect(await store.read(shard, nextOffset)).toEqual([]);
          expect(await codeOf(store.read(shard, nextOffset + 1))).toBe('OFFSET_OUT_OF_RANGE');

          // New appends continue right at the end.
          const data = [selfChecked(), selfChecked(), selfChecked()];
          const result = await store.append(
            shard,
            data.map((d) => ({ sessionId: 'after-crash', data: d })),
          );
          expect(result.firstOffset).toBe(nextOffset);
          data.forEach((d, i) => acked.get(shard)!.set(nextOffset + i, sha256(d).toString('hex')));
        }
      } finally {
        await store.close();
      }
    }

    const store = await JournalStore.open(dir, OPTIONS);
    try {
      for (const shard of SHARDS) {
        expect(store.info(shard).segmentCount).toBeGreaterThan(1);
        const records = await readAll(store, shard);
        for (const [offset, digest] of acked.get(shard)!) {
          expect(sha256(records[offset].data).toString('hex')).toBe(digest);
        }
      }
    } finally {
      await store.close();
    }
  });
});
